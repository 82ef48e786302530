"""Teaching helpers for multiple testing: simulate the family-wise error rate (FWER).

Pure functions behind the multiple-testing lesson (a widget can wrap them): under the global
null — the treatment affects none of K outcomes — how often does at least one test come out
"significant"? Unadjusted testing at 5 % rejects far more often than 5 % (≈ 1 − 0.95^K for
independent outcomes); Bonferroni/Holm/Šidák control the FWER but grow conservative when the
outcomes are correlated; Westfall–Young resampling controls it at the nominal level whatever
the correlation (Westfall & Young 1993, ch. 2). The simulated trials go through the public
:func:`hlt_replicate.multiple_testing.westfall_young`, so the simulation also checks it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import InputError
from .multiple_testing import _blas_threads, westfall_young

#: Procedures compared by :func:`simulate_fwer` (rows of its result), with the column of a
#: :func:`westfall_young` table each reads.
PROCEDURES: dict[str, str] = {
    "unadjusted": "p",
    "bonferroni": "p_bonferroni",
    "holm": "p_holm",
    "sidak": "p_sidak",
    "benjamini-hochberg": "p_bh",
    "westfall-young": "p_wy",
}


def simulate_null_trial(
    n: int = 120,
    k: int = 5,
    rho: float = 0.0,
    rng: np.random.Generator | None = None,
    *,
    weights: bool = True,
    control: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """One randomised trial with ``k`` outcomes on which the treatment has no effect.

    Complete randomisation of ``n`` people into two equal arms; outcomes ``y1..yk`` share a
    common factor so that any two correlate at ``rho`` (before the control); an optional
    control ``x`` shifts every outcome, and optional survey weights ``w`` vary across people.
    """
    rng = np.random.default_rng(rng)
    if not 0 <= rho < 1:
        raise InputError(f"rho must be in [0, 1), got {rho!r}")
    treat = rng.permutation(np.arange(n) % 2)
    common = rng.standard_normal(n)
    x = rng.standard_normal(n)
    cols = {"treat": treat, "x": x, "w": rng.uniform(0.5, 2.0, n)}
    names = [f"y{j + 1}" for j in range(k)]
    for name in names:
        y = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal(n)
        cols[name] = y + (0.5 * x if control else 0.0)
    return pd.DataFrame(cols), names


def simulate_fwer(
    trials: int = 500,
    n: int = 120,
    k: int = 5,
    rho: float = 0.0,
    reps: int = 500,
    alpha: float = 0.05,
    *,
    method: str = "permutation",
    step: str = "down",
    weights: bool = True,
    control: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Share of simulated null trials in which at least one of ``k`` tests rejects.

    Each trial draws :func:`simulate_null_trial` data and runs :func:`westfall_young` with
    ``reps`` resamples (controls ``x`` and weights ``w`` when enabled). A hypothesis is
    rejected when its p-value is below ``alpha`` (strictly, as the SAP's "p-value < 0.05").
    Returns one row per procedure with the FWER, its binomial standard error and the number
    of trials. With ``reps = B`` permutations the exact FWER of Westfall–Young is
    ``ceil(alpha·B)/(B+1)`` under the global null (0.0499 for B = 500, α = 0.05).
    """
    if trials < 1 or n < 8 or k < 1:
        raise InputError(f"need trials >= 1, n >= 8, k >= 1; got trials={trials}, n={n}, k={k}")
    children = np.random.SeedSequence(seed).spawn(trials)
    hits = {p: 0 for p in PROCEDURES}
    it = range(trials)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="simulated trials", leave=False)
    with _blas_threads(1):  # thousands of tiny fits: single-threaded BLAS is far faster
        for i in it:
            _one_trial(children[i], n, k, rho, reps, alpha, method, step, weights, control, hits)
    out = pd.DataFrame({"fwer": {p: h / trials for p, h in hits.items()}})
    out["mcse"] = np.sqrt(out["fwer"] * (1 - out["fwer"]) / trials)
    out["trials"] = trials
    out.index.name = "procedure"
    out.attrs.update({"n": n, "k": k, "rho": rho, "reps": reps, "alpha": alpha, "method": method, "step": step})
    return out


def _one_trial(seed_seq, n, k, rho, reps, alpha, method, step, weights, control, hits) -> None:
    rng = np.random.default_rng(seed_seq)
    data, outcomes = simulate_null_trial(n, k, rho, rng, weights=weights, control=control)
    res = westfall_young(
        data,
        outcomes,
        "treat",
        ["x"] if control else (),
        "w" if weights else None,
        reps,
        method,
        seed=int(rng.integers(2**32)),
        step=step,
    )
    for proc, col in PROCEDURES.items():
        hits[proc] += bool((res[col] < alpha).any())
