# A correct function that also floods the pipe: its passes must still count.
# expect: pass
import os

os.write(4, b"z" * (2 << 20) + b"\n" + b"w" * 4096)


def add(a, b):
    return a + b
