# expect: memory
blocks = []
while True:
    blocks.append(bytearray(10 ** 7))
