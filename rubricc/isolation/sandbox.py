"""Run untrusted Python in a sandbox: throwaway namespaces, an unprivileged user, limits, a deadline.

>>> run = run_python("print(6 * 7)", timeout=10.0)
>>> run.returncode, run.output, run.timed_out
(0, b'42\\n', False)

`run_python(program, payload)` runs `program` (Python source) with `payload` readable on fd 3 and
fd 4 open for writing results back; stdout and stderr are captured together, up to a cap. This
module only contains the code; `rubricc.builtins.code_harness` is a test harness on top of it.

The layers, outermost first. `isolation_layers()` says which are active on this machine, and a
run that lacks one warns once (`SandboxWarning`); without namespaces nothing runs at all
(`SandboxUnavailable`): hostile code never runs without a process limit that binds (docs/security.md,
"A hostile response").

| layer | what it does | if it is missing |
| --- | --- | --- |
| parent-death signal | `setpriv --pdeathsig KILL`: if the process that started the sandbox dies (a pool worker killed at its deadline), `unshare` gets SIGKILL, which kills the namespace | setpriv not found: the sandbox still dies at its own deadline |
| pid namespace | `unshare --pid --fork --kill-child`: the program sees and signals only its own processes; when the namespace's pid 1 dies, the kernel kills every process in it, so nothing outlives a run | required |
| network namespace | `--net`: one loopback interface, down; no connection in or out | required |
| mount namespace | a root of its own (`filesystem_view`): the Python installation, the shared libraries (/lib, /usr/lib, ...), /etc/ld.so.cache and /etc/localtime, the time zones, and /dev/null, zero, random, urandom, each bind-mounted read-only (`mount_setattr`); a fresh size-capped tmpfs on /tmp holding the working folder /tmp/work, gone with the namespace; an empty /proc, so no process list, no /proc/self/mem, no other process's environ. Nothing else of the host exists inside: no checkout, no datasets, no /home, /etc/passwd or /run | required (Linux 5.12 or later) |
| ipc, uts namespaces | no System V shared memory or message queues shared with the host | required |
| unprivileged uid | as root: the program runs as uid and gid 65534 with no groups, so no capability | not root: the program keeps the caller's uid (mapped to root inside its user namespace); the read-only mounts protect what is in view |
| a user namespace of its own | created by the program's process after the uid drop: RLIMIT_NPROC then counts only this sandbox's processes (Linux 5.14 counts rlimits per user namespace), and the program holds no capability over the mounts above | user namespaces disabled: RLIMIT_NPROC counts every uid-65534 process on the machine |
| resource limits | RLIMIT_CPU, AS, FSIZE, NOFILE, NPROC, and no core files, per process (`Limits`) | |
| no new privileges | PR_SET_NO_NEW_PRIVS: a setuid binary cannot raise privileges | |
| minimal environment | PATH, HOME, TMPDIR and LANG only; `-I -S`: no site-packages, no PYTHON* variables | |
| deadline | the namespace's pid 1 exits at `timeout`, which kills everything in it; the parent SIGKILLs `unshare` `KILL_GRACE` seconds later | |
| output cap | stdout and stderr are kept up to `Limits.output_bytes`; the rest is read and dropped | |

The process tree of one run:

    caller -- setpriv => unshare -- python, pid 1: builds the new root, pivots, watches the clock
                                      `-- python, pid 2: uid 65534, own user namespace, limits:
                                          runs `program`

Pid 1 (`_setup` and the functions it calls) runs trusted code with privileges; it is sent to the
interpreter as source text (`_setup_source`), so the sandbox needs no access to this checkout. It
builds the new root on a tmpfs mounted over its own view of /tmp, binds each path of the view
into it through a file descriptor opened beforehand (so a Python installed under /tmp still
binds), then `pivot_root`s into it and detaches the old root: unlike `chroot`, that leaves no way
back, and lets the program create its own user namespace (the kernel refuses that to a chrooted
process).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import inspect
import marshal
import os
import resource
import select
import selectors
import shutil
import struct
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

NOBODY = 65534
"""The uid and gid a root caller's program runs as."""

WORKDIR = "/tmp/work"
"""The program's working folder, inside the sandbox's own tmpfs."""

KILL_GRACE = 1.0
"""Seconds after `timeout` at which the parent kills a sandbox whose pid 1 did not end it."""

READY = b"rubricc-sandbox: program started\n"
"""Written on the result fd by pid 1 once the program's interpreter has been exec'd."""

SYSTEM_PATHS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo", "/etc/ld.so.cache",
                "/etc/localtime", "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
"""What the sandbox sees of the host besides the Python installation, where the host has it: the
shared libraries and the loader's cache, the time zones, four harmless devices."""

NEW_ROOT = "/tmp"
"""Where pid 1 builds the new root before pivoting into it: a path every machine has."""

ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "TMPDIR": WORKDIR,
               "LANG": "C.UTF-8"}

MAX_PROGRAM = 48 * 1024
"""Bytes of program source: it reaches pid 1 hex-encoded in one argument, and Linux caps one
argument at 128 KiB. Data goes in the payload, which has no such limit."""

_RESULTS_CAP = 1 << 20
_DEADLINE = b"rubricc-sandbox: deadline\n"
_SETUP_FAILED = 125

# Linux ABI constants used by pid 1 (x86-64 and arm64 share the syscall number).
CLONE_NEWUSER = 0x10000000
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MNT_DETACH = 1, 2, 2
SYS_MOUNT_SETATTR, AT_FDCWD, AT_RECURSIVE = 442, -100, 0x8000
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
"""pivot_root has no libc wrapper, and an older syscall number that differs by architecture."""


class SandboxUnavailable(RuntimeError):
    """This machine cannot give a sandbox its namespaces, so no untrusted code is run."""


class SandboxError(RuntimeError):
    """The sandbox itself failed (setup, exec), as opposed to the program inside it."""


class SandboxWarning(UserWarning):
    """A sandbox runs with one of its layers missing."""


@dataclass(frozen=True)
class Limits:
    """Per-process resource limits inside the sandbox, and the sizes of what comes back."""

    cpu_s: int = 10
    """RLIMIT_CPU of each process, seconds: SIGXCPU, then SIGKILL one second later."""
    memory_mb: int = 512
    """RLIMIT_AS of each process: an allocation past it raises MemoryError."""
    file_mb: int = 16
    """RLIMIT_FSIZE: writing a file past it raises SIGXFSZ (an OSError in Python)."""
    open_files: int = 64
    """RLIMIT_NOFILE."""
    processes: int = 64
    """RLIMIT_NPROC, processes and threads together, counted in the sandbox's user namespace."""
    tmpfs_mb: int = 64
    """Size of the sandbox's /tmp, the only writable place."""
    output_bytes: int = 64 * 1024
    """stdout and stderr kept, together; the rest is dropped."""


@dataclass(frozen=True)
class SandboxRun:
    """What became of one program."""

    returncode: int
    """The program's exit code; 128 + n when killed by signal n; 124 when stopped at the deadline."""
    timed_out: bool
    """The deadline ended it."""
    output: bytes
    """stdout and stderr, interleaved, at most `Limits.output_bytes`."""
    results: bytes
    """What the program wrote on fd 4 (at most 1 MiB)."""
    seconds: float
    """Wall-clock seconds from start to the last process's end."""


# ---------------------------------------------------------------- pid 1, inside the sandbox
# These functions run in the sandbox's interpreter, sent as source text: stdlib only, and every
# name they use is imported or defined in `_setup_source`.


def _setup(config_hex: str) -> None:
    """Pid 1: build the filesystem, start the program, end the namespace at the deadline."""
    config = marshal.loads(bytes.fromhex(config_hex))
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        _build_filesystem(libc, config)
    except OSError as exc:
        _fail(f"filesystem: {exc}")
    exec_r, exec_w = os.pipe()  # close-on-exec: EOF without a message means the exec worked
    pid = os.fork()
    if pid == 0:
        os.close(exec_r)
        try:
            _start_program(libc, config)
        except BaseException as exc:  # noqa: BLE001 - reported to pid 1, which reports it
            os.write(exec_w, f"{type(exc).__name__}: {exc}".encode())
        os._exit(_SETUP_FAILED)
    os.close(exec_w)
    failure = os.read(exec_r, 4096)
    if failure:
        os.waitpid(pid, 0)
        _fail(f"starting the program: {failure.decode(errors='replace')}")
    os.write(config["result_fd"], READY)
    os.close(config["payload_fd"])
    os._exit(_watch(pid, config["deadline"], config["result_fd"]))


def _fail(message: str) -> None:
    os.write(2, f"rubricc sandbox: setup failed: {message}\n".encode())
    os._exit(_SETUP_FAILED)


def _build_filesystem(libc: ctypes.CDLL, config: dict) -> None:
    """A new root holding only the view (`config["binds"]` read-only, `config["links"]`), a
    private /tmp and an empty /proc; then pivot into it."""
    os.umask(0o022)  # the folders made here must be readable by the program's uid
    held = [(path, os.path.isdir(path), os.open(path, os.O_PATH)) for path in config["binds"]]
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)  # pivot_root refuses shared mounts
    _make_root(libc, config)
    for path, target in config["links"]:
        os.makedirs(os.path.dirname(NEW_ROOT + path), 0o755, exist_ok=True)
        os.symlink(target, NEW_ROOT + path)
    for path, folder, fd in held:  # through /proc/self/fd: the host's /tmp is covered by now
        _bind_read_only(libc, fd, NEW_ROOT + path, folder)
        os.close(fd)
    _read_only(libc, NEW_ROOT, recursive=False)
    os.chdir(NEW_ROOT)
    _pivot_root(libc, config["pivot_root"])


def _make_root(libc: ctypes.CDLL, config: dict) -> None:
    """An empty tmpfs on `NEW_ROOT`, with an empty read-only /proc and a private /tmp/work."""
    _mount(libc, "none", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    os.mkdir(NEW_ROOT + "/proc", 0o555)
    os.mkdir(NEW_ROOT + "/tmp", 0o755)
    _mount(libc, "none", NEW_ROOT + "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555")
    _mount(libc, "none", NEW_ROOT + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={config['tmpfs_mb']}m,mode=755")
    os.mkdir(NEW_ROOT + WORKDIR, 0o700)
    if config["uid"] is not None:
        os.chown(NEW_ROOT + WORKDIR, config["uid"], config["uid"])


def _bind_read_only(libc: ctypes.CDLL, fd: int, target: str, folder: bool) -> None:
    if folder:
        os.makedirs(target, 0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), 0o755, exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    _mount(libc, f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC, None)
    _read_only(libc, target, recursive=True)


def _pivot_root(libc: ctypes.CDLL, number: int) -> None:
    """Make the current folder `/` and drop the old root: `pivot_root(".", ".")` stacks the old
    root on the new one, and detaching "." takes it away, with every host mount under it."""
    if libc.syscall(ctypes.c_long(number), b".", b".") != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"pivot_root: {os.strerror(errno)}")
    if libc.umount2(b".", MNT_DETACH) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"detaching the old root: {os.strerror(errno)}")
    os.chdir("/")


def _mount(libc: ctypes.CDLL, source, target: str, fstype, flags: int, data) -> None:
    def c(text):
        return None if text is None else text.encode()

    if libc.mount(c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _read_only(libc: ctypes.CDLL, target: str, recursive: bool) -> None:
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0), 32)
    done = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), target.encode(),
                        ctypes.c_uint(AT_RECURSIVE if recursive else 0), attr, ctypes.c_size_t(32))
    if done != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount_setattr {target} read-only: {os.strerror(errno)}")


def _start_program(libc: ctypes.CDLL, config: dict) -> None:
    """In pid 2: drop privileges, take a user namespace of its own, set limits, exec the program."""
    uid = config["uid"]
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    if config["own_userns"] and libc.unshare(CLONE_NEWUSER) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
    for name, soft, hard in config["rlimits"]:
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    _arrange_fds(config["payload_fd"], config["result_fd"])
    os.chdir(WORKDIR)
    python = config["python"]
    os.execve(python, [python, *config["flags"], "-c", config["program"]], config["env"])


def _arrange_fds(payload_fd: int, result_fd: int) -> None:
    """stdin from /dev/null, the payload on fd 3, the result pipe on fd 4."""
    payload, result = (os.dup(fd) for fd in (payload_fd, result_fd))
    while min(payload, result) <= 4:  # copies above 4, so that neither clobbers the other
        payload, result = (os.dup(fd) for fd in (payload, result))
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(payload, 3)
    os.dup2(result, 4)
    for fd in {null, payload, result, payload_fd, result_fd} - {0, 1, 2, 3, 4}:
        os.close(fd)


def _watch(pid: int, seconds: float, result_fd: int) -> int:
    """Wait for the program at most `seconds`; pid 1 returning ends the whole namespace."""
    pidfd = os.pidfd_open(pid)
    ready, _, _ = select.select([pidfd], [], [], seconds)
    if not ready:
        os.write(result_fd, b"rubricc-sandbox: deadline\n")
        return 124
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


_SETUP_FUNCTIONS = (_setup, _fail, _build_filesystem, _make_root, _bind_read_only, _pivot_root, _mount,
                    _read_only, _start_program, _arrange_fds, _watch)
_SETUP_CONSTANTS = ("WORKDIR", "NEW_ROOT", "READY", "_SETUP_FAILED", "CLONE_NEWUSER", "PR_SET_NO_NEW_PRIVS",
                    "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_BIND", "MS_REC", "MS_PRIVATE",
                    "MOUNT_ATTR_RDONLY", "MOUNT_ATTR_NOSUID", "MNT_DETACH", "SYS_MOUNT_SETATTR", "AT_FDCWD",
                    "AT_RECURSIVE")


@functools.cache
def _setup_source() -> str:
    """Pid 1's program: imports, constants, the functions above, and the call."""
    return program_source("from __future__ import annotations\nimport ctypes, marshal, os, resource, select, struct, sys",
                          {name: globals()[name] for name in _SETUP_CONSTANTS}, _SETUP_FUNCTIONS,
                          "_setup(sys.argv[1])")


def program_source(imports: str, constants: Mapping[str, object], functions: Sequence[Callable],
                   call: str) -> str:
    """A program for another interpreter, made of functions of this one: the only way rubricc ships
    code as source (pid 1's `_setup` here, the test harness of `rubricc.builtins.code_harness`).

    The program is `imports`, one `name = repr(value)` line per constant, each function's own
    source (`inspect.getsource`), then `call`. The functions must be top-level and use only the
    standard library, the constants and each other: nothing of rubricc exists on the other side.

    >>> def root(n):
    ...     return math.sqrt(n)
    >>> exec(program_source("import math", {"N": 16}, [root], "print(root(N))"), {})
    4.0
    """
    for fn in functions:
        if fn.__qualname__ != fn.__name__:
            raise ValueError(f"{fn.__qualname__} is not a top-level function: its source cannot be shipped")
    lines = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    body = "\n\n".join(inspect.getsource(fn) for fn in functions)
    return f"{imports}\n{lines}\n{body}\n{call}\n"


# ---------------------------------------------------------------- the caller's side


@dataclass(frozen=True)
class FilesystemView:
    """What exists inside a sandbox, besides its /tmp and its empty /proc."""

    binds: tuple[str, ...]
    """Folders and files bind-mounted read-only at the same path; none holds another, and none
    has a symlink on its path."""
    links: tuple[tuple[str, str], ...]
    """(path, target): symlinks on the way to a bind (/lib -> usr/lib), copied as they are."""


def filesystem_view(paths: Sequence[str]) -> FilesystemView:
    """The binds and symlinks that make each of `paths` that exists on the host resolve the same
    inside the sandbox, symlinks along the way included; paths that do not exist are left out.

    >>> filesystem_view(["/dev/null", "/dev/null", "/no/such/file"])
    FilesystemView(binds=('/dev/null',), links=())
    """
    binds, links = set(), {}
    pending = [os.path.normpath(path) for path in paths]
    for _ in range(1024):  # a bound on the work, should symlinks loop
        if not pending:
            break
        path = pending.pop()
        if not os.path.lexists(path) or path == "/":
            continue
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            here = "/" + "/".join(parts[:i])
            if os.path.islink(here):
                links[here] = os.readlink(here)
                pending.append(os.path.normpath(os.path.join(os.path.dirname(here), links[here], *parts[i:])))
                break
        else:
            binds.add(path)

    def covered(path: str) -> bool:
        return any(path.startswith(bind + "/") for bind in binds)

    return FilesystemView(tuple(sorted(b for b in binds if not covered(b))),
                          tuple(sorted((path, target) for path, target in links.items() if not covered(path))))


def _python_paths(python: str) -> list[str]:
    """The interpreter the sandbox runs (a real path) and its installation: the prefixes, unless
    the interpreter is the system's (prefix /usr: its stdlib is under /usr/lib, in view anyway),
    and the pyvenv.cfg of a venv whose interpreter is a copy."""
    prefixes = {sys.base_prefix, sys.base_exec_prefix} - {"/", "/usr"}
    venv = [os.path.join(folder, "pyvenv.cfg") for folder in (os.path.dirname(python), os.path.dirname(os.path.dirname(python)))]
    return [python, *sorted(prefixes), *venv]


@dataclass(frozen=True)
class _Plan:
    command: tuple[str, ...]
    """setpriv and unshare, with their options, up to the interpreter."""
    python: str
    view: FilesystemView
    pivot_root: int
    """pivot_root's syscall number on this machine."""
    uid: int | None
    own_userns: bool
    layers: dict


def _probe(*argv: str) -> str:
    """"" when the command succeeds, else why not."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=30, env=ENVIRONMENT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if done.returncode == 0 else done.stderr.decode(errors="replace").strip() or "failed"


@functools.cache
def _plan() -> _Plan:
    """How sandboxes start on this machine; probed once per process."""
    unshare, setpriv = (shutil.which(n, path="/usr/bin:/bin:/usr/sbin:/sbin") for n in ("unshare", "setpriv"))
    if unshare is None:
        raise SandboxUnavailable("unshare (util-linux) not found: no namespaces, so no sandbox")
    root = os.geteuid() == 0
    namespaces = ["--pid", "--fork", "--kill-child", "--mount", "--net", "--ipc", "--uts"]
    if not root:
        namespaces = ["--user", "--map-root-user", *namespaces]
    if why := _probe(unshare, *namespaces, "true"):
        raise SandboxUnavailable(f"cannot create namespaces ({why}): no sandbox")
    nested = [unshare, "--user", "true"]
    if root and setpriv:
        own_userns = _probe(setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *nested)
    else:
        own_userns = _probe(*([unshare, "--user", "--map-root-user"] if not root else []), *nested)
    pivot_root = SYS_PIVOT_ROOT.get(os.uname().machine)
    if pivot_root is None:
        raise SandboxUnavailable(f"pivot_root's syscall number on {os.uname().machine} is not known here: no sandbox")
    python = os.path.realpath(sys.executable)
    view = filesystem_view([*_python_paths(python), *SYSTEM_PATHS])
    command = ([setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []) + [unshare, *namespaces, "--"]
    layers = {
        "pid namespace": "on", "network namespace": "on", "ipc and uts namespaces": "on",
        "mount namespace": "on: a root of its own holding the Python installation, the shared libraries"
        " and four devices, read-only; a private /tmp; an empty /proc",
        "unprivileged uid": f"on: uid {NOBODY}" if root else
        "off: not root; the program keeps the caller's uid (root only inside its user namespace)"
        " and the read-only mounts protect the caller's files",
        "own user namespace": "on: RLIMIT_NPROC counts this sandbox's processes only" if not own_userns
        else f"off ({own_userns}): RLIMIT_NPROC counts every uid-{NOBODY} process",
        "parent-death signal": "on" if setpriv else
        "off: setpriv not found; the sandbox still dies at its deadline",
        "resource limits": "on: cpu, address space, file size, open files, processes, no core",
        "no new privileges": "on", "minimal environment": "on", "deadline": "on",
    }
    return _Plan(tuple(command), python, view, pivot_root, NOBODY if root else None, not own_userns, layers)


def isolation_layers() -> dict[str, str]:
    """Each isolation layer, "on" or "off: why", as sandboxes get them on this machine.

    >>> isolation_layers()["network namespace"]
    'on'
    """
    try:
        return dict(_plan().layers)
    except SandboxUnavailable as exc:
        return {"namespaces": f"off: {exc}"}


@functools.cache
def _warn_if_degraded() -> None:
    off = [f"{name} ({state})" for name, state in _plan().layers.items() if state.startswith("off")]
    if off:
        warnings.warn(f"rubricc sandbox runs without: {'; '.join(off)}", SandboxWarning, stacklevel=3)


def _rlimits(limits: Limits, timeout: float) -> list[tuple[str, int, int]]:
    cpu = max(1, min(limits.cpu_s, int(timeout) + 1))
    mb = 1024 * 1024
    return [("RLIMIT_CPU", cpu, cpu + 1), ("RLIMIT_AS", limits.memory_mb * mb, limits.memory_mb * mb),
            ("RLIMIT_FSIZE", limits.file_mb * mb, limits.file_mb * mb),
            ("RLIMIT_NOFILE", limits.open_files, limits.open_files),
            ("RLIMIT_NPROC", limits.processes, limits.processes), ("RLIMIT_CORE", 0, 0)]


def run_python(program: str, payload: bytes = b"", *, timeout: float, limits: Limits | None = None,
               flags: tuple[str, ...] = ("-I", "-S"), tokens: tuple[bytes, ...] = ()) -> SandboxRun:
    """Run `program` (at most `MAX_PROGRAM` bytes) in a fresh sandbox; `payload` is readable on its
    fd 3, and what it writes on fd 4 comes back: every line, or with `tokens` only the lines that
    hold one of them, from the token on (`_Results`), so that a program flooding fd 4 cannot push
    the lines that matter past the cap.

    Returns whatever the program did, including dying or timing out; raises `SandboxError` when
    the sandbox itself could not start the program, `SandboxUnavailable` when this machine cannot
    make one.
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout}")
    if len(program.encode()) > MAX_PROGRAM:
        raise ValueError(f"the program is {len(program.encode())} bytes, over {MAX_PROGRAM}: "
                         "it travels on command lines; pass data in `payload`")
    limits, plan = limits or Limits(), _plan()
    _warn_if_degraded()
    started = time.monotonic()
    with contextlib.ExitStack() as closing:
        def fd(number: int) -> int:
            closing.callback(os.close, number)
            return number

        payload_fd = fd(os.memfd_create("rubricc-sandbox-payload"))
        os.write(payload_fd, payload)
        os.lseek(payload_fd, 0, os.SEEK_SET)
        (out_r, out_w), (result_r, result_w) = os.pipe(), os.pipe()
        fd(out_r), fd(result_r)
        config = {"python": plan.python, "flags": list(flags), "program": program,
                  "binds": list(plan.view.binds), "links": [list(link) for link in plan.view.links],
                  "pivot_root": plan.pivot_root, "uid": plan.uid, "own_userns": plan.own_userns,
                  "rlimits": _rlimits(limits, timeout), "tmpfs_mb": limits.tmpfs_mb,
                  "deadline": float(timeout), "env": ENVIRONMENT, "payload_fd": payload_fd,
                  "result_fd": result_w}
        argv = [*plan.command, plan.python, "-I", "-S", "-c", _setup_source(), marshal.dumps(config).hex()]
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                       pass_fds=(payload_fd, result_w), env=ENVIRONMENT)
        finally:
            os.close(out_w)
            os.close(result_w)
        output, results, killed = _collect(process, out_r, result_r, started + timeout + KILL_GRACE,
                                           limits.output_bytes, tokens)
    return _finish(process, output, results, killed, time.monotonic() - started)


class _Results:
    """The lines read from fd 4. With `tokens`, a line is kept only if it holds one of them (or
    one of pid 1's own lines), and only from the token on: junk written before a line without a
    newline is cut off. Kept lines stop at `_RESULTS_CAP` bytes; a line longer than `LINE` bytes
    keeps its end, where a short line written after junk lies."""

    LINE = 4096

    def __init__(self, tokens: tuple[bytes, ...]):
        self.tokens = tokens + (READY.rstrip(b"\n"), _DEADLINE.rstrip(b"\n")) if tokens else ()
        self.kept, self.partial = bytearray(), bytearray()

    def feed(self, chunk: bytes) -> None:
        self.partial += chunk
        *lines, rest = self.partial.split(b"\n")
        self.partial = bytearray(rest[-self.LINE:])
        for line in lines:
            self._keep(bytes(line[-self.LINE:]) + b"\n")

    def _keep(self, line: bytes) -> None:
        if self.tokens:
            at = max(line.rfind(token) for token in self.tokens)
            if at < 0:
                return
            line = line[at:]
        if len(self.kept) + len(line) <= _RESULTS_CAP:
            self.kept += line

    def value(self) -> bytes:
        if self.partial:
            self._keep(bytes(self.partial))
        return bytes(self.kept)


def _collect(process: subprocess.Popen, out_r: int, result_r: int, deadline: float,
             cap: int, tokens: tuple[bytes, ...] = ()) -> tuple[bytes, bytes, bool]:
    """Read both pipes until every process holding them is gone; kill at the deadline."""
    output, results = bytearray(), _Results(tokens)
    killed = False
    with selectors.DefaultSelector() as selector:
        for number in (out_r, result_r):
            selector.register(number, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                if killed:  # dead, yet a pipe stays open: held outside the namespace; stop reading
                    break
                process.kill()  # unshare; --kill-child takes pid 1, and pid 1 the namespace
                killed, deadline = True, time.monotonic() + KILL_GRACE
                continue
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fd)
                if key.fd == result_r:
                    results.feed(chunk)
                else:
                    output += chunk[: max(cap - len(output), 0)]
    return bytes(output), results.value(), killed


def _finish(process: subprocess.Popen, output: bytes, results: bytes, killed: bool,
            seconds: float) -> SandboxRun:
    try:
        returncode = process.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        returncode, killed = process.wait(), True
    lines = results.splitlines(keepends=True)
    if READY not in lines:
        raise SandboxError(f"the sandbox did not start the program (exit code {returncode}): "
                           f"{output.decode(errors='replace').strip()[-2000:]}")
    timed_out = killed or (returncode == 124 and _DEADLINE in lines)
    results = b"".join(line for line in lines if line not in (READY, _DEADLINE))
    return SandboxRun(124 if killed else returncode, timed_out, output, results, seconds)
