"""hlt_replicate.regression against statsmodels WLS and linearmodels IV2SLS."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS

from hlt_replicate._checks import InputError
from hlt_replicate.regression import check_rank, dummies, iv2sls, pvalue, wls


@pytest.fixture(scope="module")
def xyw():
    rng = np.random.default_rng(3)
    n = 300
    X = np.column_stack([np.ones(n), rng.binomial(1, 0.5, n), rng.normal(size=n), rng.uniform(0, 3, n)])
    y = X @ [1.0, 0.4, -0.3, 0.2] + rng.normal(size=n) * (1 + X[:, 3])  # heteroskedastic
    w = rng.uniform(0.3, 3.0, n)
    return y, X, w


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("weighted", [False, True])
def test_wls_matches_statsmodels(xyw, cov_type, weighted):
    y, X, w = xyw
    w = w if weighted else None
    ours = wls(y, X, w, cov_type)
    ref = (sm.WLS(y, X, weights=w) if weighted else sm.OLS(y, X)).fit(cov_type=cov_type, use_t=True)
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-10)
    np.testing.assert_allclose(ours.bse, ref.bse, rtol=1e-8)
    np.testing.assert_allclose(pvalue(ours.params / ours.bse, ours.df_resid, "t"), ref.pvalues, rtol=1e-6)
    ref_z = (sm.WLS(y, X, weights=w) if weighted else sm.OLS(y, X)).fit(cov_type=cov_type)
    np.testing.assert_allclose(pvalue(ours.params / ours.bse, ours.df_resid, "normal"), ref_z.pvalues, rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cov_type,debiased", [("HC0", False), ("HC1", True)])
def test_iv2sls_matches_linearmodels(weighted, cov_type, debiased):
    rng = np.random.default_rng(5)
    n = 400
    z = rng.binomial(1, 0.5, n)
    x1 = rng.normal(size=n)
    d = z * rng.binomial(1, 0.85, n)  # one-sided non-compliance
    y = 1 + 0.5 * d + 0.3 * x1 + rng.normal(size=n)
    w = rng.uniform(0.5, 2, n) if weighted else None
    exog = np.column_stack([np.ones(n), x1])
    ours = iv2sls(y, exog, d, z, w, cov_type)
    ref = IV2SLS(y, pd.DataFrame(exog, columns=["c", "x1"]), pd.Series(d, name="d"), pd.Series(z, name="z"), weights=w).fit(
        cov_type="robust", debiased=debiased
    )
    np.testing.assert_allclose(ours.params, ref.params[["d", "c", "x1"]], rtol=1e-9)
    np.testing.assert_allclose(ours.bse, ref.std_errors[["d", "c", "x1"]], rtol=1e-8)


def test_check_rank_names_the_collinear_column():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=20), rng.normal(size=20)
    X = np.column_stack([np.ones(20), a, b, a + 2 * b])
    with pytest.raises(InputError, match="'a_plus_2b'"):
        check_rank(X, ["const", "a", "b", "a_plus_2b"])
    with pytest.raises(InputError, match="fewer observations than parameters"):
        check_rank(X[:3], ["const", "a", "b", "a_plus_2b"])


def test_wls_errors():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(4), rng.normal(size=4), rng.normal(size=4), rng.normal(size=4)])
    with pytest.raises(InputError, match="fewer observations than parameters"):
        wls(rng.normal(size=4), X)
    with pytest.raises(InputError, match="cov_type"):
        wls(rng.normal(size=10), np.ones((10, 1)), cov_type="HC9")
    with pytest.raises(InputError, match="dist"):
        pvalue(1.0, 10, "cauchy")


def test_dummies_drop_first_present_level_and_reject_unknown():
    s = pd.Series(["b", "c", "b", "a"])
    mat, names = dummies(s, "x", levels=("a", "b", "c", "d"))
    assert names == ["x[b]", "x[c]"]
    np.testing.assert_array_equal(mat, [[1, 0], [0, 1], [1, 0], [0, 0]])
    with pytest.raises(InputError, match="unexpected level"):
        dummies(pd.Series(["a", "z"]), "x", levels=("a", "b"))
