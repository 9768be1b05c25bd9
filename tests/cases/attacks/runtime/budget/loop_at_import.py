# Loops before the function exists, in every test.
# expect: 0.0
while True:
    pass
