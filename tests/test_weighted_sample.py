"""The response-swap stage behind Tables 4-2..4-4 and §3.3.1 (data_synth/weighted_sample.py)."""
from __future__ import annotations

import numpy as np
import pytest

import data_synth
from data_synth import generator as G
from data_synth.population import draw_group
from data_synth.response import draw_response
from data_synth.weighted_sample import _moments, _ResponseModel, calibrate_weighted_sample, first_order_totals
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
    M = _moments(X, model.T.astype(bool))
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
    assert 0 < moved < 0.2 * len(pop)  # a nudge to selective response, not a redraw
