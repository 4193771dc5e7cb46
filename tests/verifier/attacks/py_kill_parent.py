# expect: runtime_error
# Kill whoever is above, then everything we may signal.
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
except OSError:
    pass
os.kill(-1, signal.SIGKILL)
print("ESCAPED")
