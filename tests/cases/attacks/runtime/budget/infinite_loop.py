# Never returns: its first tests reach their own timeout, so the row is scored, not masked.
# expect: 0.0
def add(a, b):
    while True:
        pass
