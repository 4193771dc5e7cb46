# expect: timeout
# No CPU used: only the wall clock catches it.
import time
time.sleep(10 ** 6)
