"""Top-level functions for tests/test_pool.py to run in pool workers (which import them by name)."""

import os
import signal
import time


def add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)


def sleep_for(seconds):
    time.sleep(seconds)
    return seconds


def spin_forever():
    while True:
        pass


def allocate(n_bytes):
    return len(bytearray(n_bytes))


def exit_abruptly(code):
    os._exit(code)


def segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


def return_lambda():
    return lambda: None


def return_generator():
    return (i for i in range(3))


def worker_pid(delay=0.0):
    time.sleep(delay)  # so that calls made together land on different workers
    return os.getpid()


def slow_warm_up():
    """A warm-up as slow as importing sympy on a loaded machine."""
    time.sleep(1.5)
