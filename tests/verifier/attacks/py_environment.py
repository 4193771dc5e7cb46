# expect: wrong
# Only what the sandbox sets may be in the environment, and no fd beyond 0-2.
import os
allowed = {"PATH", "HOME", "TMPDIR", "LANG", "LC_CTYPE", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED", "REASONER_ATTACK_MARK"}
leaks = sorted(set(os.environ) - allowed)
fds = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
print("ESCAPED" if leaks or fds else "clean", leaks, fds)
