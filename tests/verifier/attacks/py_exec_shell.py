# expect: denied
# A shell through fork and exec: fork is denied by default (threads only), and so would be the exec.
import subprocess
print(subprocess.check_output(["/bin/sh", "-c", "cat /etc/shadow || ls /root"]).decode())
print("ESCAPED")
