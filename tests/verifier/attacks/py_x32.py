# expect: denied
# An x32 system call number (bit 30 set): getpid for the x32 ABI.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(0x40000000 | 39)
print("ESCAPED")
