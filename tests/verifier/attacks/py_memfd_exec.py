# expect: denied
# A binary that was never on disk, run from a memfd.
import os
fd = os.memfd_create("x", 0)
with open("/bin/true", "rb") as f:
    os.write(fd, f.read())
os.execve(fd, ["true"], {})
print("ESCAPED")
