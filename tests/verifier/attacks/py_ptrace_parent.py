# expect: denied
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace(16, os.getppid(), 0, 0)  # PTRACE_ATTACH
print("ESCAPED")
