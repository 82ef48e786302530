"""Timing of the benefit-cost functions behind notebook 05's widgets and analyses.

Run: ``python benchmarks/bench_bcr.py``. Prints the median wall time of each call over
repeated runs. Targets: widget callback (dashboard) well under 0.5 s; Monte Carlo with
10,000 draws and the tornado under 50 ms.
"""
from __future__ import annotations

import statistics
import time

from hlt_replicate import bcr


def bench(label: str, fn, repeat: int = 20) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(f"{label:<45s} {1000 * med:9.2f} ms")
    return med


def main() -> None:
    jobs2 = bcr.rand_inputs(2)
    bench("evaluate (one business case)", lambda: bcr.evaluate(jobs2), repeat=200)
    bench("reproduce_rand_table (all 56 cells)", lambda: bcr.reproduce_rand_table())
    bench("tornado (6 inputs)", lambda: bcr.tornado(jobs2, bcr.default_ranges(jobs2, option=2)))
    bench("two_way (33 x 41 grid)", lambda: bcr.two_way(jobs2, "cost_per_participant", range(500, 1320, 25),
                                                          "net_employment_effect", [0.15 + 0.005 * i for i in range(41)]))
    bench("break_even_table (4 inputs)", lambda: bcr.break_even_table(jobs2))
    bench("monte_carlo (10,000 draws)", lambda: bcr.monte_carlo(jobs2, bcr.rand_ranges(2), n=10_000))
    bench("monte_carlo (100,000 draws)", lambda: bcr.monte_carlo(jobs2, bcr.rand_ranges(2), n=100_000), repeat=5)
    bench("hlt_bcr (20,000 simulation draws)", lambda: bcr.hlt_bcr(0.04, 0.013))
    bench("dashboard (widget callback, incl. figure)", lambda: bcr.dashboard(2, cost_per_participant=900), repeat=5)
    bench("audit_rand_tables", lambda: bcr.audit_rand_tables(), repeat=5)


if __name__ == "__main__":
    main()
