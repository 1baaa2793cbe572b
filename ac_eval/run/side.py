"""Side processes: the plots (matplotlib's import, then the drawing) in spawned processes started as the model
starts loading, off the run's critical path.

Why processes: the model's loading (imports, weights) is mostly one busy core; matplotlib's import in a thread of
the same process would hold its GIL for most of its 0.6 s and slow the loading down instead. Spawned, not forked:
the run holds threads and maybe a model. Measured, and left in its thread: lm-eval's environment report (1.1 s of
Python and forks, 0.9 s in its subprocesses) in a side process has to import torch there as well (2 s), which on 2
cores cost the run more than the thread does. Optional: where processes cannot start, the caller draws itself.
"""

from __future__ import annotations

from concurrent.futures import Executor

_pool: Executor | None = None
_size = 0


def start(n: int | None = None) -> None:
    """Start `n` side processes (idempotent), each importing matplotlib at once (every run draws plots). By default
    two, which draw a task's PNG and SVG side by side; one on a machine of two cores or fewer, where the model's
    loading and its threads keep both busy and a second import would slow them more than it saves at the end."""
    global _pool, _size
    if _pool is not None:
        return
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor

    n = n or (1 if (os.cpu_count() or 1) <= 2 else 2)
    try:
        _pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(n):  # one process per job until n run: each starts importing now
            _pool.submit(_import_matplotlib)
        _size = n
    except (OSError, RuntimeError):  # no processes here (a locked-down sandbox): the caller works in-process
        _pool, _size = None, 0


def pool() -> Executor | None:
    """The side processes, or None when none were started (the caller then works in its own process)."""
    return _pool


def size() -> int:
    """How many side processes there are (0 when none were started)."""
    return _size


def stop() -> None:
    """End the side processes (a run's last step, also when it failed): queued work is dropped, the processes are
    terminated rather than asked to exit. A run has waited for every drawing it needs by now (each file is written
    aside and renamed, so one cut short leaves no half file), and a process with matplotlib loaded takes 0.2 s to
    exit on its own, which the interpreter's exit would wait for."""
    global _pool, _size
    if _pool is not None:
        # The executor's own processes, read before shutdown forgets them (where a Python lacks the attribute, they
        # exit on their own as before).
        processes = list((getattr(_pool, "_processes", None) or {}).values())
        _pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        _pool, _size = None, 0


def _import_matplotlib() -> None:
    import matplotlib.figure  # noqa: F401
