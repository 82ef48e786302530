"""Worker processes for the generator (data_synth/workers.py) and the pooled stage's
independent pieces of work (data_synth.pooled._chains)."""
from __future__ import annotations

import os
import sys

import pytest

from data_synth import workers
from data_synth.pooled import COUPLED, _chains
from hlt_replicate import vocab

linux = pytest.mark.skipif(not workers.FORK, reason="workers are forked (and inherit closures) on Linux only")
#: these tests ask for forked workers on purpose; the test runner may have started (idle)
#: threads by then, which Python >= 3.12 warns about (data_synth/workers.py docstring)
forks_here = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


@linux
@forks_here
def test_run_returns_results_in_task_order_from_other_processes():
    offset = 10  # a closure: forked workers inherit it

    def work(x):
        return x + offset, os.getpid()

    out = workers.run(work, [1, 2, 3, 4], jobs=2, order=[3, 1, 0, 2])
    assert [v for v, _ in out] == [11, 12, 13, 14]
    assert {pid for _, pid in out} != {os.getpid()}


@linux
@forks_here
@pytest.mark.skipif((os.cpu_count() or 1) > 8, reason="starts one worker more than there are CPUs")
def test_with_more_workers_than_cpus_the_first_task_keeps_its_priority():
    """The first task in ``order`` runs at this process's niceness and the others at
    LOWER more (capped at 19); with no more workers than CPUs, all at this process's."""
    base = os.nice(0)
    n = (os.cpu_count() or 1) + 1
    crowded = workers.run(lambda _: os.nice(0), list(range(n)), jobs=n, order=[1, 0, *range(2, n)])
    assert crowded[1] == base
    assert all(v == min(base + workers.LOWER, 19) for i, v in enumerate(crowded) if i != 1), crowded
    if n > 2:  # two workers fit (with one CPU they would not)
        assert workers.run(lambda _: os.nice(0), [0, 1], jobs=2, order=[1, 0]) == [base, base]


def test_one_job_runs_in_this_process():
    assert workers.run(lambda x: (x, os.getpid()), [5], jobs=4) == [(5, os.getpid())]
    assert workers.run(lambda x: x, [1, 2], jobs=1) == [1, 2]


@linux
@forks_here
def test_an_error_in_a_worker_is_raised_here():
    def work(x):
        if x == 2:
            raise ValueError("task 2 cannot run")
        return x

    with pytest.raises(ValueError, match="task 2 cannot run"):
        workers.run(work, [1, 2, 3], jobs=2)


@pytest.fixture
def single_threaded(monkeypatch):
    """As if no other thread ran in this process (the test runner may start some)."""
    monkeypatch.setattr(workers.threading, "active_count", lambda: 1)


def test_resolve_jobs(single_threaded):
    assert workers.resolve_jobs(3, big=False) == 3
    assert workers.resolve_jobs(None, big=False) == 1
    expected = min(os.cpu_count() or 1, workers.DEFAULT_MAX_JOBS) if sys.platform.startswith("linux") else 1
    assert workers.resolve_jobs(None, big=True) == expected
    assert workers.resolve_jobs(2, big=True, alike=3) == 2  # asked for: as asked


def test_resolve_jobs_gives_alike_tasks_a_worker_each(monkeypatch, single_threaded):
    monkeypatch.setattr(workers, "FORK", True)
    for cpus, alike, expected in ((2, 3, 3), (1, 3, 1), (8, 3, 3), (2, 2, 2), (2, 5, 2), (8, 5, 3)):
        monkeypatch.setattr(workers.os, "cpu_count", lambda: cpus)
        assert workers.resolve_jobs(None, big=True, alike=alike) == expected, (cpus, alike)
    assert workers.resolve_jobs(None, big=False, alike=3) == 1
    monkeypatch.setattr(workers, "FORK", False)
    assert workers.resolve_jobs(None, big=True, alike=3) == 1


def test_no_worker_is_forked_by_default_where_other_threads_run(monkeypatch):
    """A Jupyter kernel runs threads; forking it can deadlock the child (module docstring),
    so by default the work stays in the process; asked for, workers are still forked."""
    monkeypatch.setattr(workers, "FORK", True)
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(workers.threading, "active_count", lambda: 4)
    assert workers.resolve_jobs(None, big=True, alike=3) == 1
    assert workers.resolve_jobs(None, big=True) == 1
    assert workers.resolve_jobs(3, big=True, alike=3) == 3
    monkeypatch.setattr(workers.threading, "active_count", lambda: 1)
    assert workers.resolve_jobs(None, big=True, alike=3) == 3


def test_pooled_chains_cover_every_outcome_once_with_coupled_ones_together():
    chains = _chains()
    flat = [o for c in chains for o in c]
    assert sorted(flat) == sorted(vocab.OUTCOMES)
    for pair in COUPLED:
        assert pair in chains  # together, in this order
    assert "weeks_work" in chains[0]  # the longest first
