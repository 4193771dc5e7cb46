# expect: denied
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(128)
libc.syscall(321, 0, attr, 128)  # bpf(BPF_MAP_CREATE)
print("ESCAPED")
