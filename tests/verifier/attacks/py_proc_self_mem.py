# expect: runtime_error (needs: filesystem)
with open("/proc/self/mem", "r+b") as f:
    f.seek(0x400000)
    f.write(b"\x90")
print("ESCAPED")
