# expect: wrong (needs: filesystem)
# Look for anything of the host beyond the system dirs.
import os
found = []
for p in ["/etc/passwd", "/etc/hostname", "/etc/shadow", "/root", "/home", "/proc/1/environ", "/proc/self/environ",
          "/sys/kernel", "/var/log", "/run", "/boot", "/mnt", "/srv", "/opt", "../.."]:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read(1)
        found.append(p)
    except OSError:
        pass
print("ESCAPED" if found else "contained", found)
