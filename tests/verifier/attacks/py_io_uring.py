# expect: denied
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
libc.syscall(425, 8, params)  # io_uring_setup
print("ESCAPED")
