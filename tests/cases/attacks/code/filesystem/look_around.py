"""Not a response: a program run straight in the sandbox (`sandbox.run_python`). It lists `/` and
/etc, and tries each path of the JSON list on fd 3; it prints what it saw as JSON."""
import json
import os

seen = {}
for path in json.loads(os.read(3, 1 << 16)):
    try:
        with open(path, "rb") as file:
            seen[path] = "read: " + file.read(64).decode(errors="replace")
    except IsADirectoryError:
        seen[path] = "folder: " + ", ".join(sorted(os.listdir(path))[:20])
    except OSError as exc:
        seen[path] = exc.strerror
print(json.dumps({"/": sorted(os.listdir("/")), "/etc": sorted(os.listdir("/etc")), "seen": seen}))
