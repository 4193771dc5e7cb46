# expect: runtime_error
# A shell runs, but inside the same walls.
import subprocess
print(subprocess.check_output(["/bin/sh", "-c", "cat /etc/shadow || ls /root"]).decode())
print("ESCAPED")
