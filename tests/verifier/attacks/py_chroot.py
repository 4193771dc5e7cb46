# expect: denied
import os
os.chroot(".")
print("ESCAPED")
