# expect: runtime_error timeout output_limit (allows fork)
# A fork bomb: RLIMIT_NPROC stops it, the pid namespace (or the group kill) reaps it.
import os
while True:
    os.fork()
