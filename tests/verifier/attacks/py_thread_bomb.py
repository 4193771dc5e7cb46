# expect: runtime_error memory
# Threads count against RLIMIT_NPROC (and address space): creation fails.
import threading, time
while True:
    threading.Thread(target=time.sleep, args=(100,), daemon=True).start()
