# expect: denied
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall(250, 0, -3, 0)  # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING)
print("ESCAPED")
