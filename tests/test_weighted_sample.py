"""The response-swap stage behind Tables 4-2..4-4 and §3.3.1 (data_synth/weighted_sample.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_synth
from data_synth import generator as G
from data_synth.population import draw_group
from data_synth.response import draw_response
from data_synth.population import aim
from data_synth.weighted_sample import (BLOCKS, _column, _lp_step, _moments, _ResponseModel, _se_effect, _Spec, _test_targets,
                                         _screen, _unique_columns, SCREEN,
                                         calibrate_weighted_sample, first_order_totals)
from hlt_replicate.balance import balance_table, diff_test
from hlt_replicate import vocab


@pytest.fixture(scope="module")
def group():
    t = data_synth.load_targets()
    pop = draw_group(t, "SCR_IW", G._rng(0, "population", 0), True)
    r, _, _ = draw_response(pop, t.respondents("SCR_IW"), G._rng(0, "response", 0), True)
    pop[vocab.RESPONDED] = r.astype(int)
    return t, pop


def test_first_order_effect_matches_an_exact_refit(group):
    """The implicit-function-theorem effect of one more respondent on the weighted totals is
    close to refitting the logit from scratch (first order: within a few per cent of the
    total change, with the right signs), and far closer than ignoring the refit."""
    _, pop = group
    model = _ResponseModel(pop)
    r = pop[vocab.RESPONDED].to_numpy(float)
    p = model.fit(r, tol=1e-12)
    X = np.column_stack([(pop["qual"] == "gcse").to_numpy(float), pop["age"].to_numpy(float)])
    M = _moments(X, np.ones((len(X), 1)), model.T.astype(bool))
    R = r == 1
    change = first_order_totals(model, M, p, R)
    j = int(np.flatnonzero(~R)[7])
    predicted = change(np.array([j]))[0]
    before = (R / p) @ M
    r2 = r.copy()
    r2[j] = 1.0
    refit = _ResponseModel(pop)
    p2 = refit.fit(r2, tol=1e-12)
    actual = ((r2 == 1) / p2) @ M - before
    naive = M[j] / p[j]  # ignoring the refit
    err, err_naive = np.abs(predicted - actual), np.abs(naive - actual)
    assert np.linalg.norm(err) < 0.05 * np.linalg.norm(err_naive)
    assert np.all(np.sign(predicted[np.abs(actual) > 0.1]) == np.sign(actual[np.abs(actual) > 0.1]))


def test_swaps_keep_counts_and_population(group):
    t, pop = group
    out = calibrate_weighted_sample(pop, t, "SCR_IW", np.random.default_rng(1))
    for arm in (0, 1):
        assert (out[vocab.TREAT] == arm).sum() == (pop[vocab.TREAT] == arm).sum()
        assert out.loc[out[vocab.TREAT] == arm, vocab.RESPONDED].sum() == t.respondents("SCR_IW")[arm]
    for col in ("age", "female", "qual", "health", "area", "cohort", "work_history"):
        assert out[col].equals(pop[col])  # the randomised population itself is untouched
    moved = (out[vocab.RESPONDED] != pop[vocab.RESPONDED]).sum()
    # selective response nudged, not redrawn: a fresh draw of each arm's respondents (same
    # counts) would change 2 R (N - R) / N statuses on average (1,219 here; the search: 466)
    n = [(pop[vocab.TREAT] == arm).sum() for arm in (0, 1)]
    r = [t.respondents("SCR_IW")[arm] for arm in (0, 1)]
    redraw = sum(2 * r[a] * (n[a] - r[a]) / n[a] for a in (0, 1))
    assert 0 < moved < 0.4 * redraw  # 488: no looser than the 20 % of the group (504) it replaces


def _cells(out, t, g: str) -> tuple[int, int, int]:
    """Printed best-effort cells (weighted levels and joint p-values) of a searched group, and
    its promised cells (T - C differences inside +/-0.01, single p-values): printed, total."""
    from hlt_replicate.weighting import ipw_weights

    bt = balance_table(out.assign(**{vocab.WEIGHT: ipw_weights(out)}), g)
    skipped = t.skipped()
    best = promised = n_promised = 0
    for key, (_, sv, cv, tv, p) in ((k, row["values"]) for k, row in t.baseline_rows(g).items()):
        base = f"baseline_characteristics.{g}.{key}"
        var, _, level = key.partition("=")
        if var == "bl_eq5d" or p is None and key in BLOCKS:
            continue
        kind = (bt["kind"] == "block") if key in BLOCKS else (
            (bt["level"] == level) if level else (bt["kind"] != "level"))
        row = bt[(bt["variable"] == var) & kind].iloc[0]
        if key in BLOCKS:
            best += f"{base}.p_value" not in skipped and abs(row["p"] - p) <= 0.005
            continue
        for col, value in (("sample", sv), ("control", cv), ("treatment", tv)):
            if value is not None and f"{base}.{col}" not in skipped:
                best += abs(row[col] - value) <= 0.005
        if cv is not None and tv is not None and f"{base}.difference" not in skipped:
            n_promised += 1
            promised += abs(row["treatment"] - row["control"] - round(tv - cv, 2)) <= 0.01
        if p is not None and f"{base}.p_value" not in skipped:
            n_promised += 1
            promised += abs(row["p"] - p) <= 0.005
    return best, promised, n_promised


def test_polish_prints_more_best_effort_cells_and_keeps_the_promised_ones():
    """The polish after the search (calibrate_weighted_sample): from the searched state, a
    few more swaps that bring near misses into their rounding. On seed 0's SCR OOW, as the
    generator calls the stage, one more weighted level prints (95 -> 96 of its best-effort
    cells), every promised cell still prints, and it moves few recruits (26 statuses; the
    search 694). (Seed 1's, the case until the joint tests' phase had a patience rule, now
    prints 96 without the polish.)"""
    t, g, seed = data_synth.load_targets(), "SCR_OOW", 0
    gi = list(t.groups).index(g)
    pop = draw_group(t, g, G._rng(seed, "population", gi), True)
    r, _, _ = draw_response(pop, t.respondents(g), G._rng(seed, "response", gi), True)
    pop[vocab.RESPONDED] = r.astype(int)
    pop = G.draw_item_missing(pop, t, g, G._rng(seed, "items", gi), True)
    plain = calibrate_weighted_sample(pop, t, g, G._rng(seed, "balance", gi), polish=False)
    polished = calibrate_weighted_sample(pop, t, g, G._rng(seed, "balance", gi))
    best0, promised0, n = _cells(plain, t, g)
    best1, promised1, _ = _cells(polished, t, g)
    assert n > 20 and promised0 == promised1 == n
    assert best1 > best0, (best0, best1)
    moved = (polished[vocab.RESPONDED] != plain[vocab.RESPONDED]).sum()
    assert 0 < moved < 0.25 * (plain[vocab.RESPONDED] != pop[vocab.RESPONDED]).sum(), moved


def test_search_options_reach_the_polish_except_its_own(monkeypatch):
    """calibrate_weighted_sample(**search): the search and then the polish get the options;
    the polish's own four override them."""
    import data_synth.weighted_sample as W

    calls = []

    def fake_search(grp, t, group, rng, **kw):
        calls.append(kw)
        return grp, 0

    monkeypatch.setattr(W, "_search", fake_search)
    t = data_synth.load_targets()
    W.calibrate_weighted_sample(pd.DataFrame({"x": [1]}), t, "SCR_IW", np.random.default_rng(0), pool=77, hinge=0.5,
                                block_retries=5)
    assert calls == [{"pool": 77, "hinge": 0.5, "block_retries": 5},
                     {"pool": 77, "hinge": W.POLISH_HINGE, "block_retries": 0, "polish": True,
                      "max_block_rounds": W.POLISH_ROUNDS}]


def _single_test_spec(X: np.ndarray, p: float, printed: float) -> _Spec:
    """A spec with one single-characteristic p-value target on column 0 and nothing else."""
    e_i, e_f = np.empty(0, int), np.empty(0)
    return _Spec(X, e_i, e_i, e_f, e_f, np.empty(0, bool), e_i, e_f, e_f, e_i, e_i, e_f, e_f, [(0, p, printed)], [])


def test_first_order_se_effect_matches_the_exact_variance(group):
    """The SE part of a single test's target: the predicted change in the robust variance of
    the weighted difference from adding one respondent (weights of the others held) is within
    a few per cent of recomputing diff_test's HC1 variance."""
    _, pop = group
    model = _ResponseModel(pop)
    r = pop[vocab.RESPONDED].to_numpy(float)
    p = model.fit(r, tol=1e-12)
    v = 1 / p
    T = model.T.astype(bool)
    R = r == 1
    X = pop[["age"]].to_numpy(float)
    C = np.array([np.average(X[R & ~T, 0], weights=v[R & ~T])])
    Tr = np.array([np.average(X[R & T, 0], weights=v[R & T])])
    O = np.ones_like(X)
    _, _, _, se_terms = _test_targets(_single_test_spec(X, 0.5, float(Tr[0] - C[0])), X, O, R, T, v, C, Tr)
    dt_dv = se_terms[0][1]
    for j in np.flatnonzero(~R)[:: max(1, int((~R).sum()) // 5)][:5]:
        predicted = _se_effect(se_terms, X, O, T, v, np.array([j]))[0, 0] / dt_dv
        before = diff_test(X[R, 0], T[R].astype(float), v[R])[1][0, 0]
        R2 = R.copy()
        R2[j] = True
        after = diff_test(X[R2, 0], T[R2].astype(float), v[R2])[1][0, 0]
        assert predicted == pytest.approx(after - before, rel=0.05, abs=1e-4 * before)


def test_lp_step_moves_are_balanced_and_close_the_gap():
    """The linear programme's rounded moves keep every count: as many added as dropped in
    each arm, as many arm moves each way, no dropped respondent also moved; and the moves'
    predicted effect closes most of the gap."""
    rng = np.random.default_rng(3)
    m, n_o, n_i = 6, 300, 400
    E_out, E_in, E_arm = rng.normal(0, 0.3, (n_o, m)), rng.normal(0, 0.3, (n_i, m)), rng.normal(0, 0.3, (n_i, m))
    arm_out, arm_in = rng.random(n_o) < 0.5, rng.random(n_i) < 0.5
    e = rng.normal(0, 4, m)
    add, drop, flip = _lp_step(e, E_out, E_in, E_arm, arm_out, arm_in, cap=40, rng=rng, n_cand=100)
    for arm in (False, True):
        assert (arm_out[add] == arm).sum() == (arm_in[drop] == arm).sum()
    assert arm_in[flip].sum() == (~arm_in[flip]).sum()
    assert not set(flip) & set(drop)
    assert len(set(add)) == len(add) and len(set(drop)) == len(drop)
    assert 0 < len(add) <= 40
    after = e - E_out[add].sum(0) + E_in[drop].sum(0) - E_arm[flip].sum(0)
    assert np.abs(after).sum() < 0.5 * np.abs(e).sum()


@pytest.mark.parametrize("printed,toward,expected", [
    (0.39, 0.41, 0.3945), (0.39, 0.30, 0.3855), (0.39, 0.392, 0.392), (0.39, None, 0.39), (41.51, 41.57, 41.5145)])
def test_population_aim_stays_inside_the_printed_rounding(printed, toward, expected):
    value = aim(printed, toward)
    assert value == pytest.approx(expected)
    assert round(value, 2) == printed


def test_weighted_columns_print_as_published(exact_trial):
    """Tables 4-2..4-4: the weighted sample, control and treatment columns of the default
    trial print as published (best effort: at least 95 % of the cells, the rest listed by the
    scorecard), and the report's "(-)" suppression of rare levels mostly holds too."""
    from hlt_replicate.weighting import ipw_weights

    t = data_synth.load_targets()
    d = exact_trial.data.assign(**{vocab.WEIGHT: ipw_weights(exact_trial.data)})
    skipped = t.skipped()
    hit = total = 0
    for g in t.groups:
        bt = balance_table(d, g)
        for key, row in t.baseline_rows(g).items():
            if key in BLOCKS:
                continue
            var, _, level = key.partition("=")
            sel = bt[(bt["variable"] == var) & ((bt["level"] == level) if level else (bt["kind"] != "level"))].iloc[0]
            for col, value in zip(("sample", "control", "treatment"), row["values"][1:4]):
                if f"baseline_characteristics.{g}.{key}.{col}" in skipped:
                    continue
                total += 1
                if value is None:
                    n = sel[f"n_{col}"]
                    hit += bool(0 < n < 10)
                else:
                    hit += round(float(sel[col]) + 1e-12, 2) == value
    assert total > 250
    assert hit >= 0.95 * total, f"{hit} of {total} weighted cells print as published"


def test_joint_block_pvalues_of_the_default_trial_print(exact_trial):
    """The categorical blocks' joint p-values the generator aims at (targets file,
    ``t4-2-4-block-pvalues``) print as published on the default trial: best effort, met for
    23 of seeds 0-23 (weighted_sample.retry_blocks), so checked on seed 0 only."""
    from hlt_replicate.weighting import ipw_weights

    t = data_synth.load_targets()
    aimed = [u for u in t.raw["untargeted"] if u["id"] == "t4-2-4-block-pvalues"][0]
    assert aimed.get("aimed")
    d = exact_trial.data.assign(**{vocab.WEIGHT: ipw_weights(exact_trial.data)})
    for cell in aimed["cells"]:
        _, g, block, _ = cell.split(".")
        bt = balance_table(d, g)
        got = float(bt[(bt["variable"] == block) & (bt["kind"] == "block")]["p"].iloc[0])
        assert round(got, 2) == pytest.approx(t.baseline_rows(g)[block]["values"][4]), (g, block, got)


def test_means_of_a_characteristic_with_missing_values(group):
    """Item non-response: the moments' observation patterns give each column's arm means
    over the recruits with it recorded (as balance_table), and the tests use those rows."""
    _, pop = group
    pop = pop.copy()
    rng = np.random.default_rng(8)
    pop.loc[rng.random(len(pop)) < 0.05, "qual"] = np.nan
    x, o = _column(pop, "qual=gcse")
    X = np.column_stack([x, pop["age"].to_numpy(float)])
    O = np.column_stack([o, np.ones(len(pop))])
    Ou, o_map = np.unique(O, axis=1, return_inverse=True)
    T = pop[vocab.TREAT].to_numpy() == 1
    R = pop[vocab.RESPONDED].to_numpy() == 1
    v = 1 / _ResponseModel(pop).fit(R.astype(float), tol=1e-10)
    tot = (v * R) @ _moments(X, Ou, T)
    C = tot[:2] / tot[4:4 + Ou.shape[1]][o_map.ravel()]
    rows = pop[R & ~T & (o > 0)]
    assert C[0] == pytest.approx(np.average(rows["qual"] == "gcse", weights=v[R & ~T & (o > 0)]), rel=1e-12)
    assert C[1] == pytest.approx(np.average(pop.loc[R & ~T, "age"], weights=v[R & ~T]), rel=1e-12)
    spec = _single_test_spec(X, 0.5, 0.0)
    Tr = tot[2:4] / tot[4 + Ou.shape[1]:][o_map.ravel()]
    L, need, tol, se_terms = _test_targets(spec, X, O, R, T, v, C, Tr)
    keep = R & (o > 0)
    _, V, _, _ = diff_test(X[keep, 0], T[keep].astype(float), v[keep])
    assert L[0, 0] == pytest.approx(1 / np.sqrt(V[0, 0]), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unique_columns_equal_numpy_unique(seed):
    """The observation patterns' dedupe gives np.unique(axis=1)'s columns, order and inverse
    (the order fixes the moment columns, hence the same bytes), including an all-missing
    column, a single row and rows not a multiple of eight (packed bits' padding)."""
    rng = np.random.default_rng(seed)
    base = (rng.random((37, 5)) > 0.3).astype(float)
    O = base[:, rng.integers(0, 5, 23)]
    O[:, 3] = 0.0
    for M in (O, O[:1], O[:, :1]):
        Ou, inv = _unique_columns(M)
        want, want_inv = np.unique(M, axis=1, return_inverse=True)
        np.testing.assert_array_equal(Ou, want)
        np.testing.assert_array_equal(inv, want_inv.ravel())


def test_screen_samples_candidates_only_under_scale():
    """The linear programme's candidates: every recruit at the trial's size (the random
    stream untouched, so the same bytes), a sorted random sample of SCREEN * n_cand when
    there are more (--scale)."""
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    idx = np.arange(0, 2 * SCREEN * 250, 2)
    np.testing.assert_array_equal(_screen(idx, 250, rng), idx)
    assert rng.bit_generator.state == state
    big = np.arange(0, 30 * SCREEN * 250, 3)
    out = _screen(big, 250, rng)
    assert len(out) == SCREEN * 250 == len(np.unique(out))
    assert np.all(np.diff(out) > 0) and np.isin(out, big).all()
