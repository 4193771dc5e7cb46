# expect: wrong (allows fork)
# Double fork and try to leave the session, then outlive the job. The test
# checks that no process of this run is alive afterwards.
import os, time
if os.fork() == 0:
    try:
        os.setsid()
    except OSError:
        pass
    if os.fork() == 0:
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(1000)
    os._exit(0)
print("parent done")
