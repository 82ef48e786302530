"""Family-wise error rate of hlt_replicate.westfall_young under the global null, by simulation
(hlt_replicate.lessons.ch04.simulate_fwer runs the public function on simulated trials).

With B permutations the Westfall–Young FWER under the global null is exactly
ceil(αB)/(B+1) (0.0499 for B = 500): the slow test checks it within [0.04, 0.06] over 3,000
trials (binomial SE 0.004). Unadjusted testing of 5 correlated outcomes rejects at least once
in about 21 % of the trials. Run the slow tests with `pytest -m slow`.
"""
from __future__ import annotations

import pytest

from hlt_replicate.lessons.ch04 import simulate_fwer, simulate_null_trial


def test_fwer_fast_version():
    """Few trials, wide tolerance (binomial SE ≈ 0.013 at 300 trials)."""
    res = simulate_fwer(trials=300, n=100, k=5, rho=0.3, reps=200, seed=0)
    assert 0.015 <= res.loc["westfall-young", "fwer"] <= 0.10
    assert res.loc["unadjusted", "fwer"] >= 0.12  # ≈ 0.21 expected: the inflation
    assert res.loc["holm", "fwer"] <= 0.10
    assert res.attrs["reps"] == 200 and (res["trials"] == 300).all()


def test_null_trial_generator():
    data, outcomes = simulate_null_trial(n=50, k=3, rho=0.5, rng=1)
    assert outcomes == ["y1", "y2", "y3"]
    assert data["treat"].sum() == 25 and len(data) == 50
    assert {"x", "w", "y1"} <= set(data.columns)


@pytest.mark.slow
def test_fwer_within_nominal_band_over_3000_trials():
    res = simulate_fwer(trials=3000, n=120, k=5, rho=0.3, reps=500, seed=0)
    wy = res.loc["westfall-young", "fwer"]
    assert 0.04 <= wy <= 0.06, res
    assert res.loc["unadjusted", "fwer"] >= 0.15, res  # unadjusted testing inflates the FWER
    assert res.loc["holm", "fwer"] <= 0.06, res


@pytest.mark.slow
def test_fwer_single_step_and_bootstrap_over_2000_trials():
    single = simulate_fwer(trials=2000, n=120, k=5, rho=0.3, reps=500, step="single", seed=1)
    assert 0.04 <= single.loc["westfall-young", "fwer"] <= 0.06, single
    # the null-imposed bootstrap is approximate in small samples: a wider band
    boot = simulate_fwer(trials=2000, n=120, k=5, rho=0.3, reps=300, method="bootstrap", seed=2)
    assert 0.03 <= boot.loc["westfall-young", "fwer"] <= 0.075, boot
