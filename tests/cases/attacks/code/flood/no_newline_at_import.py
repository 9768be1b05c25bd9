# Junk with no newline: the next line on the pipe (the harness's) would be glued to it.
import os

os.write(4, b"x" * (2 << 20))


def add(a, b):
    return a - b
