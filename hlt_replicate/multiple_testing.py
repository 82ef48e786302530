"""Multiple-testing corrections: Westfall–Young resampling and the closed-form rules.

The 4-month report adjusts every impact p-value for multiple testing "using algorithm 2.8 of
Westfall-Young (1993)" (chapter 4, footnote 14), and the SAP's decision rule on survey
non-response tests the baseline outcomes of Table 4-5 with the same adjustment (§4.2.1).
This module provides

* :func:`westfall_young` — free step-down resampling with minP (Westfall & Young 1993,
  Algorithm 2.8) or its single-step version (Algorithm 2.5), for the treatment coefficient in
  K regressions with controls, survey weights and robust standard errors, estimated exactly
  as :func:`hlt_replicate.impact.estimate_itt` does (same design matrix, same ``wls``);
  resampling by permutation of the treatment (within strata) or by a bootstrap with the null
  imposed, as Stata's ``wyoung`` does (Jones, Molitor & Reif 2019);
* :func:`wy_adjust` — the adjustment step itself, on a vector of p-values and a matrix of
  resampled p-values (useful for teaching and for checking other implementations);
* :func:`adjust_pvalues` / :func:`closed_form_corrections` — Bonferroni, Holm, Šidák,
  Holm–Šidák, Benjamini–Hochberg (statsmodels' ``multipletests``);
* :func:`monte_carlo_error` and :func:`reps_for_precision` — how precise a resampled p-value
  is for a given number of resamples;
* :func:`sap_decision_rule` — the SAP's rule on response-rate gaps and baseline imbalance,
  with the table in the layout of Table 4-5.

References
----------
Westfall, P. H. and Young, S. S. (1993) *Resampling-Based Multiple Testing: Examples and
Methods for p-Value Adjustment*. Wiley. Algorithm 2.8 (free step-down minP; pp. 66–67 as
cited by the ``wyoung`` documentation) and Algorithm 2.5 (single-step minP).

Jones, D., Molitor, D. and Reif, J. (2019) "What do workplace wellness programs do? Evidence
from the Illinois Workplace Wellness Study". *Quarterly Journal of Economics* 134(4),
1747–1791 — the Stata command ``wyoung`` (https://github.com/reifjulian/wyoung), whose
documentation describes the bootstrap with the null imposed (test ``b* = b_hat``) and the
permutation variant (test ``b* = 0`` on shuffled treatment).

Frisch, R. and Waugh, F. V. (1933); Lovell, M. C. (1963) — partialling out the controls.

The vectorised engine
---------------------
For one outcome, write the weighted regression as ``y = d b + Z g + e`` with weights ``w``,
``d`` the treatment and ``Z`` everything else (constant, controls, baseline counterpart,
group indicators). Whiten: ``y_s = sqrt(w) y``, ``d_s = sqrt(w) d``, ``Z_s = sqrt(w) Z``, and
let ``Q`` be an orthonormal basis of ``Z_s`` (thin QR, computed once). By FWL,

* ``ỹ = y_s - Q Q'y_s`` and ``d̃ = d_s - Q Q'd_s`` (for a chunk of C permuted treatment
  vectors stacked as columns ``D``: ``D̃ = D_s - Q (Q'D_s)``, i.e.
  ``D - Z (Z'WZ)^{-1} Z'W D`` in unwhitened form: two matrix products per chunk);
* ``b = d̃'ỹ / d̃'d̃`` (column-wise for the chunk: one matrix product ``D̃'Ỹ`` for all K
  outcomes that share rows and controls);
* the full-model whitened residuals are ``e = ỹ - b d̃`` (FWL residuals equal the full
  model's), and the treatment row of the full-model bread ``(X_s'X_s)^{-1} X_s'`` is
  ``d̃'/(d̃'d̃)``. Hence the sandwich variance of ``b`` is exactly

  ``V_HC0 = Σ_i d̃_i² e_i² / (d̃'d̃)²``  ( = Σ w_i² d_i*² e_i² / (Σ w_i d_i*²)² unwhitened,
  with ``d*`` the weighted residual of ``d`` on ``Z``),

  ``V_HC1 = V_HC0 · n / (n - k)`` with ``k`` the full model's parameter count
  (``1 + columns of Z``), as in :func:`hlt_replicate.regression.wls`. Expanding the square,
  ``Σ d̃² e² = (ỹ²)'(d̃²) - 2 b (ỹ)'(d̃³) + b² Σ d̃⁴``: three more matrix products, so no
  n × C × K array is ever formed. (Where the expansion would cancel badly — a resample that
  explains the outcome almost perfectly — the sum is recomputed directly.)
* ``HC2``/``HC3`` need the full-model leverages, which FWL also gives:
  ``h_i = h^Z_i + d̃_i² / d̃'d̃`` with ``h^Z_i = ||Q_i||²``; these are computed elementwise.

The bootstrap draws rows with replacement (within strata). A bootstrap sample is the original
data with frequency weights ``f`` (``f_i`` copies of row ``i``), so every replicate is a
weighted regression with ``Z'W_f Z`` of its own; the engine forms all replicates' ``Z'W_f Z``
with one matrix product, inverts them in a batch (pseudo-inverse, so a control level absent
from a replicate is dropped as Stata would), and evaluates the HC sandwich of the duplicated
data (meat ``Σ f_i w_i² e_i² x_i x_i'``, ``n`` = number of rows drawn with a valid outcome).

Resamples are evaluated in chunks of ``chunk_size`` (default: about 10⁶ resample × row cells,
8 MB per scratch array), so memory does not grow with B. Random numbers are drawn in fixed
blocks of 64 resamples, each from its own child of ``SeedSequence(seed)``, so a seed gives
the same resamples whatever the chunk size or thread count. Large runs draw the next chunk in
background threads and split each chunk over worker threads that run single-threaded BLAS
(numpy releases the GIL in BLAS and in its loops): the products here are skinny, where
multi-threaded OpenBLAS gains little and, on a busy machine, spin-waits badly. (The per-thread
BLAS setting uses ``openblas_set_num_threads_local`` from numpy's bundled OpenBLAS when it is
there, and changes nothing otherwise.)

Conventions
-----------
* Raw p-values are those of :func:`hlt_replicate.impact.estimate_itt` with the same
  ``controls``, ``weights``, ``baseline``, ``cov_type`` and ``dist`` (the same design matrix is
  built by :func:`hlt_replicate.impact.build_design` and fitted by
  :func:`hlt_replicate.regression.wls`).
* Every outcome uses its own rows (those where it is observed); one permutation (or
  bootstrap draw) of the *whole* data is applied to all K models, so the resamples are shared.
* The adjusted p-value is the share of the B resamples at or below the observed p-value
  (Westfall & Young 1993; ``wyoung``), with monotonicity enforced; ties are counted
  "at or below" up to a relative 1e-9 so that a resample reproducing the observed assignment
  counts whatever the rounding. By default it is floored at the raw p-value
  (``floor_at_raw=True``): a multiplicity adjustment cannot lower a p-value, and a share below
  the raw p-value is Monte Carlo noise or a sign that the resampled distribution of the robust
  t statistic is not the one the raw p-value assumes (the ``wyoung`` documentation discusses
  this). ``floor_at_raw=False`` gives the plain share.
"""
from __future__ import annotations

import math
import os
import time
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import vocab
from ._checks import InputError, require_binary, require_both_arms, require_choice, require_columns, require_frame
from .impact import build_design, select_group
from .regression import COV_TYPES, P_DISTRIBUTIONS, pvalue, wls

__all__ = [
    "METHODS",
    "STEPS",
    "CLOSED_FORM",
    "TABLE_4_5_LABELS",
    "westfall_young",
    "westfall_young_details",
    "WYDetails",
    "wy_adjust",
    "adjust_pvalues",
    "closed_form_corrections",
    "monte_carlo_error",
    "reps_for_precision",
    "sap_decision_rule",
    "SAPDecision",
]

#: Resampling schemes: shuffle the treatment (sharp null), or draw rows with replacement and
#: test ``b* = b_hat`` (null imposed by centring, as ``wyoung`` does).
METHODS: tuple[str, ...] = ("permutation", "bootstrap")
#: ``"down"``: free step-down minP (Algorithm 2.8); ``"single"``: single-step minP (Algorithm 2.5).
STEPS: tuple[str, ...] = ("down", "single")

#: Closed-form corrections reported beside Westfall–Young: output column -> statsmodels name.
CLOSED_FORM: dict[str, str] = {
    "bonferroni": "bonferroni",
    "holm": "holm",
    "sidak": "sidak",
    "holm-sidak": "holm-sidak",
    "bh": "fdr_bh",
    "by": "fdr_by",
    "hochberg": "simes-hochberg",
    "hommel": "hommel",
}
_CLOSED_FORM_ALIASES = {
    "fdr_bh": "bh",
    "BH": "bh",
    "fdr_by": "by",
    "BY": "by",
    "simes-hochberg": "hochberg",
    "šidák": "sidak",
}
_DEFAULT_CORRECTIONS = ("bonferroni", "holm", "sidak", "bh")

#: Row labels of Table 4-5 for the baseline measures (vocab has no labels for ``bl_*``).
TABLE_4_5_LABELS: dict[str, str] = {
    "bl_looking": "Looking for work",
    "bl_jsse": "Job search self-efficacy",
    "bl_barriers": "Number of barriers",
    "bl_eq5d": "EQ5D5L",
    "bl_swemwbs": "SWEMWBS",
    "bl_eqvas": "EQVAS",
    "bl_lifesat": "Life satisfaction (ONS1)",
}

_PREFETCH = True  # draw the next chunk in worker threads
_WORKERS = max(1, min(4, os.cpu_count() or 1))  # threads evaluating a chunk (single-threaded BLAS each)
_BLOCK = 64  # resamples per random-number block: results do not depend on chunk_size
_TIE_RTOL = 1e-9  # relative tolerance for "at or below" (see module docstring)
_CELLS_PER_CHUNK = 1_000_000  # default chunk: about this many (resample x row) cells (8 MB)


# --------------------------------------------------------------------------------------
# closed-form corrections
# --------------------------------------------------------------------------------------
def _correction_name(method: str) -> str:
    key = _CLOSED_FORM_ALIASES.get(method, method)
    key = _CLOSED_FORM_ALIASES.get(key.lower(), key.lower()) if isinstance(key, str) else key
    if key not in CLOSED_FORM:
        raise InputError(f"correction {method!r} is not one of {', '.join(map(repr, CLOSED_FORM))}")
    return key


def _as_pvector(p, what: str = "p") -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"{what} must be a non-empty one-dimensional sequence of p-values, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise InputError(f"{what} has {int(np.isnan(arr).sum())} missing value(s)")
    if ((arr < 0) | (arr > 1)).any():
        raise InputError(f"{what} has value(s) outside [0, 1]: {arr[(arr < 0) | (arr > 1)][:5].tolist()}")
    return arr


def adjust_pvalues(p: Sequence[float] | np.ndarray, method: str = "holm") -> np.ndarray:
    """Closed-form multiplicity adjustment of the p-values ``p`` (in their given order).

    ``method``: ``"bonferroni"``, ``"holm"``, ``"sidak"`` (single-step Šidák,
    ``1 - (1 - p)^K``), ``"holm-sidak"``, ``"bh"`` (Benjamini–Hochberg false discovery rate),
    ``"by"`` (Benjamini–Yekutieli), ``"hochberg"``, ``"hommel"``. Delegates to
    ``statsmodels.stats.multitest.multipletests``, which agrees with R's ``p.adjust`` for the
    methods both have (checked in the tests).
    """
    from statsmodels.stats.multitest import multipletests

    arr = _as_pvector(p)
    key = _correction_name(method)
    if key == "holm":
        # statsmodels' own formula (running maximum of p_(j) (K - j + 1), capped at 1), done
        # here because its "holm" branch calls gc.collect() on every call, which costs tens of
        # milliseconds inside a simulation loop. Equality with multipletests is tested.
        order = np.argsort(arr, kind="mergesort")
        adj = np.minimum(1.0, np.maximum.accumulate(arr[order] * np.arange(arr.size, 0, -1)))
        out = np.empty_like(adj)
        out[order] = adj
        return out
    return np.asarray(multipletests(arr, method=CLOSED_FORM[key])[1], dtype=float)


def closed_form_corrections(
    p: Sequence[float] | np.ndarray | pd.Series,
    methods: Sequence[str] = _DEFAULT_CORRECTIONS,
) -> pd.DataFrame:
    """A table of raw and adjusted p-values, one column ``p_<method>`` per correction."""
    index = p.index if isinstance(p, pd.Series) else None
    arr = _as_pvector(np.asarray(p, dtype=float))
    out = pd.DataFrame({"p": arr}, index=index)
    for m in methods:
        key = _correction_name(m)
        out[f"p_{key.replace('-', '_')}"] = adjust_pvalues(arr, key)
    return out


# --------------------------------------------------------------------------------------
# the adjustment step (Algorithms 2.5 and 2.8) and its Monte Carlo error
# --------------------------------------------------------------------------------------
def wy_adjust(
    p: Sequence[float] | np.ndarray,
    p_star: np.ndarray,
    step: str = "down",
    *,
    floor_at_raw: bool = True,
) -> np.ndarray:
    """Westfall–Young minP adjusted p-values from observed and resampled p-values.

    ``p``: the K observed p-values; ``p_star``: a B × K matrix, row b holding the K p-values
    of resample b (computed under the null), columns in the order of ``p``.

    ``step="down"`` — free step-down (Westfall & Young 1993, Algorithm 2.8): order the
    hypotheses by observed p, ``p_(1) <= … <= p_(K)``; in each resample take successive minima
    from the least significant end, ``q*_(K) = p*_(K)``, ``q*_(j) = min(q*_(j+1), p*_(j))``;
    the adjusted p-value of ``(j)`` is the share of resamples with ``q*_(j) <= p_(j)``, then
    monotonicity is enforced by a running maximum in the order of ``p``.

    ``step="single"`` — single-step minP (Algorithm 2.5): the share of resamples whose
    smallest p-value over all K is at or below ``p_j``.

    ``floor_at_raw`` raises any adjusted value below its raw p-value to the raw p-value (before
    the running maximum), see the module docstring. Returns the K adjusted p-values in the
    order of ``p``.
    """
    require_choice(step, STEPS, "step")
    pv = _as_pvector(p)
    ps = np.asarray(p_star, dtype=float)
    if ps.ndim != 2 or ps.shape[1] != pv.size:
        raise InputError(f"p_star must be a (resamples × {pv.size}) matrix, got shape {ps.shape}")
    if ps.shape[0] == 0:
        raise InputError("p_star has no resamples (rows)")
    order = np.argsort(pv, kind="stable")
    ps = ps[:, order]
    if step == "down":
        q = np.minimum.accumulate(ps[:, ::-1], axis=1)[:, ::-1]
    else:
        q = np.broadcast_to(ps.min(axis=1, keepdims=True), ps.shape)
    threshold = pv[order] * (1 + _TIE_RTOL)
    r = (q <= threshold).mean(axis=0)
    if floor_at_raw:
        r = np.maximum(r, pv[order])
    r = np.maximum.accumulate(r)
    out = np.empty_like(r)
    out[order] = r
    return out


def monte_carlo_error(
    p_adj: Sequence[float] | np.ndarray | pd.Series | pd.DataFrame,
    reps: int | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Monte Carlo error of resampled (adjusted) p-values.

    An adjusted p-value ``p̂`` from B resamples is a share of B draws, so its Monte Carlo
    standard error is ``sqrt(p̂ (1 - p̂) / B)`` and a ``level`` interval is the Clopper–Pearson
    interval for ``round(p̂ B)`` successes in B trials. (After the running maximum of the
    step-down the count is not exactly binomial; the binomial error is the usual
    approximation, and exact for the smallest p-value.) When ``p̂ = 0`` the standard error is
    0 but the interval's upper end (≈ 3.7/B at 95 %) says how small it really could be.

    ``p_adj`` may be a :func:`westfall_young` table (then ``reps`` defaults to its
    ``attrs["reps"]``) or p-values.
    """
    if isinstance(p_adj, pd.DataFrame):
        if "p_wy" not in p_adj:
            raise InputError("a DataFrame passed to monte_carlo_error needs a 'p_wy' column (a westfall_young table)")
        reps = reps if reps is not None else p_adj.attrs.get("reps")
        p_adj = p_adj["p_wy"]
    if reps is None:
        raise InputError("reps (the number of resamples behind the p-values) is required")
    if not isinstance(reps, (int, np.integer)) or isinstance(reps, bool) or reps < 1:
        raise InputError(f"reps must be a positive integer, got {reps!r}")
    index = p_adj.index if isinstance(p_adj, pd.Series) else None
    p = _as_pvector(np.asarray(p_adj, dtype=float), "p_adj")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level!r}")
    k = np.round(p * reps)
    a = (1 - level) / 2
    lo = np.where(k > 0, stats.beta.ppf(a, k, reps - k + 1), 0.0)
    hi = np.where(k < reps, stats.beta.ppf(1 - a, k + 1, reps - k), 1.0)
    return pd.DataFrame(
        {"p_wy": p, "mcse": np.sqrt(p * (1 - p) / reps), "ci_low": lo, "ci_high": hi, "reps": int(reps)},
        index=index,
    )


def reps_for_precision(mcse: float = 0.005, p: float = 0.05) -> int:
    """Resamples needed for a Monte Carlo standard error of ``mcse`` at a p-value near ``p``
    (``p (1 - p) / mcse²``; 1,900 for ±0.005 at 0.05, 10,000 gives ±0.0022)."""
    if not (0 < mcse < 1) or not (0 <= p <= 1):
        raise InputError(f"need 0 < mcse < 1 and 0 <= p <= 1, got mcse={mcse!r}, p={p!r}")
    return max(1, math.ceil(p * (1 - p) / mcse**2))


# --------------------------------------------------------------------------------------
# models and blocks of models that share rows and controls
# --------------------------------------------------------------------------------------
@dataclass
class _Model:
    outcome: str
    rows: np.ndarray  # positions in the resampling pool
    y: np.ndarray
    Z: np.ndarray  # design without the treatment column
    w: np.ndarray | None
    k: int  # full model's parameter count
    coef: float
    se: float
    t: float
    p: float
    df: int


@dataclass
class _Block:
    """Models estimated on the same rows with the same Z (and weights): the treatment is
    residualised once for all of them."""

    rows: np.ndarray
    Z: np.ndarray
    w: np.ndarray | None
    k: int
    members: list[int]  # indices into the model list
    Y: np.ndarray  # n × K_b raw outcomes
    # permutation engine
    sw: np.ndarray | None = None
    Q: np.ndarray | None = None
    QT: np.ndarray | None = None
    all_rows: bool = False
    wsum: float = 0.0
    Yt: np.ndarray | None = None  # whitened, residualised outcomes
    Yt2: np.ndarray | None = None
    hZ: np.ndarray | None = None
    # bootstrap engine
    Zsc: np.ndarray | None = None
    ZZ: np.ndarray | None = None
    ZY: np.ndarray | None = None
    iu: tuple[np.ndarray, np.ndarray] | None = None

    def prepare_permutation(self, n_pool: int) -> None:
        sw = None if self.w is None else np.sqrt(self.w)
        Zs = self.Z if sw is None else self.Z * sw[:, None]
        Ys = self.Y if sw is None else self.Y * sw[:, None]
        Q, _ = np.linalg.qr(Zs)
        self.sw, self.Q, self.QT = sw, Q, np.ascontiguousarray(Q.T)
        self.Yt = Ys - Q @ (Q.T @ Ys)
        self.Yt2 = self.Yt**2
        self.hZ = np.einsum("ij,ij->i", Q, Q)
        self.all_rows = len(self.rows) == n_pool and bool((self.rows == np.arange(n_pool)).all())
        self.wsum = float(len(self.rows) if self.w is None else self.w.sum())

    def prepare_bootstrap(self) -> None:
        scale = np.sqrt((self.Z**2).sum(axis=0))
        scale[scale == 0] = 1.0
        Zsc = self.Z / scale
        p = Zsc.shape[1]
        iu = np.triu_indices(p)
        self.Zsc, self.iu = Zsc, iu
        self.ZZ = Zsc[:, iu[0]] * Zsc[:, iu[1]]  # n × p(p+1)/2
        self.ZY = (Zsc[:, :, None] * self.Y[:, None, :]).reshape(len(self.rows), -1)  # n × pK


class _Workspace:
    """Flat scratch arrays reused across chunks and blocks (fresh C × n temporaries would
    be page-faulted in on every chunk, which costs as much as the arithmetic)."""

    def __init__(self) -> None:
        self._bufs: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        size = shape[0] * shape[1]
        buf = self._bufs.get(name)
        if buf is None or buf.size < size:
            buf = self._bufs[name] = np.empty(size)
        return buf[:size].reshape(shape)


# --------------------------------------------------------------------------------------
# the vectorised statistics for one chunk of resamples
# --------------------------------------------------------------------------------------
def _hc_factor(cov_type: str, n, k):
    return n / (n - k) if cov_type == "HC1" else 1.0


def _perm_chunk(block: _Block, T: np.ndarray, cov_type: str, ws: _Workspace) -> tuple[np.ndarray, ...]:
    """Coefficients and robust SEs for C permuted treatment vectors (rows of ``T``, C × N over
    the pool) in every model of ``block``. Returns (b, se, valid), b and se C × K_b.

    Rows of the C × n arrays are resamples: ``D`` holds the whitened permuted treatment,
    ``Dt`` its residual on the controls (``D̃'`` in the module docstring's notation)."""
    C, n = T.shape[0], len(block.rows)
    D = ws.get("D", (C, n))
    Dt = ws.get("Dt", (C, n))
    if block.all_rows:
        np.multiply(T, 1.0 if block.sw is None else block.sw, out=D)
    else:
        np.take(T, block.rows, axis=1, out=D)
        if block.sw is not None:
            np.multiply(D, block.sw, out=D)
    G = D @ block.Q
    np.matmul(G, block.QT, out=Dt)
    np.subtract(D, Dt, out=Dt)  # D̃ = D - Q (Q'D)
    D2 = D  # D is no longer needed: reuse it for D̃²
    np.multiply(Dt, Dt, out=D2)
    S2 = D2.sum(axis=1)
    valid = S2 > 1e-12 * block.wsum  # d̃ = 0: every row of the model in one arm (after controls)
    S2s = np.where(valid, S2, 1.0)
    b = (Dt @ block.Yt) / S2s[:, None]
    if cov_type in ("HC0", "HC1"):
        M2 = D2 @ block.Yt2
        S4 = np.einsum("ij,ij->i", D2, D2)
        D3 = np.multiply(D2, Dt, out=D2)
        M3 = D3 @ block.Yt
        meat = M2 - 2 * b * M3 + b**2 * S4[:, None]
        bad = np.argwhere(meat <= 1e-6 * M2)  # cancellation: recompute those directly
        for c, j in bad:
            e = block.Yt[:, j] - b[c, j] * Dt[c]
            meat[c, j] = np.dot(Dt[c] * Dt[c], e * e)
    else:
        lev = ws.get("lev", (C, n))
        np.divide(D2, S2s[:, None], out=lev)
        lev += block.hZ[None, :]
        np.subtract(1.0, lev, out=lev)
        if cov_type == "HC3":
            lev *= lev
        np.divide(D2, lev, out=D2)  # d̃² / (1 - h)^a
        E = ws.get("E", (C, n))
        meat = np.empty_like(b)
        for j in range(b.shape[1]):
            np.multiply(Dt, b[:, j][:, None], out=E)
            np.subtract(block.Yt[:, j][None, :], E, out=E)
            E *= E
            meat[:, j] = np.einsum("ij,ij->i", D2, E)
    var = meat / (S2s**2)[:, None] * _hc_factor(cov_type, n, block.k)
    return b, np.sqrt(var), valid


def _boot_chunk(block: _Block, F: np.ndarray, d_pool: np.ndarray, cov_type: str) -> tuple[np.ndarray, ...]:
    """Coefficients, robust SEs, residual df and validity for C bootstrap replicates given as
    frequency counts ``F`` (C × N over the pool), for every model of ``block``."""
    f = F[:, block.rows]
    w = np.ones(len(block.rows)) if block.w is None else block.w
    fw = f * w
    Zsc, iu = block.Zsc, block.iu
    C, p = f.shape[0], Zsc.shape[1]
    K = block.Y.shape[1]
    A = np.empty((C, p, p))
    tri = fw @ block.ZZ
    A[:, iu[0], iu[1]] = tri
    A[:, iu[1], iu[0]] = tri
    evals, evecs = np.linalg.eigh(A)
    tol = 1e-10 * np.maximum(evals[:, -1:], 1e-300)
    keep = evals > tol
    rank = keep.sum(axis=1)
    inv = np.where(keep, 1.0 / np.where(keep, evals, 1.0), 0.0)
    Ainv = (evecs * inv[:, None, :]) @ np.transpose(evecs, (0, 2, 1))
    d = d_pool[block.rows]
    g = (fw * d) @ Zsc  # C × p
    Gd = np.einsum("cij,cj->ci", Ainv, g)
    dt = d[None, :] - Gd @ Zsc.T  # C × n
    fwd = fw * dt
    S2 = np.einsum("ij,ij->i", fwd, dt)
    valid = S2 > 1e-10 * np.maximum(np.einsum("ij,j->i", fw, d * d), 1e-300)
    S2s = np.where(valid, S2, 1.0)
    b = (fwd @ block.Y) / S2s[:, None]
    H = (fw @ block.ZY).reshape(C, p, K)
    GY = Ainv @ H  # C × p × K
    nb = f.sum(axis=1)
    kb = rank + 1
    meat = np.empty((C, K))
    base = f * (w * w) * dt * dt
    if cov_type in ("HC2", "HC3"):
        hz = np.empty_like(dt)
        for c in range(C):
            hz[c] = np.einsum("ij,ij->i", Zsc @ Ainv[c], Zsc)
        h = w[None, :] * (hz + dt * dt / S2s[:, None])
        power = 1 if cov_type == "HC2" else 2
        lev = np.where(f > 0, (1 - h) ** power, 1.0)
        base = base / lev
    for j in range(K):
        e = block.Y[:, j][None, :] - GY[:, :, j] @ Zsc.T - b[:, j][:, None] * dt
        meat[:, j] = np.einsum("ij,ij->i", base, e * e)
    factor = _hc_factor(cov_type, nb, kb)
    var = meat / (S2s**2)[:, None] * (factor[:, None] if np.ndim(factor) else factor)
    valid &= nb > kb
    return b, np.sqrt(var), (nb - kb), valid


# --------------------------------------------------------------------------------------
# BLAS threads
# --------------------------------------------------------------------------------------
_BLAS_THREADS = 1  # BLAS threads for the resampling loop (None: leave the BLAS default)
_blas_setters: list | None = None


def _find_blas_setters() -> list:
    """``openblas_set_num_threads_local`` of the OpenBLAS builds bundled with numpy's and
    scipy's wheels (a per-thread setting, OpenBLAS >= 0.3.27); empty where none is found
    (conda, MKL, Accelerate): then nothing is changed."""
    global _blas_setters
    if _blas_setters is None:
        found = []
        try:
            import ctypes
            import glob
            import importlib.util

            for pkg in ("numpy", "scipy"):
                spec = importlib.util.find_spec(pkg)
                if spec is None or not spec.submodule_search_locations:
                    continue
                libdir = os.path.join(list(spec.submodule_search_locations)[0], os.pardir, f"{pkg}.libs")
                for path in sorted(glob.glob(os.path.join(libdir, "lib*openblas*.so*"))):
                    fn = getattr(ctypes.CDLL(path), "openblas_set_num_threads_local", None)
                    if fn is not None:
                        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
                        found.append(fn)
        except Exception:  # pragma: no cover - any platform surprise: leave BLAS alone
            found = []
        _blas_setters = found
    return _blas_setters


class _blas_threads:
    """Context manager: run BLAS on ``n`` threads in the calling thread (restored on exit).

    The resampling products are skinny (C × n times n × p with p ≈ 30), where OpenBLAS's
    threading costs more than it gains, and the second core is better spent drawing the next
    chunk or evaluating half of it; with other processes on the machine, multi-threaded
    OpenBLAS spin-waits and slows down several-fold (a 3 × 3 triangular solve was measured at
    milliseconds). ``n=None`` changes nothing."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, []

    def __enter__(self):
        if self.n:
            self.old = [(fn, fn(int(self.n))) for fn in _find_blas_setters()]
        return self

    def __exit__(self, *exc) -> None:
        for fn, old in reversed(self.old):
            if old > 0:
                fn(int(old))
        self.old = []


# --------------------------------------------------------------------------------------
# resample generation (blocked RNG so results do not depend on chunk_size)
# --------------------------------------------------------------------------------------
def _strata_positions(pool: pd.DataFrame, strata: Sequence[str] | None) -> list[np.ndarray]:
    if not strata:
        return [np.arange(len(pool))]
    codes = pool.groupby(list(strata), sort=True, dropna=False).ngroup().to_numpy()
    return [np.flatnonzero(codes == s) for s in range(codes.max() + 1)]


def _shuffled(rng: np.random.Generator, t: np.ndarray, size: int) -> np.ndarray:
    """``size`` random permutations of the 0/1 vector ``t`` (rows of the result).

    A permutation of a 0/1 vector is a uniformly random choice of which ``n1`` positions are
    1: the positions of the ``n1`` smallest of i.i.d. uniform keys (faster than shuffling).
    A row whose keys tie at the cut (probability ~ n/2^53) is redrawn by a plain shuffle."""
    m, n1 = t.size, int(round(t.sum()))
    if n1 in (0, m):
        return np.tile(t, (size, 1))
    U = rng.random((size, m))
    kth = np.partition(U, n1 - 1, axis=1)[:, n1 - 1 : n1]
    T = (U <= kth).astype(float)
    bad = T.sum(axis=1) != n1
    if bad.any():  # pragma: no cover - ties of 53-bit keys
        T[bad] = rng.permuted(np.tile(t, (int(bad.sum()), 1)), axis=1)
    return T


def _permuted_block(rng: np.random.Generator, t: np.ndarray, strata_pos: list[np.ndarray], size: int) -> np.ndarray:
    """``size`` permutations of the treatment vector ``t`` within each stratum (C × N)."""
    if len(strata_pos) == 1:
        return _shuffled(rng, t, size)
    T = np.empty((size, t.size))
    for pos in strata_pos:
        T[:, pos] = _shuffled(rng, t[pos], size)
    return T


def _bootstrap_block(rng: np.random.Generator, n: int, strata_pos: list[np.ndarray], size: int) -> np.ndarray:
    F = np.zeros(size * n)
    offs = (np.arange(size) * n)[:, None]
    for pos in strata_pos:
        draws = pos[rng.integers(0, pos.size, size=(size, pos.size))]
        F += np.bincount((draws + offs).ravel(), minlength=size * n)
    return F.reshape(size, n)


def _as_permutations(perms, t: np.ndarray) -> np.ndarray:
    arr = np.asarray(perms)
    N = t.size
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != N or arr.shape[0] < 1:
        raise InputError(
            f"permutations must be a (resamples × {N}) matrix (one row per resample, one column per "
            f"row of data), got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.integer) and N > 2 and (np.sort(arr, axis=1) == np.arange(N)).all():
        return t[arr]  # indices: row b is a permutation of 0..N-1
    vals = np.unique(arr)
    if not set(vals.tolist()) <= {0, 1}:
        raise InputError(
            "permutations must hold, in each row, either a permutation of 0..N-1 (indices) or a 0/1 treatment vector"
        )
    return arr.astype(float)


def _as_bootstrap_indices(idx, n: int) -> np.ndarray:
    arr = np.asarray(idx)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] < 1 or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            "bootstrap_indices must be an integer (resamples × rows) matrix of row positions, "
            f"got {arr.dtype} {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= n:
        raise InputError(f"bootstrap_indices must be row positions in 0..{n - 1}")
    B = arr.shape[0]
    F = np.bincount((arr + (np.arange(B) * n)[:, None]).ravel(), minlength=B * n)
    return F.reshape(B, n).astype(float)


# --------------------------------------------------------------------------------------
# the public estimator
# --------------------------------------------------------------------------------------
@dataclass
class WYDetails:
    """Everything :func:`westfall_young` computed: the table and the resampling draws.

    ``p_star``, ``t_star`` and ``coef_star`` are B × K (columns in the order of
    ``table.index``); ``t_star`` is the statistic whose p-value is ``p_star`` (for the
    bootstrap, ``(b* - b_hat) / se*``). ``valid`` marks resamples used (a resample where a
    model cannot be estimated — e.g. every row of it in one arm — is dropped for all models).
    """

    table: pd.DataFrame
    p_star: np.ndarray
    t_star: np.ndarray
    coef_star: np.ndarray
    se_star: np.ndarray
    valid: np.ndarray
    elapsed: float = field(default=0.0)


def _check_reps(reps) -> int:
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)):
        raise InputError(f"reps must be a positive integer, got {reps!r}")
    if reps < 1:
        raise InputError(f"reps must be >= 1, got {reps}")
    return int(reps)


def _progress_bar(progress, total: int, work: float):
    if progress == "auto":
        progress = work > 2e9
    elif not isinstance(progress, bool):
        raise InputError(f"progress must be True, False or 'auto', got {progress!r}")
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="resample", desc="Westfall–Young", leave=False)


def westfall_young_details(
    data: pd.DataFrame,
    outcomes: Sequence[str] | str,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = (),
    weights: str | None = None,
    reps: int = 10_000,
    method: str = "permutation",
    strata: str | Sequence[str] | None = None,
    seed: int | None = 0,
    *,
    group: str | None = None,
    baseline: str | bool | None = False,
    group_indicators: bool = True,
    cov_type: str = "HC1",
    dist: str = "t",
    step: str = "down",
    floor_at_raw: bool = True,
    corrections: Sequence[str] = _DEFAULT_CORRECTIONS,
    chunk_size: int | None = None,
    progress: bool | str = False,
    permutations: np.ndarray | None = None,
    bootstrap_indices: np.ndarray | None = None,
) -> WYDetails:
    """:func:`westfall_young`, also returning the resampled statistics (see :class:`WYDetails`)."""
    t0 = time.perf_counter()
    # ---- arguments -------------------------------------------------------------------
    require_frame(data)
    if isinstance(outcomes, str):
        outcomes = [outcomes]
    outcomes = list(outcomes)
    if not outcomes:
        raise InputError("outcomes is empty: give at least one outcome column")
    dup = sorted({o for o in outcomes if outcomes.count(o) > 1})
    if dup:
        raise InputError(f"outcome(s) listed more than once: {dup}")
    if treat in outcomes:
        raise InputError(f"treatment column {treat!r} is also listed as an outcome")
    if isinstance(controls, str):
        controls = [controls]
    controls = list(controls)
    if treat in controls:
        raise InputError(f"treatment column {treat!r} is also listed as a control")
    require_choice(method, METHODS, "method")
    require_choice(step, STEPS, "step")
    require_choice(cov_type, COV_TYPES, "cov_type")
    require_choice(dist, P_DISTRIBUTIONS, "dist")
    reps = _check_reps(reps)
    if chunk_size is not None:
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    if permutations is not None and method != "permutation":
        raise InputError("permutations= is for method='permutation'; give bootstrap_indices= for method='bootstrap'")
    if bootstrap_indices is not None and method != "bootstrap":
        raise InputError("bootstrap_indices= is for method='bootstrap'; give permutations= for method='permutation'")
    for c in corrections:
        _correction_name(c)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise InputError(f"seed must be a non-negative integer or None, got {seed!r}")
    strata_cols = [strata] if isinstance(strata, str) else list(strata or [])

    pool = select_group(data, group).reset_index(drop=True)
    require_columns(pool, [*outcomes, treat, *controls, *strata_cols] + ([weights] if weights else []))
    for o in outcomes:
        if not pd.api.types.is_numeric_dtype(pool[o]) or pd.api.types.is_bool_dtype(pool[o]):
            raise InputError(f"outcome {o!r} must be numeric, got dtype {pool[o].dtype}")
    t_pool = require_binary(pool[treat], treat)
    require_both_arms(t_pool, treat)
    for s in strata_cols:
        if pool[s].isna().any():
            raise InputError(f"strata column {s!r} has {int(pool[s].isna().sum())} missing value(s)")
    strata_pos = _strata_positions(pool, strata_cols)

    # ---- observed fits: the same design and the same wls as estimate_itt ----------------
    models: list[_Model] = []
    for o in outcomes:
        try:
            d = build_design(pool, o, treat, controls, weights, baseline, group_indicators)
        except InputError as err:
            msg = str(err)
            if group_indicators and "unexpected level" in msg and repr(vocab.GROUP) in msg:
                hint = f"pass group_indicators=False if column {vocab.GROUP!r} is not the trial group"
                raise InputError(f"{msg} ({hint})") from err
            raise
        fit = wls(d.y, d.X, d.w, cov_type, d.names)
        b, s = float(fit.params[1]), float(fit.bse[1])
        models.append(
            _Model(o, np.asarray(d.index, dtype=np.intp), d.y, d.X[:, [0, *range(2, d.X.shape[1])]], d.w,
                   d.X.shape[1], b, s, b / s, float(pvalue(b / s, fit.df_resid, dist)), fit.df_resid)
        )

    # ---- group models that share rows, controls and weights ------------------------------
    blocks: dict[tuple, _Block] = {}
    for i, m in enumerate(models):
        key = (m.rows.tobytes(), m.Z.shape[1], m.Z.tobytes())
        if key not in blocks:
            blocks[key] = _Block(m.rows, m.Z, m.w, m.k, [], np.empty((len(m.rows), 0)))
        blocks[key].members.append(i)
    for blk in blocks.values():
        blk.Y = np.column_stack([models[i].y for i in blk.members])
        blk.prepare_permutation(len(pool)) if method == "permutation" else blk.prepare_bootstrap()

    # ---- resamples ---------------------------------------------------------------------
    N, K = len(pool), len(models)
    supplied = None
    if permutations is not None:
        supplied = _as_permutations(permutations, t_pool)
    elif bootstrap_indices is not None:
        supplied = _as_bootstrap_indices(bootstrap_indices, N)
    B = supplied.shape[0] if supplied is not None else reps
    if chunk_size is None:
        chunk = max(_BLOCK, (_CELLS_PER_CHUNK // max(N, 1)) // _BLOCK * _BLOCK)
        if method == "bootstrap":
            chunk = max(_BLOCK, chunk // 4 // _BLOCK * _BLOCK)
    else:
        chunk = int(chunk_size)
        if supplied is None:
            chunk = max(_BLOCK, -(-chunk // _BLOCK) * _BLOCK)
    children = np.random.SeedSequence(seed).spawn(-(-B // _BLOCK)) if supplied is None else []

    def draw(j: int) -> np.ndarray:  # resample block j, from its own child seed
        rng = np.random.default_rng(children[j])
        size = min(_BLOCK, B - j * _BLOCK)
        if method == "permutation":
            return _permuted_block(rng, t_pool, strata_pos, size)
        return _bootstrap_block(rng, N, strata_pos, size)

    def chunks():
        starts = list(range(0, B, chunk))
        if supplied is not None or not _PREFETCH or B * N < 2_000_000:
            for start in starts:
                if supplied is None:
                    stop = min(B, start + chunk)
                    yield start, stop, np.vstack([draw(j) for j in range(start // _BLOCK, -(-stop // _BLOCK))])
                    continue
                yield start, min(B, start + chunk), supplied[start : start + chunk]
            return
        # draw the next chunk in worker threads while this one is evaluated (numpy's
        # generators release the GIL)
        with ThreadPoolExecutor(max_workers=2) as pool_ex:

            def submit(start: int):
                stop = min(B, start + chunk)
                return [pool_ex.submit(draw, j) for j in range(start // _BLOCK, -(-stop // _BLOCK))]

            pending = submit(starts[0])
            for i, start in enumerate(starts):
                futures = pending
                if i + 1 < len(starts):
                    pending = submit(starts[i + 1])
                yield start, min(B, start + chunk), np.vstack([f.result() for f in futures])

    coef_star = np.empty((B, K))
    se_star = np.empty((B, K))
    df_star = np.empty((B, K))
    valid = np.ones(B, dtype=bool)
    model_df = {id(b): np.array([models[i].df for i in b.members], dtype=float)[None, :] for b in blocks.values()}
    bar = _progress_bar(progress, B, float(B) * N * (K + 4 * len(blocks)))
    local = threading.local()

    def evaluate(blk: _Block, start: int, stop: int, R: np.ndarray) -> None:
        """Statistics of resamples start..stop (rows of R) in the models of one block."""
        ws = getattr(local, "ws", None)
        if ws is None:
            ws = local.ws = _Workspace()
        if method == "permutation":
            b, s, ok = _perm_chunk(blk, R, cov_type, ws)
            dfs = model_df[id(blk)]
        else:
            b, s, dfb, ok = _boot_chunk(blk, R, t_pool, cov_type)
            dfs = dfb[:, None]
        coef_star[start:stop, blk.members] = b
        se_star[start:stop, blk.members] = s
        df_star[start:stop, blk.members] = dfs
        ok = ok & np.isfinite(s).all(axis=1) & (s > 0).all(axis=1)
        with lock:
            valid[start:stop] &= ok

    lock = threading.Lock()
    workers = _WORKERS if B * N * len(blocks) >= 2_000_000 else 1
    try:
        with ExitStack() as stack:
            if workers > 1:
                # each worker thread evaluates half of a chunk with single-threaded BLAS (numpy
                # releases the GIL in its loops and in BLAS): both cores busy, no oversubscription
                ex = stack.enter_context(
                    ThreadPoolExecutor(workers, initializer=lambda: _blas_threads(_BLAS_THREADS).__enter__())
                )
            else:
                stack.enter_context(_blas_threads(_BLAS_THREADS))
            for start, stop, R in stack.enter_context(closing(chunks())):
                if workers > 1:
                    cuts = np.linspace(0, stop - start, workers + 1).astype(int)
                    futures = [
                        ex.submit(evaluate, blk, start + a, start + z, R[a:z])
                        for blk in blocks.values()
                        for a, z in zip(cuts[:-1], cuts[1:])
                        if z > a
                    ]
                    for f in futures:
                        f.result()
                else:
                    for blk in blocks.values():
                        evaluate(blk, start, stop, R)
                if bar is not None:
                    bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()

    # ---- statistics under the null and the adjustment -----------------------------------
    coef_obs = np.array([m.coef for m in models])
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "permutation":
            t_star = coef_star / se_star  # sharp null b = 0 on the shuffled treatment
        else:
            t_star = (coef_star - coef_obs[None, :]) / se_star  # null imposed: b* = b_hat
    df_used = np.where(np.isfinite(df_star) & (df_star > 0), df_star, 1.0)
    p_star = np.asarray(pvalue(t_star, df_used, dist), dtype=float)
    n_bad = int((~valid).sum())
    if n_bad == B:
        raise InputError("no resample could be estimated (each left a model with a single arm or too few rows)")
    if n_bad:
        msg = f"{n_bad} of {B} resamples dropped: a model could not be estimated in them"
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
    p_obs = np.array([m.p for m in models])
    pv = p_star[valid]
    p_wy = wy_adjust(p_obs, pv, step, floor_at_raw=floor_at_raw)
    Bv = pv.shape[0]
    p_marg = (pv <= p_obs[None, :] * (1 + _TIE_RTOL)).mean(axis=0)

    table = pd.DataFrame(
        {
            "coef": coef_obs,
            "se": [m.se for m in models],
            "t": [m.t for m in models],
            "p": p_obs,
            "nobs": [len(m.rows) for m in models],
            "p_resampled": p_marg,
            "p_wy": p_wy,
            "p_wy_mcse": np.sqrt(p_wy * (1 - p_wy) / Bv),
        },
        index=pd.Index(outcomes, name="outcome"),
    )
    for c in corrections:
        key = _correction_name(c)
        table[f"p_{key.replace('-', '_')}"] = adjust_pvalues(p_obs, key)
    elapsed = time.perf_counter() - t0
    table.attrs.update(
        {
            "method": method,
            "step": step,
            "reps": int(Bv),
            "reps_requested": int(B),
            "seed": seed,
            "strata": strata_cols,
            "cov_type": cov_type,
            "dist": dist,
            "floor_at_raw": floor_at_raw,
            "chunk_size": int(chunk),
            "elapsed_s": elapsed,
            "algorithm": "Westfall & Young (1993) Algorithm 2.8 (free step-down minP)"
            if step == "down"
            else "Westfall & Young (1993) Algorithm 2.5 (single-step minP)",
        }
    )
    return WYDetails(table, p_star, t_star, coef_star, se_star, valid, elapsed)


def westfall_young(
    data: pd.DataFrame,
    outcomes: Sequence[str] | str,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = (),
    weights: str | None = None,
    reps: int = 10_000,
    method: str = "permutation",
    strata: str | Sequence[str] | None = None,
    seed: int | None = 0,
    **options,
) -> pd.DataFrame:
    """Westfall–Young adjusted p-values for the treatment coefficient in K regressions.

    Each outcome in ``outcomes`` is regressed, among the rows where it is observed, on
    ``treat``, a constant and ``controls`` (categorical controls as dummies), weighted by the
    column ``weights`` (sampling weights), with a heteroskedasticity-robust covariance — the
    design and fit of :func:`hlt_replicate.impact.estimate_itt`, so ``coef``, ``se`` and ``p``
    equal its ``impact``, ``se`` and ``p`` for the same options. The p-values are then adjusted
    for the K tests by resampling (``reps`` resamples, shared by all K models):

    * ``method="permutation"`` — shuffle ``treat`` over all rows of ``data`` (within the
      levels of ``strata`` when given: the randomisation blocks), re-estimate every model and
      test ``b* = 0``: the sharp null of no effect on any outcome;
    * ``method="bootstrap"`` — draw the rows of ``data`` with replacement (within ``strata``),
      re-estimate and test ``b* = b_hat`` (the null imposed by centring, as Stata's
      ``wyoung`` does).

    ``p_wy`` is the free step-down minP adjustment (Westfall & Young 1993, Algorithm 2.8)
    or, with ``step="single"``, single-step minP (Algorithm 2.5); see :func:`wy_adjust`.

    Keyword-only options: ``group`` (a trial or pooled group: select its rows first);
    ``baseline`` (``False`` by default: only the listed controls; ``True`` adds each outcome's
    baseline counterpart from :mod:`vocab`, as ``estimate_itt`` does by default; or a column
    name); ``group_indicators`` (trial-group dummies when rows span several groups, as
    ``estimate_itt``); ``cov_type`` (``"HC1"``; HC0/HC2/HC3); ``dist`` (``"t"``: Student t with
    the model's residual df, or ``"normal"``); ``step`` (``"down"``/``"single"``);
    ``floor_at_raw`` (``True``: never report an adjusted p below the raw one);
    ``corrections`` (closed-form columns to add: default Bonferroni, Holm, Šidák,
    Benjamini–Hochberg; ``()`` for none); ``chunk_size`` (resamples evaluated per matrix
    product; memory ≈ 8 × chunk_size × rows bytes per array; the results do not depend on
    it); ``progress`` (``False``, ``True`` or ``"auto"``: a tqdm bar); ``permutations`` (a
    B × N matrix of permuted treatment vectors, or of row indices each a permutation of
    0..N-1, replacing the random draws — for tests and external checks); ``bootstrap_indices``
    (a B × N matrix of row positions drawn with replacement, for the bootstrap).

    ``seed`` makes the run reproducible (``None`` draws fresh entropy).

    Returns a DataFrame indexed by outcome with columns ``coef``, ``se``, ``t``, ``p`` (raw),
    ``nobs``, ``p_resampled`` (the per-outcome resampling p-value: a check on the raw
    p-value's distributional assumption), ``p_wy`` (adjusted), ``p_wy_mcse`` (its Monte
    Carlo standard error, see :func:`monte_carlo_error`), and ``p_<correction>`` columns;
    ``attrs`` records the method, step, number of resamples and seed.
    """
    return westfall_young_details(data, outcomes, treat, controls, weights, reps, method, strata, seed, **options).table


# --------------------------------------------------------------------------------------
# the SAP decision rule (§4.2.1, Table 4-5)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SAPDecision:
    """Outcome of the SAP decision rule for one (trial or pooled) group.

    ``decision`` is True when the rule *triggers*: the response rates differ by more than
    ``threshold_ppt`` **and** at least one baseline outcome differs significantly between the
    arms after the Westfall–Young adjustment; the survey-based primary outcomes (health and
    wellbeing) would then be demoted to secondary and the administrative outcomes (sustained
    employment, earnings) regarded as primary. ``reason`` says why, in plain language.
    ``table`` is in the layout of Table 4-5 (``Diff.``, ``S.E.``, ``P-val`` — WY adjusted —
    plus the raw p-value and the base); ``wy`` is the full :func:`westfall_young` table.
    """

    group: str | None
    decision: bool
    reason: str
    response_rate_treatment: float
    response_rate_control: float
    response_gap_ppt: float
    gap_exceeds: bool
    imbalance: bool
    threshold_ppt: float
    alpha: float
    table: pd.DataFrame
    wy: pd.DataFrame = field(repr=False)

    def summary(self) -> str:
        label = vocab.GROUP_LABELS.get(self.group, self.group)
        return f"{label}: {'TRIGGERED' if self.decision else 'not triggered'} — {self.reason}"


def sap_decision_rule(
    data: pd.DataFrame,
    group: str | None,
    outcomes: Sequence[str] = vocab.TABLE_4_5_OUTCOMES,
    threshold_ppt: float = 5,
    alpha: float = 0.05,
    reps: int = 10_000,
    seed: int | None = 0,
    *,
    treat: str = vocab.TREAT,
    responded: str = vocab.RESPONDED,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    method: str = "permutation",
    strata: str | Sequence[str] | None = "auto",
    cov_type: str = "HC1",
    dist: str = "t",
    step: str = "down",
    chunk_size: int | None = None,
    progress: bool | str = False,
) -> SAPDecision:
    """Apply the SAP's decision rule on survey non-response to one group (§4.2.1, Table 4-5).

    The rule (report, §4.2.1): *if* the treatment–control difference in the response rate is
    more than ``threshold_ppt`` percentage points *and* baseline measures of job-search
    efficacy, employment history, health or well-being differ significantly (p < ``alpha``
    after the Westfall–Young adjustment) in weighted regressions on the control variables,
    *then* regard the administrative outcomes as primary and all survey outcomes as secondary.

    * The response gap uses column ``responded`` among all randomised rows of ``group`` (a
      trial group or a pooled one, :func:`hlt_replicate.vocab.groups_in`), unweighted, as in
      Table 4-1; "more than" is strict, on the absolute gap.
    * The baseline outcomes (default: those of Table 4-5) are regressed among respondents on
      ``treat`` and the SAP controls with the survey weights and a robust SE (plus trial-group
      indicators for a pooled group); an outcome's own baseline counterpart is *not* added
      (these outcomes are baseline measures). P-values are adjusted with
      :func:`westfall_young` (``reps`` resamples from ``seed``). ``strata="auto"`` permutes
      the treatment within trial groups when ``group`` is pooled (randomisation was 50/50
      within each trial group, Table 4-1) and over all respondents otherwise; give a column
      name (or ``None``) to choose.

    Returns a :class:`SAPDecision`: ``decision`` (True: the rule triggers), ``reason`` (plain
    language), the response rates and gap, and ``table`` in the layout of Table 4-5.
    """
    require_frame(data)
    if not (0 < alpha < 1):
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}")
    if not (isinstance(threshold_ppt, (int, float)) and 0 <= threshold_ppt <= 100) or isinstance(threshold_ppt, bool):
        raise InputError(f"threshold_ppt must be a number of percentage points in [0, 100], got {threshold_ppt!r}")
    rows = select_group(data, group)
    require_columns(rows, [treat, responded])
    t = require_binary(rows[treat], treat)
    r = require_binary(rows[responded], responded)
    require_both_arms(t, treat, f" in group {group!r}")
    rate_t, rate_c = float(r[t == 1].mean()), float(r[t == 0].mean())
    gap = 100 * (rate_t - rate_c)
    gap_exceeds = bool(abs(gap) > threshold_ppt)
    resp = rows[r == 1]
    if resp.empty:
        raise InputError(f"no respondents ({responded} == 1) in group {group!r}")
    if isinstance(strata, str) and strata == "auto":
        pooled = vocab.GROUP in resp and resp[vocab.GROUP].nunique() > 1
        strata = vocab.GROUP if pooled else None
    wy = westfall_young(
        resp, list(outcomes), treat, controls, weights, reps, method, strata, seed,
        baseline=False, cov_type=cov_type, dist=dist, step=step, chunk_size=chunk_size, progress=progress,
    )
    imbalance = bool((wy["p_wy"] < alpha).any())
    decision = gap_exceeds and imbalance
    sig = [TABLE_4_5_LABELS.get(o, o) for o in wy.index[wy["p_wy"] < alpha]]
    min_o = wy["p_wy"].idxmin()
    gap_txt = (
        f"Response rates differ by {abs(gap):.1f} percentage points (treatment {100 * rate_t:.1f}%, "
        f"control {100 * rate_c:.1f}%), {'more' if gap_exceeds else 'not more'} than the "
        f"{threshold_ppt:g}-point threshold"
    )
    if imbalance:
        bal_txt = (
            f"baseline outcome(s) {', '.join(sig)} differ significantly between the arms after the Westfall–Young "
            f"adjustment (adjusted p < {alpha:g})"
        )
    else:
        bal_txt = (
            f"no baseline outcome differs significantly after the Westfall–Young adjustment (smallest adjusted "
            f"p = {wy.loc[min_o, 'p_wy']:.2f}, {TABLE_4_5_LABELS.get(min_o, min_o)}, not below {alpha:g})"
        )
    if decision:
        verdict = (
            "The rule therefore triggers: regard the administrative outcomes (sustained employment, earnings) as "
            "primary and all survey outcomes, including health and wellbeing, as secondary."
        )
    else:
        verdict = (
            "The rule therefore does not trigger: the survey-based primary outcomes (health, wellbeing) stay primary."
        )
    reason = f"{gap_txt}, and {bal_txt}. {verdict}"

    table = pd.DataFrame(
        {
            "Diff.": wy["coef"].to_numpy(),
            "S.E.": wy["se"].to_numpy(),
            "P-val": wy["p_wy"].to_numpy(),
            "P-val (raw)": wy["p"].to_numpy(),
            "Base": wy["nobs"].to_numpy(),
        },
        index=pd.Index([TABLE_4_5_LABELS.get(o, o) for o in wy.index], name=vocab.GROUP_LABELS.get(group, group)),
    )
    table.attrs.update(
        {
            "P-val": f"Westfall–Young adjusted ({'free step-down' if step == 'down' else 'single-step'} minP, "
            f"{wy.attrs['reps']:,} {method} resamples, seed {seed})",
            "source": "Table 4-5 layout (4-month report, §4.2.1)",
        }
    )
    return SAPDecision(
        group=group,
        decision=decision,
        reason=reason,
        response_rate_treatment=rate_t,
        response_rate_control=rate_c,
        response_gap_ppt=gap,
        gap_exceeds=gap_exceeds,
        imbalance=imbalance,
        threshold_ppt=float(threshold_ppt),
        alpha=float(alpha),
        table=table,
        wy=wy,
    )
