# expect: denied
# Let any process ptrace us (PR_SET_PTRACER, PR_SET_PTRACER_ANY).
import ctypes
libc = ctypes.CDLL(None)
libc.prctl(0x59616d61, ctypes.c_ulong(2**64 - 1), 0, 0, 0)
print("ESCAPED")
