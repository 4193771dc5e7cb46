# expect: denied
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.unshare(0x10000000)  # CLONE_NEWUSER
print("ESCAPED")
