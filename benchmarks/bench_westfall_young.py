"""Benchmark: vectorised Westfall–Young vs a brute-force statsmodels loop.

Workload (issue #4): n ≈ 3,500 respondents, K = 12 outcomes, ~30 control columns (the SAP
controls of one SCR group as dummies: age, 4 binary, qualification, health, area, cohort),
survey weights, HC1 robust SEs, B = 10,000 permutations.

The brute-force loop refits K statsmodels ``WLS(...).fit(cov_type="HC1")`` models per
resample; it is run on a few resamples only and scaled to a per-resample cost (printed as
such), once with the default BLAS threads and once single-threaded, and the faster is used.
The vectorised run is the full B = 10,000 call of ``hlt_replicate.multiple_testing``, best of
``--repeat`` runs. The machine may be shared: the script prints the CPU pressure from other
processes so that a slow run can be read for what it is.

Run:  /work/main/.venv/bin/python benchmarks/bench_westfall_young.py [--reps 10000] [--loop 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

from hlt_replicate import vocab  # noqa: E402
from hlt_replicate.impact import build_design  # noqa: E402
from hlt_replicate.multiple_testing import _blas_threads, westfall_young  # noqa: E402


#: Beyond the SAP controls (24 columns for one SCR group), to reach ~30 control columns.
CONTROLS_EXTRA = ("work_history", "bl_eq5d", "bl_swemwbs", "bl_eqvas")


def make_workload(n: int = 3500, k: int = 12, seed: int = 0, missing: float = 0.0) -> tuple[pd.DataFrame, list[str]]:
    """A respondent sample of one SCR group with the SAP controls, work history, three
    baseline scores and ``k`` outcomes (the first three with a small effect)."""
    rng = np.random.default_rng(seed)
    scr_areas = [a for a in vocab.AREAS if vocab.SITE_OF_AREA[a] == "SCR"]
    df = pd.DataFrame(
        {
            vocab.TREAT: rng.permutation(np.arange(n) % 2),
            "age": rng.uniform(18, 64, n).round(1),
            "female": rng.binomial(1, 0.5, n),
            "nonwhite": rng.binomial(1, 0.15, n),
            "partner": rng.binomial(1, 0.35, n),
            "dep_children": rng.binomial(1, 0.25, n),
            "qual": rng.choice(vocab.QUAL_LEVELS, n),
            "health": rng.choice(vocab.HEALTH_LEVELS, n),
            "area": rng.choice(scr_areas, n),
            "cohort": rng.choice(vocab.COHORTS, n),
            "work_history": rng.choice(vocab.WORK_HISTORY_LEVELS, n),
            "bl_eq5d": rng.uniform(-0.2, 1, n),
            "bl_swemwbs": rng.uniform(7, 35, n),
            "bl_eqvas": rng.uniform(0, 100, n),
            vocab.WEIGHT: rng.uniform(0.6, 1.8, n),
        }
    )
    latent = rng.normal(size=n)
    outcomes = [f"y{j + 1}" for j in range(k)]
    for j, o in enumerate(outcomes):
        y = 0.5 * latent + 0.01 * df["age"] + rng.normal(size=n) + (0.15 * df[vocab.TREAT] if j < 3 else 0)
        if missing:
            y[rng.random(n) < missing] = np.nan
        df[o] = y
    return df, outcomes


def brute_force_seconds_per_resample(df, outcomes, controls, reps: int, seed: int = 1) -> float:
    """Time of the naive loop: permute, rebuild nothing but the treatment column, refit K
    statsmodels WLS models with HC1 per resample."""
    import statsmodels.api as sm

    rng = np.random.default_rng(seed)
    designs = [build_design(df, o, vocab.TREAT, controls, vocab.WEIGHT, False) for o in outcomes]
    t = df[vocab.TREAT].to_numpy(dtype=float)
    for d in designs:  # warm-up: statsmodels imports some modules on its first fit
        sm.WLS(d.y, d.X, weights=d.w).fit(cov_type="HC1").pvalues[1]
    start = time.perf_counter()
    for _ in range(reps):
        tp = t[rng.permutation(len(t))]
        for d in designs:
            X = d.X.copy()
            X[:, 1] = tp[d.index]
            sm.WLS(d.y, X, weights=d.w).fit(cov_type="HC1").pvalues[1]
    return (time.perf_counter() - start) / reps


def _cpu_pressure() -> str:
    try:
        with open("/proc/pressure/cpu") as fh:
            some = fh.readline().split()
        return next(f for f in some if f.startswith("avg60=")).split("=")[1] + " %"
    except (OSError, StopIteration):
        return "n/a"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3500)
    ap.add_argument("--k", type=int, default=12)
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--loop", type=int, default=20, help="resamples for the brute-force loop (then scaled)")
    ap.add_argument("--repeat", type=int, default=3, help="vectorised runs; the best is reported")
    args = ap.parse_args(argv)

    controls = [*vocab.SAP_CONTROLS, *CONTROLS_EXTRA]
    df, outcomes = make_workload(args.n, args.k)
    X = build_design(df, outcomes[0], vocab.TREAT, controls, vocab.WEIGHT, False).X
    n_controls = X.shape[1] - 2

    westfall_young(df, outcomes, controls=controls, weights=vocab.WEIGHT, reps=64)  # warm-up
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = westfall_young(df, outcomes, controls=controls, weights=vocab.WEIGHT, reps=args.reps, seed=0)
        times.append(time.perf_counter() - t0)
    vec = min(times)

    dfm, _ = make_workload(args.n, args.k, missing=0.08)
    t0 = time.perf_counter()
    westfall_young(dfm, outcomes, controls=controls, weights=vocab.WEIGHT, reps=args.reps, seed=0)
    vec_missing = time.perf_counter() - t0

    t0 = time.perf_counter()
    westfall_young(df, outcomes, controls=controls, weights=vocab.WEIGHT, reps=1000, method="bootstrap", seed=0)
    boot_1000 = time.perf_counter() - t0

    # the loop at its best: default BLAS threads and single-threaded BLAS (faster for these
    # small fits, and far faster when other processes share the cores); the faster is used
    loop_default = brute_force_seconds_per_resample(df, outcomes, controls, args.loop)
    with _blas_threads(1):
        loop_single = brute_force_seconds_per_resample(df, outcomes, controls, args.loop)
    loop = min(loop_default, loop_single)
    per_vec = vec / args.reps

    print(f"Westfall–Young benchmark: n = {len(df):,}, K = {len(outcomes)} outcomes, "
          f"{n_controls} control columns (+ constant, treatment), weights, HC1, {os.cpu_count()} cores")
    print()
    rows = [
        ("vectorised, full run", f"B = {args.reps:,}", f"{vec:8.2f} s", f"{1e6 * per_vec:10.1f} µs"),
        (f"brute-force statsmodels loop", f"{args.loop} resamples, scaled", f"{loop * args.reps:8.1f} s",
         f"{1e6 * loop:10.1f} µs"),
        ("vectorised, 8% missing per outcome", f"B = {args.reps:,}", f"{vec_missing:8.2f} s",
         f"{1e6 * vec_missing / args.reps:10.1f} µs"),
        ("vectorised bootstrap (null imposed)", "B = 1,000", f"{boot_1000:8.2f} s", f"{1e6 * boot_1000 / 1000:10.1f} µs"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'run':<{w0}}  {'resamples':<{w1}}  {'total':>10}  {'per resample':>13}")
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:>10}  {r[3]:>13}")
    print()
    print(f"speed-up per resample (loop / vectorised): {loop / per_vec:,.0f}×   "
          f"[targets: full run ≤ 2 s, ≥ 300×]")
    print(f"(the loop's total is its per-resample time × {args.reps:,}; it was timed on {args.loop} resamples, "
          f"best of default BLAS threads {1e3 * loop_default:.1f} ms and one BLAS thread {1e3 * loop_single:.1f} ms)")
    print(f"vectorised: best of {args.repeat} runs {', '.join(f'{t:.2f}' for t in times)} s; "
          f"CPU pressure from other processes (avg60, /proc/pressure/cpu): {_cpu_pressure()}")
    print()
    print(res[["coef", "se", "p", "p_wy", "p_wy_mcse", "p_holm"]].round(4).head(5).to_string())


if __name__ == "__main__":
    main()
