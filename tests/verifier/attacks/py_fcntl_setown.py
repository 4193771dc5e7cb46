# expect: denied
# Make the kernel signal process 1 on I/O.
import fcntl, os
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETOWN, 1)
print("ESCAPED")
