"""The worker pool: outcomes in order, errors as values, parent-enforced deadlines, no leftovers."""

import _thread
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from rubricc.isolation.pool import Outcome, WorkerPool, call_target
from tests import pool_targets

ADD = call_target(pool_targets.add)
FAIL = call_target(pool_targets.fail)
SLEEP = call_target(pool_targets.sleep_for)
SPIN = call_target(pool_targets.spin_forever)
PID = call_target(pool_targets.worker_pid)


@pytest.fixture(scope="module")
def pool():
    """One warm pool for the tests that do not need their own (spawning workers costs time)."""
    with WorkerPool(workers=2, deadline=1.0) as shared:
        shared.run([(ADD, (0, 0))] * 2)  # start the workers outside any timing
        yield shared


def statuses(outcomes):
    return [outcome.status for outcome in outcomes]


def worker_pids(pool):
    """The pids of both workers of `pool` (two calls that each take a while land on both)."""
    pids = {outcome.value for outcome in pool.run([(PID, (0.2,))] * 2)}
    assert len(pids) == 2
    return pids


def is_alive(pid):
    """True while /proc has the process, zombies included (a zombie is a child not reaped)."""
    return os.path.exists(f"/proc/{pid}")


def test_values_come_back_in_input_order(pool):
    # The slow first call finishes last, yet its outcome is first.
    calls = [(SLEEP, (0.3,))] + [(ADD, (i, i)) for i in range(6)] + [(ADD, (1, 1))] * 2
    assert (
        pool.run(calls)
        == [Outcome("ok", 0.3)] + [Outcome("ok", 2 * i) for i in range(6)] + [Outcome("ok", 2)] * 2
    )


def test_runs_from_several_threads_take_turns(pool):
    # A framework may call a reward function from many threads: each run gets its own outcomes.
    from concurrent.futures import ThreadPoolExecutor

    def one(k: int) -> list[Outcome]:
        return pool.run([(SLEEP, (0.01,))] + [(ADD, (k, i)) for i in range(5)])

    with ThreadPoolExecutor(6) as threads:
        results = list(threads.map(one, range(12)))
    assert results == [[Outcome("ok", 0.01)] + [Outcome("ok", k + i) for i in range(5)]
                       for k in range(12)]


def test_empty_run_is_empty(pool):
    assert pool.run([]) == []


def test_exception_is_an_error_with_type_and_message(pool):
    assert pool.run([(FAIL, ("bad input",)), (ADD, (1, 2))]) == [
        Outcome("error", message="ValueError: bad input"),
        Outcome("ok", 3),
    ]


@pytest.mark.parametrize(
    "target, expected",
    [
        ("no_such_module_xyz:f", "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
        (
            "tests.pool_targets:nope",
            "AttributeError: module 'tests.pool_targets' has no attribute 'nope'",
        ),
        ("no colon", "ValueError: target 'no colon' is not 'package.module:function'"),
    ],
)
def test_a_target_that_cannot_be_imported_is_an_error(pool, target, expected):
    assert pool.run([(target, ())]) == [Outcome("error", message=expected)]


@pytest.mark.parametrize("function", [pool_targets.return_lambda, pool_targets.return_generator])
def test_an_unpicklable_result_is_an_error(pool, function):
    [outcome] = pool.run([(call_target(function), ())])
    assert outcome.status == "error"
    assert outcome.message.startswith("result could not be pickled: ")
    assert pool.run([(ADD, (1, 2))]) == [Outcome("ok", 3)]  # the worker survived it


def test_unpicklable_arguments_are_an_error(pool):
    outcomes = pool.run([(ADD, (lambda: 1, 2)), (ADD, (1, 2))])
    assert statuses(outcomes) == ["error", "ok"]
    assert outcomes[0].message.startswith("arguments could not be pickled: ")


def test_a_hung_call_costs_one_deadline_not_the_batch(pool):
    calls = [(SPIN, ())] + [(SLEEP, (0.1,))] * 4 + [(ADD, (i, 1)) for i in range(10)]
    started = time.monotonic()
    outcomes = pool.run(calls)
    elapsed = time.monotonic() - started
    assert outcomes[0] == Outcome("timeout", message="no result after 1.0 s")
    assert outcomes[1:] == [Outcome("ok", 0.1)] * 4 + [Outcome("ok", i + 1) for i in range(10)]
    assert 1.0 <= elapsed < 1.6


def test_the_pool_keeps_working_after_a_timeout(pool):
    pids = worker_pids(pool)
    # Two hung calls: each kills the worker it ran on (one worker, twice, when the other is
    # still starting on a loaded machine), and the pool carries on with replacements.
    assert statuses(pool.run([(SPIN, ()), (SPIN, ())])) == ["timeout", "timeout"]
    assert pool.run([(ADD, (2, 3))] * 3) == [Outcome("ok", 5)] * 3
    replaced = set(pids) - set(worker_pids(pool))
    assert replaced and not any(is_alive(pid) for pid in replaced)  # killed and reaped


@pytest.mark.parametrize(
    "call, message",
    [
        ((call_target(pool_targets.exit_abruptly), (3,)), "worker died (exit code 3)"),
        (
            (call_target(pool_targets.segfault), ()),
            "worker died (killed by SIGSEGV, exit code -11)",
        ),
    ],
)
def test_a_worker_that_dies_is_an_error_and_is_replaced(pool, call, message):
    assert pool.run([call, (ADD, (1, 1))]) == [Outcome("error", message=message), Outcome("ok", 2)]
    assert pool.run([(ADD, (1, 2))] * 4) == [Outcome("ok", 3)] * 4


def test_workers_killed_while_idle_are_replaced_silently(pool):
    for pid in worker_pids(pool):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    assert pool.run([(ADD, (1, 2))] * 4) == [Outcome("ok", 3)] * 4


def test_an_interrupted_run_leaves_no_stale_replies(pool):
    # Ctrl-C while two calls are in flight; their replies must not answer the next run.
    threading.Timer(0.2, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):
        pool.run([(SLEEP, (0.6,)), (SLEEP, (0.6,))])
    assert pool.run([(ADD, (1, 2))] * 2) == [Outcome("ok", 3)] * 2
    time.sleep(0.6)
    assert pool.run([(ADD, (2, 2))] * 2) == [Outcome("ok", 4)] * 2


def test_a_huge_allocation_is_a_memory_error():
    with WorkerPool(workers=1, memory_mb=512) as small:
        outcomes = small.run([(call_target(pool_targets.allocate), (1 << 30,)), (ADD, (1, 2))])
    assert outcomes[0].status == "error"
    assert outcomes[0].message.startswith("MemoryError")
    assert outcomes[1] == Outcome("ok", 3)


def test_worker_startup_does_not_count_against_the_deadline():
    # Starting a spawned worker takes far longer than 50 ms; only the call itself is timed.
    with WorkerPool(workers=1, deadline=0.05) as fast:
        assert fast.run([(ADD, (1, 2))]) == [Outcome("ok", 3)]


def test_two_hundred_quick_calls_on_two_workers(pool):
    calls = [(ADD, (i, i)) for i in range(200)]
    assert [o.value for o in pool.run(calls)] == [2 * i for i in range(200)]


def test_a_pool_starts_no_process_until_it_runs():
    before = set(multiprocessing.active_children())
    idle = WorkerPool(workers=2)
    assert set(multiprocessing.active_children()) == before
    idle.close()


def test_close_leaves_no_live_or_zombie_children():
    before = {p.pid for p in multiprocessing.active_children()}
    pool = WorkerPool(workers=2, deadline=0.5)
    outcomes = pool.run([(SPIN, ()), (PID, ())])  # close() then meets a replacement still starting
    pids = {outcomes[1].value} | {p.pid for p in multiprocessing.active_children()} - before
    pool.close()
    pool.close()  # idempotent
    assert {p.pid for p in multiprocessing.active_children()} == before
    assert not any(is_alive(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        pool.run([(ADD, (1, 2))])


def test_call_target_names_top_level_functions_only():
    def nested():
        pass

    assert call_target(pool_targets.add) == f"{pool_targets.__name__}:add"
    with pytest.raises(ValueError, match="not a top-level function"):
        call_target(lambda: None)
    with pytest.raises(ValueError, match="not a top-level function"):
        call_target(nested)


def test_workers_do_not_rerun_the_parents_main_script(tmp_path):
    # A script read from stdin cannot be re-imported, and one that raises on import would kill
    # every worker if spawn re-ran it: workers must start without the parent's __main__.
    script = (
        "import os\n"
        "from rubricc.isolation.pool import WorkerPool\n"
        "if os.environ.get('RUBRICC_CHILD'):\n"
        "    raise SystemExit('the main script ran in a worker')\n"
        "os.environ['RUBRICC_CHILD'] = '1'\n"
        "with WorkerPool(workers=1, deadline=30) as pool:\n"
        "    print(pool.run([('operator:add', (2, 3))])[0].value)\n"
    )
    done = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.stdout.strip() == "5", done.stderr


def test_warm_up_runs_before_ready_and_outside_the_deadline():
    warm_up = (call_target(pool_targets.slow_warm_up),)
    with WorkerPool(workers=1, deadline=1.0, warm_up=warm_up) as pool:
        [outcome] = pool.run([(call_target(pool_targets.add), (1, 2))])
    assert outcome == Outcome("ok", 3)


def test_a_heavy_call_its_builtin_calls_cheap_skips_the_pool(pool):
    """math_equal on two plain numbers is made in the scoring process (the round trip costs more
    than the call); anything else goes to the pool, with the same answers either way."""
    from rubricc import values as V
    from rubricc.builtins.mathx import math_equal
    from rubricc.runtime.services import Services

    sent = []
    real_run = pool.run
    pool.run = lambda calls: sent.extend(args for _, args in calls) or real_run(calls)
    calls = [("3", "3"), ("-0.75", r"-\frac{3}{4}"), ("0.3333", "1/3"), ("12", "13"),
             (r"\sqrt{2}", "2^{1/2}"), ("x = 3", "3"), ("1" * 101, "1"), ("3", None)]
    results = Services(pool).heavy_batch("math_equal", calls)
    assert results[:7] == [math_equal(*args) for args in calls[:7]] == [True, True, True, False,
                                                                          True, True, False]
    assert isinstance(results[7], V.Failed)  # no gold: the pool's error, as before
    # a root, an equation, a 101-digit number and a missing gold, the longest text first
    assert sent == [calls[6], calls[4], calls[5], calls[7]]
