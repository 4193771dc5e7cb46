# expect: runtime_error timeout
# Inodes: /work has a bounded number.
import os
os.mkdir("d")
i = 0
while True:
    open("d/%d" % i, "w").close()
    i += 1
