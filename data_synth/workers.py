"""Worker processes for the generator's independent pieces of work: the trial groups' own
stages (:mod:`data_synth.generator`) and the pooled stage's outcomes
(:mod:`data_synth.pooled`).

On Linux the workers are forked: they start at once, share the parent's imports, and
inherit the function and its tasks, so only a task's position goes through the pipe (the
result comes back pickled). Elsewhere (``spawn``) the function must be importable and the
tasks picklable; they are sent to the workers.

Forking a process in which other threads run can deadlock the child (a lock another thread
holds at the fork stays held in the child; Python 3.12 warns about it, and 3.14 no longer
forks by default), and a Jupyter kernel runs several (heartbeat, I/O, control). So by default
(``jobs=None``) such a process does the work itself: a kernel's first exact trial takes about
5 s instead of 3 s, and :func:`hlt_replicate.teaching.load_trial` keeps it on disk for the
other notebooks. A fork server or spawned workers would avoid the fork, but they re-import
the caller's ``__main__`` (a script without an ``if __name__ == "__main__"`` guard would run
again in every worker) and start by importing the generator anew (1-2 s). Asked for
(``jobs=2``), workers are forked all the same.

Every piece draws from its own random stream or none, so the output does not depend on the
number of workers; the tests check that it is the same byte for byte.
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Callable, Sequence

FORK = sys.platform.startswith("linux")

#: in a forked worker, the function and tasks it inherited from the parent
_INHERITED: tuple | None = None


#: at most this many workers by default: there are three trial groups, and the pooled
#: stage's longest piece (weeks in work) is about 40 % of it, so more do not go faster;
#: each worker holds its own design matrices (about 1 GB under --scale 100)
DEFAULT_MAX_JOBS = 3


def resolve_jobs(jobs: int | None, big: bool, alike: int | None = None) -> int:
    """The number of workers: ``jobs`` itself, or for ``None`` one per CPU (at most
    :data:`DEFAULT_MAX_JOBS`) when the work is ``big`` enough to pay for starting workers
    and the platform forks them (Linux) and no other thread runs in this process, else 1.

    ``alike``: the work is that many tasks of about the same size (the trial groups). With
    at least two CPUs and at most :data:`DEFAULT_MAX_JOBS` such tasks, each gets a worker:
    three groups on two CPUs then share them and finish together, where two workers leave
    one doing two groups alone at the end (under ``--scale 100`` the groups' stages take
    22 s instead of 27 s; measured, ``benchmarks/bench_generate.py``). At the trial's own
    size the groups differ more (one group's search often takes twice another's), and
    :func:`run` lets the first of them keep a CPU to itself."""
    if jobs is not None:
        return int(jobs)
    if not (big and FORK) or threading.active_count() > 1:  # threads here: no fork (module docstring)
        return 1
    cpus = os.cpu_count() or 1
    if alike is not None and cpus >= 2 and alike <= DEFAULT_MAX_JOBS:
        return alike
    return min(cpus, DEFAULT_MAX_JOBS)


#: niceness of the workers doing the other tasks when there are more workers than CPUs (:func:`run`)
LOWER = 10


def run(fn: Callable, tasks: Sequence, jobs: int, order: Sequence[int] | None = None) -> list:
    """``[fn(task) for task in tasks]``, in ``jobs`` worker processes when more than one
    (started in ``order``: longest first shortens the wait for the last one).

    With more workers than CPUs (three trial groups on two), the first task in ``order``
    keeps a CPU to itself: the workers doing the others run at a lower priority (niceness
    :data:`LOWER`; forked workers only) and share what it leaves, and once it is done they
    run side by side. Sharing alike, the first would be slowed by the others until the
    shortest was done (the makespan is then the longest plus half the shortest); this way
    it is about the first's own time, when it is the longest."""
    global _INHERITED
    jobs = min(int(jobs), len(tasks))
    if jobs <= 1:
        return [fn(task) for task in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = list(range(len(tasks))) if order is None else list(order)
    crowded = jobs > (os.cpu_count() or 1)
    _INHERITED = (fn, tasks, order[0] if crowded else None, os.nice(0) + LOWER) if FORK else None
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork" if FORK else None)) as pool:
            futures = {i: pool.submit(_inherited, i) if FORK else pool.submit(fn, tasks[i]) for i in order}
            return [futures[i].result() for i in range(len(tasks))]
    finally:
        _INHERITED = None


def _inherited(i: int):
    fn, tasks, first, lower = _INHERITED
    if first is not None and i != first:
        try:  # this worker process only (it ends with the pool), once if it does two tasks
            os.nice(lower - os.nice(0))
        except OSError:  # a platform that refuses it: equal shares, as before
            pass
    return fn(tasks[i])
