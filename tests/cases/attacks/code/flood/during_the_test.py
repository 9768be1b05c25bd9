# Junk written from inside the function under test, in every test's child process.
import os


def add(a, b):
    try:
        os.write(4, b"y" * (1 << 20))
    except OSError:
        pass
    return a - b
