"""IPS management information (Tables 4-6/4-7): respondents' columns survey-weighted."""
from __future__ import annotations

import numpy as np
import pytest

from data_synth.ips import _weighted_partition
from data_synth.targets import load_targets
from hlt_replicate import vocab
from hlt_replicate.weighting import ipw_weights


def test_weighted_partition_keeps_counts_and_meets_bands():
    rng = np.random.default_rng(3)
    w = rng.lognormal(0.0, 0.4, 777)
    counts = np.array([24, 156, 230, 195, 117, 40, 12, 1, 2])
    share = np.array([3.2, 20.0, 29.6, 25.1, 15.0, 5.2, 1.5, 0.1, 0.2]) / 100  # SCR IW, Table 4-6 resp
    tol = np.full(len(share), 0.03 / 100)
    b_of = _weighted_partition(w, counts, share, tol, np.random.default_rng(0))
    assert np.array_equal(np.bincount(b_of, minlength=len(counts)), counts)
    got = np.bincount(b_of, weights=w, minlength=len(counts)) / w.sum()
    assert np.all(np.abs(got - share) <= tol + 1e-12), got - share
    # same seed, same assignment
    assert np.array_equal(b_of, _weighted_partition(w, counts, share, tol, np.random.default_rng(0)))


def test_weighted_partition_reports_best_when_out_of_reach():
    w = np.ones(10)  # equal weights: a bin of 3 people always holds 30 %
    b_of = _weighted_partition(w, [3, 7], np.array([0.25, 0.75]), np.full(2, 1e-4), np.random.default_rng(0))
    assert np.array_equal(np.bincount(b_of), [3, 7])


@pytest.mark.parametrize("section", ["ips_sessions", "first_session"])
def test_respondent_columns_print_weighted_not_unweighted(exact_trial, section):
    """Every weighted respondents' cell prints as published; unweighted, SCR IW's cannot all
    (no whole number of its 777 respondents is 15.0 %)."""
    t = load_targets()
    spec = t.raw[section]
    col = vocab.SESSIONS if section == "ips_sessions" else vocab.WEEKS_TO_FIRST
    d = exact_trial.data
    d = d.assign(**{vocab.WEIGHT: ipw_weights(d)})  # the kit's survey weights, as the scorecard uses
    for g in t.groups:
        rows = d[(d[vocab.GROUP] == g) & (d[vocab.TREAT] == 1) & (d[vocab.RESPONDED] == 1) & d[col].notna()]
        assert len(rows) == spec[g]["base"]["resp"]
        x, w = rows[col].to_numpy(), rows[vocab.WEIGHT].to_numpy()
        for (lo, hi), printed in zip(spec["bin_bounds"], spec[g]["resp"]):
            share = 100 * np.average((x >= lo) & (x <= hi), weights=w)
            assert round(share, 1) == pytest.approx(printed), (g, lo, share, printed)
        if "mean" in spec[g]:
            assert round(float(np.average(x, weights=w)), 1) == pytest.approx(spec[g]["mean"]["resp"])
    if section == "ips_sessions":
        rows = d[(d[vocab.GROUP] == "SCR_IW") & (d[vocab.TREAT] == 1) & (d[vocab.RESPONDED] == 1) & d[col].notna()]
        x = rows[col].to_numpy()
        plain = [round(100 * np.mean((x >= lo) & (x <= hi)), 1) for lo, hi in spec["bin_bounds"]]
        assert plain != list(spec["SCR_IW"]["resp"])
