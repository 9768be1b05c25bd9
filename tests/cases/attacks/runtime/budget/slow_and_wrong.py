# Wrong, and slow enough that the budget ends before the last tests: a test that finished
# failed, so the rest count as failures too.
# expect: 0.0
import time

time.sleep(0.6)


def add(a, b):
    return a - b
