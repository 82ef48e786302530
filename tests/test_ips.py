"""IPS management information (Tables 4-6/4-7): respondents' columns survey-weighted."""
from __future__ import annotations

import dataclasses

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


def _pooled(vals, w, members, bounds):
    W = sum(w[m].sum() for m in members)
    return np.array([sum(w[m][(vals[m] >= lo) & (vals[m] <= hi)].sum() for m in members) / W for lo, hi in bounds])


def _group_shares(vals, w, m, bounds):
    return np.array([w[m][(vals[m] >= lo) & (vals[m] <= hi)].sum() / w[m].sum() for lo, hi in bounds])


def test_weighted_totals_exchange_values_within_groups_and_reach_the_pooled_band():
    """Three groups whose shares print as their own (rounded) cells; the pooled Total is
    aimed at the rounded pool of the printed cells. Exchanges keep each group's values (a
    permutation), leave the 0 bin alone, keep every group share inside its band and bring
    every movable Total inside its rounding."""
    from data_synth.ips import SLACK, _weighted_totals

    rng = np.random.default_rng(11)
    bounds = [(0, 0), (1, 5), (6, 10), (11, 15), (16, 20)]
    lo, hi = np.array([b[0] for b in bounds], float), np.array([b[1] for b in bounds], float)
    sizes = (780, 1050, 1000)
    members = np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])
    w = rng.lognormal(0.0, 0.35, sum(sizes))
    vals = rng.integers(0, 21, sum(sizes)).astype(float)
    half = 0.0005  # one decimal of a percentage
    shares = np.array([np.round(_group_shares(vals, w, m, bounds) * 1000) / 1000 for m in members])
    Wg = np.array([w[m].sum() for m in members])
    total = np.round(Wg @ shares / Wg.sum() * 1000) / 1000
    movable = lo >= 1
    before = vals.copy()
    _weighted_totals(vals, w, members, lo, hi, movable, shares, total, half, np.random.default_rng(0))
    for g, m in enumerate(members):
        assert sorted(vals[m]) == sorted(before[m])  # exchanged, not redrawn
        assert np.all(np.abs(_group_shares(vals, w, m, bounds) - shares[g]) <= half + 1e-12)
    assert np.array_equal(vals == 0, before == 0)  # participation untouched
    gap = np.abs(_pooled(vals, w, members, bounds) - total)
    assert np.all(gap[movable] <= SLACK * half + 1e-12), gap * 100
    # same seed, same values
    again = before.copy()
    _weighted_totals(again, w, members, lo, hi, movable, shares, total, half, np.random.default_rng(0))
    assert np.array_equal(again, vals)


def test_mi_totals_print_in_the_exact_trial(exact_trial):
    """The Total columns of Tables 4-6/4-7 print as published on the default trial, but
    Table 4-7's "1 week" (it needs the groups' shares above the top of their rounding with
    the kit's weights: 30.01 reached)."""
    t = load_targets()
    d = exact_trial.data
    d = d.assign(**{vocab.WEIGHT: ipw_weights(d)})
    tr = d[d[vocab.TREAT] == 1]
    for section, col, skip in (("ips_sessions", vocab.SESSIONS, set()), ("first_session", vocab.WEEKS_TO_FIRST, {"1"})):
        spec = t.raw[section]
        rows = tr[tr[col].notna()]
        resp = rows[rows[vocab.RESPONDED] == 1]
        for b, (lo, hi), p_all, p_resp in zip(spec["bins"], spec["bin_bounds"], spec["total"]["all"], spec["total"]["resp"]):
            if b in skip:
                continue
            x = rows[col].between(lo, hi)
            assert round(100 * x.mean(), 1) == pytest.approx(p_all), (section, b, "all")
            xr = resp[col].between(lo, hi)
            assert round(100 * np.average(xr, weights=resp[vocab.WEIGHT]), 1) == pytest.approx(p_resp), (section, b, "resp")
        if "mean" in spec["total"]:
            mean = np.average(resp[col], weights=resp[vocab.WEIGHT])
            assert round(mean, 1) == pytest.approx(spec["total"]["mean"]["resp"]), mean


def test_mi_totals_leave_data_alone_without_totals(exact_trial):
    """A targets file without ``total`` blocks (another trial's tables): nothing moves."""
    from data_synth.ips import calibrate_mi_totals

    t = load_targets()
    raw = {k: v for k, v in t.raw.items()}
    for section in ("ips_sessions", "first_session"):
        raw[section] = {k: v for k, v in raw[section].items() if k != "total"}
    t2 = dataclasses.replace(t, raw=raw)
    d = exact_trial.data.assign(**{vocab.WEIGHT: ipw_weights(exact_trial.data)})
    out = calibrate_mi_totals(d, t2, np.random.default_rng(0))
    assert out.equals(d)


def test_mi_totals_aimed_at_are_the_scorecards_published_cells():
    """The Totals appear twice: as the generator's aims (targets file) and as the
    scorecard's reference cells (published_extra.yaml); they must not drift apart."""
    from hlt_replicate.scorecard import load_extra

    t = load_targets()
    cells = {c["id"]: c for c in load_extra()["cells"]}
    for section, key in (("ips_sessions", "t4_6"), ("first_session", "t4_7")):
        spec = t.raw[section]
        for col in ("all", "resp"):
            for b, v in zip(spec["bins"], spec["total"][col]):
                assert cells[f"{key}.total.{col}.{b}"]["value"] == v, (section, col, b)
            assert cells[f"{key}.total.base.{col}"]["value"] == spec["total"]["base"][col]
        if "mean" in spec["total"]:
            for col in ("all", "resp"):
                assert cells[f"{key}.total.mean.{col}"]["value"] == spec["total"]["mean"][col]


def test_fit_means_shifts_groups_inside_their_rounding_so_the_pool_prints():
    """Seed 5's case: group means at the centre of their rounding pool to just outside the
    printed Total's rounding (11.855 for 11.9); one common shift, inside every group's
    rounding, fixes it."""
    import pandas as pd

    from data_synth.ips import _fit_means

    rng = np.random.default_rng(2)
    bounds = [(0, 0), (1, 5), (6, 10), (11, 15), (16, 20), (21, 25), (26, 30), (31, 35), (36, 45)]
    sizes = (777, 1054, 1002)
    members = np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])
    w = rng.lognormal(0.0, 0.3, sum(sizes))
    means = np.array([10.6, 11.3, 13.4])
    vals = np.concatenate([np.clip(np.round(rng.normal(mu, 5.0, n)), 1, 40) for mu, n in zip(means, sizes)])
    out = pd.DataFrame({vocab.SESSIONS: vals})
    Wg = np.array([w[m].sum() for m in members])
    total = float(Wg @ means / Wg.sum()) + 0.06  # the centres' pool would print 0.1 under it
    _fit_means(out, members, means, total, bounds, w, 0.05, rng)
    x = out[vocab.SESSIONS].to_numpy()
    got = np.array([np.average(x[m], weights=w[m]) for m in members])
    assert np.all(np.abs(got - means) < 0.05), got
    pooled = float(np.average(x, weights=w))
    assert abs(pooled - total) < 0.05, (pooled, total)
    assert np.all((x >= 1) & (x <= 45))


def test_zero_bin_shift_aims_the_groups_so_their_pool_prints():
    """The groups' 0-session shares are aimed inside their rounding (at most 0.8 of a
    half-unit away), toward the Total; nothing moves without a Total or under --scale."""
    from data_synth.ips import mi_weight_sums, zero_bin_shift

    t = load_targets()
    shift = zero_bin_shift(t)
    assert -0.04 - 1e-12 <= shift < 0  # printed group shares pool above the printed 2.8
    raw = dict(t.raw, ips_sessions={k: v for k, v in t.raw["ips_sessions"].items() if k != "total"})
    assert zero_bin_shift(dataclasses.replace(t, raw=raw)) == 0.0
    assert zero_bin_shift(t.with_scale(10)) == 0.0
    # a Total that the printed shares already pool to: (almost) no shift
    spec = t.raw["ips_sessions"]
    W = mi_weight_sums(t, t.groups)
    pooled = W @ np.array([spec[g]["resp"][0] for g in t.groups]) / W.sum()
    total = dict(spec["total"], resp=[round(pooled, 3)] + spec["total"]["resp"][1:])
    raw = dict(t.raw, ips_sessions=dict(spec, total=total))
    assert abs(zero_bin_shift(dataclasses.replace(t, raw=raw))) < 1e-3


def test_mi_weight_sums_estimate_the_survey_weights(exact_trial):
    """Table 4-1's estimate of each group's treated MI respondents' weight sum is within a
    few per cent of the real sums of ipw_weights on the default trial."""
    from data_synth.ips import mi_weight_sums

    t = load_targets()
    d = exact_trial.data.assign(**{vocab.WEIGHT: ipw_weights(exact_trial.data)})
    rows = d[(d[vocab.TREAT] == 1) & (d[vocab.RESPONDED] == 1) & d[vocab.SESSIONS].notna()]
    real = rows.groupby(vocab.GROUP)[vocab.WEIGHT].sum().reindex(list(t.groups)).to_numpy()
    est = mi_weight_sums(t, t.groups)
    assert np.all(np.abs(est / real - 1) < 0.05), est / real
