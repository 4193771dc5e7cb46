# expect: denied
import os
os.setuid(0)
print("ESCAPED")
