# expect: memory
b = bytearray(10 ** 11)
print("ESCAPED")
