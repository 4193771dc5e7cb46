# expect: runtime_error memory
# Recursion through C calls (map) with Python's guard lifted: the C stack
# overflows and the interpreter dies of SIGSEGV.
import sys
sys.setrecursionlimit(10 ** 8)
def f():
    return list(map(lambda _: f(), [0]))
f()
