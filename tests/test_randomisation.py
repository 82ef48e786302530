"""hlt_replicate.randomisation: assignment verbs, design object, randomisation inference."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from _fake_trial import make_fake_trial
from hlt_replicate import randomisation as ra
from hlt_replicate import vocab
from hlt_replicate._checks import InputError
from hlt_replicate.impact import build_design, estimate_itt
from hlt_replicate.regression import wls


# --- verbs ---------------------------------------------------------------------------------
def test_complete_ra_exact_m_and_seeded():
    z = ra.complete_ra(10, m=3, seed=1)
    assert z.sum() == 3 and set(np.unique(z)) <= {0, 1}
    np.testing.assert_array_equal(z, ra.complete_ra(10, m=3, seed=1))
    assert ra.complete_ra(10, seed=2).sum() == 5  # default half


def test_complete_ra_odd_n_rounds_at_random_keeping_prob():
    d = ra.declare_ra(5)  # 2.5 treated on average
    P = d.permutation_matrix(4000, seed=0, exact=False)
    assert set(P.sum(0)) == {2, 3}
    np.testing.assert_allclose(P.mean(1), 0.5, atol=0.03)
    np.testing.assert_allclose(d.probabilities, 0.5)
    assert d.num_permutations == math.comb(5, 2) + math.comb(5, 3)
    assert not d.fixed_m


def test_simple_ra_probability():
    z = ra.simple_ra(20000, prob=0.3, seed=4)
    assert abs(z.mean() - 0.3) < 0.01


def test_block_ra_counts_per_block():
    blocks = np.repeat(["a", "b", "c"], [10, 7, 4])
    z = ra.block_ra(blocks, seed=3)
    s = pd.Series(z).groupby(blocks).sum()
    assert s["a"] == 5 and s["b"] in (3, 4) and s["c"] == 2
    z = ra.block_ra(blocks, block_m={"a": 1, "b": 6, "c": 0}, seed=3)
    assert pd.Series(z).groupby(blocks).sum().tolist() == [1, 6, 0]
    d = ra.declare_ra(blocks=blocks, block_prob=[0.5, 1 / 7, 0.25])
    np.testing.assert_allclose(d.probabilities, np.repeat([0.5, 1 / 7, 0.25], [10, 7, 4]))
    assert d.summary()["treated"].tolist() == [5, 1, 1]


def test_exact_enumeration_is_every_assignment_once():
    d = ra.declare_ra(blocks=["x"] * 4 + ["y"] * 3, block_m={"x": 2, "y": 1})
    assert d.num_permutations == 6 * 3
    P = d.permutation_matrix(100)
    assert P.shape == (7, 18)
    assert len({tuple(c) for c in P.T}) == 18
    assert (P[:4].sum(0) == 2).all() and (P[4:].sum(0) == 1).all()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n=5, m=6), "between 0 and n"),
        (dict(n=5, m=2, prob=0.5), "not both|only one"),
        (dict(n=5, prob=1.5), r"\[0, 1\]"),
        (dict(blocks=["a", None, "b"]), "missing label"),
        (dict(blocks=["a", "b"], block_m={"a": 1}), "no entry for block"),
        (dict(), "give n"),
    ],
)
def test_declare_ra_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        ra.declare_ra(**kwargs)


# --- the HLT recipe ------------------------------------------------------------------------
def test_hlt_design_reproduces_table_4_1_split():
    sizes = {"SCR_IW": 1260 + 1259, "SCR_OOW": 1799 + 1792, "WMCA_OOW": 1837 + 1838}  # Table 4-1
    frame = pd.DataFrame({vocab.GROUP: np.repeat(list(sizes), list(sizes.values()))})
    assert len(frame) == 9785
    t = ra.assign_hlt(frame, seed=11)
    counts = t.groupby(frame[vocab.GROUP]).agg(["sum", "size"])
    assert ((counts["sum"] - counts["size"] / 2).abs() <= 0.5).all()
    np.testing.assert_allclose(ra.hlt_design(frame).probabilities, 0.5)
    frame["area"] = np.where(np.arange(9785) % 3 == 0, "Barnsley", "Sheffield")
    d = ra.hlt_design(frame, strata=(vocab.GROUP, "area"))
    assert len(d.block_levels) == 6


# --- randomisation inference ---------------------------------------------------------------
def test_ri_exact_hand_example():
    # y = 1..4, treated {3, 4}: difference 2; of the C(4,2)=6 assignments, |diff| >= 2 for 2.
    y = np.array([1.0, 2.0, 3.0, 4.0])
    z = np.array([0, 0, 1, 1])
    res = ra.ri_test(ra.diff_in_means(y), ra.observed_design(z), z, vectorised=True)
    assert res.exact and res.n_perm == 6
    assert res.observed == pytest.approx(2.0)
    assert res.p == pytest.approx(2 / 6)
    assert ra.ri_test(ra.diff_in_means(y), ra.observed_design(z), z, vectorised=True, alternative="greater").p == pytest.approx(1 / 6)
    # the scalar route gives the same
    scalar = ra.ri_test(lambda t: y[t == 1].mean() - y[t == 0].mean(), ra.observed_design(z), z)
    assert scalar.p == pytest.approx(2 / 6)


def test_ri_sampled_p_uses_plus_one():
    rng = np.random.default_rng(0)
    y = rng.normal(size=60)
    z = ra.complete_ra(60, seed=1)
    res = ra.ri_test(ra.diff_in_means(y), ra.observed_design(z), z, n_perm=199, seed=2, vectorised=True)
    assert not res.exact
    hits = np.sum(np.abs(res.null) >= abs(res.observed) - 1e-12)
    assert res.p == pytest.approx((hits + 1) / 200)


def test_diff_in_means_vectorised_equals_loop():
    rng = np.random.default_rng(1)
    y, w = rng.normal(size=30), rng.uniform(0.5, 2, 30)
    P = ra.declare_ra(30).permutation_matrix(25, seed=0)
    vec = ra.diff_in_means(y, w)(P)
    loop = [np.average(y[c == 1], weights=w[c == 1]) - np.average(y[c == 0], weights=w[c == 0]) for c in P.T]
    np.testing.assert_allclose(vec, loop)


def test_ri_impact_null_equals_refitting_the_regression():
    df = make_fake_trial(450, seed=8)
    df[vocab.WEIGHT] = np.where(df[vocab.RESPONDED] == 1, 1 + (df["age"] > 40), np.nan)
    res = ra.ri_impact(df, "eq5d", "SCR", n_perm=15, seed=4)
    rows = df[df[vocab.GROUP].isin(vocab.groups_in("SCR"))]
    d = build_design(rows, "eq5d")
    P = ra.observed_design(d.treat, rows.loc[d.index, vocab.GROUP]).permutation_matrix(15, seed=4)
    refit = []
    for col in P.T:
        X = d.X.copy()
        X[:, 1] = col
        refit.append(wls(d.y, X, d.w).params[1])
    np.testing.assert_allclose(res.null, refit, rtol=1e-8, atol=1e-12)
    assert res.observed == pytest.approx(estimate_itt(df, "eq5d", "SCR").impact)
    # permutations keep each group's arm sizes
    g = rows.loc[d.index, vocab.GROUP].to_numpy()
    for lab in np.unique(g):
        assert (P[g == lab].sum(0) == d.treat[g == lab].sum()).all()


def test_ri_impact_checks_its_regression():
    """ri_impact's permuted coefficients use estimate_itt's design: too few rows or a
    collinear control raise as estimate_itt does, naming the column."""
    df = make_fake_trial(900, seed=3)
    df[vocab.WEIGHT] = 1.0
    small = df[(df[vocab.GROUP] == "SCR_IW") & df["eq5d"].notna()].groupby(vocab.TREAT).head(6)
    with pytest.raises(InputError, match="fewer observations than parameters"):
        ra.ri_impact(small, "eq5d", n_perm=20)
    df["age2"] = df["age"] * 2
    with pytest.raises(InputError, match="collinear: 'age2'"):
        ra.ri_impact(df, "eq5d", "SCR_IW", controls=(*vocab.SAP_CONTROLS, "age2"), n_perm=20)


def test_hlt_design_blocks_on_several_columns():
    df = make_fake_trial(600, seed=4)
    design = ra.hlt_design(df, (vocab.GROUP, vocab.AREA))
    z = design.draw(1)
    for _, rows in df.groupby([vocab.GROUP, vocab.AREA]):
        n1 = int(z[df.index.get_indexer(rows.index)].sum())
        assert abs(n1 - len(rows) / 2) <= 0.5  # half of each block, odd blocks rounded


def test_ri_errors():
    z = np.array([0, 1, 0, 1])
    with pytest.raises(InputError, match="alternative"):
        ra.ri_test(ra.diff_in_means([1, 2, 3, 4]), ra.observed_design(z), z, alternative="both")
    with pytest.raises(InputError, match="design has"):
        ra.ri_test(ra.diff_in_means([1, 2, 3]), ra.declare_ra(3), z)
    with pytest.raises(InputError, match="0/1"):
        ra.observed_design([0, 2, 1])
    with pytest.raises(InputError, match="no control"):
        ra.ri_test(ra.diff_in_means([1, 2]), ra.declare_ra(2), [1, 1])
    with pytest.raises(InputError, match="missing value"):
        ra.diff_in_means([1.0, np.nan])
