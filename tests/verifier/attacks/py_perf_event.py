# expect: denied
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(128)
libc.syscall(298, attr, 0, -1, -1, 0)  # perf_event_open
print("ESCAPED")
