# expect: output_limit
import sys
while True:
    sys.stderr.write("y" * 1000 + "\n")
