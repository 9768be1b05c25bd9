# Correct, but each test takes 0.6 s: the budget ends before the last tests do.
# expect: not scored
import time

time.sleep(0.6)


def add(a, b):
    return a + b
