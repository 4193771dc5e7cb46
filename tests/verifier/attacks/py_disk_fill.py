# expect: runtime_error
# RLIMIT_FSIZE (Python ignores SIGXFSZ, so the write fails) or a full /work.
chunk = b"z" * (1 << 20)
with open("fill", "wb") as f:
    while True:
        f.write(chunk)
        f.flush()
