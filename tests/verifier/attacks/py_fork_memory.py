# expect: denied
# Many processes, each under its own RLIMIT_AS, would together pass the
# job's memory cap: fork is denied by default (threads share one address space).
import os
for _ in range(8):
    if os.fork() == 0:
        x = bytearray(100 << 20)
        os._exit(0)
print("ESCAPED")
