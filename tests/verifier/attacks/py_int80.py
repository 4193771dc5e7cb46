# expect: denied
# The 32-bit entry point from executable memory: mov eax, 20 (getpid); int 0x80; ret
import ctypes, mmap
code = b"\xb8\x14\x00\x00\x00\xcd\x80\xc3"
m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
m.write(code)
addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
print(ctypes.CFUNCTYPE(ctypes.c_int)(addr)())
print("ESCAPED")
