# expect: wrong (needs: filesystem)
# The test checks the host side: none of these may appear there.
import os
for p in ["/tmp/reasoner-attack-pwned", "/var/tmp/reasoner-attack-pwned", "/usr/reasoner-attack-pwned",
          "/reasoner-attack-pwned", "/dev/shm/reasoner-attack-pwned", "/etc/reasoner-attack-pwned",
          "../reasoner-attack-pwned", os.path.expanduser("~/../reasoner-attack-pwned")]:
    try:
        with open(p, "w") as f:
            f.write("pwned")
    except OSError:
        pass
print("done")
