"""Exact mode: the weighted respondent columns of Tables 4-2..4-4 and §3.3.1.

The report prints, for every baseline characteristic, the mean in the full randomised
population and in the 4-month respondent sample *after weighting* — overall, in the control
arm and in the treatment arm — with a p-value of the treatment-control difference. Its
weighting model is not published, and its weighted columns differ from its own population
column by up to 0.02: the weights did not remove every trace of selective response. §3.3.1's
work-history shares are likewise weighted respondent shares (line 1386: "All percentages are
based on the weighted data").

This stage reproduces those columns the way selective response would have produced them. It
swaps response status between a respondent and a non-respondent *of the same arm* — which
keeps every count of Table 4-1 and leaves the randomised population untouched — choosing the
swaps that bring the weighted means, computed with the kit's own survey weights
(:func:`hlt_replicate.weighting.ipw_weights`: a logit of response on the baseline
characteristics and arm within the trial group), to the printed values.

Because every characteristic is in the response model, the weights largely undo a swap's
effect on the margins; what moves a weighted margin is *who within a cell* responds (a
respondent with a low fitted propensity carries a large weight). The effect of a swap is
therefore taken to first order *including the refit of the response model*: by the implicit
function theorem, adding recruit j to the respondents changes the weighted total of a
variable x by

    x_j / p_j  -  z_j' H^{-1} sum_{resp} x_i (1 - p_i) / p_i z_i,

where z are the response model's regressors, p its fitted probabilities and H its information
matrix. Swaps are chosen in bulk while the gaps are large (scaling to ``--scale 100``) and then
pair by pair; the model is refitted exactly between rounds.

The p-values of single characteristics (weighted two-sample t tests, as
:func:`hlt_replicate.balance.balance_table`) are met by aiming the treatment-control
difference, inside the rounding of the two printed arm columns, at the value whose test gives
the printed p-value. Cells marked as published inconsistencies in the targets file are skipped.

The joint p-values of the categorical blocks are aimed at once everything else is met (the
Wald statistic W = d' V^-1 d of the level differences, linearised as dW = 2 V^-1 d . delta d),
keeping the best state in which every other target still holds; the search does not always
reach them all, so they are best effort (``untargeted`` with ``aimed: true`` in the targets file).

Not targeted (compared in the scorecard only): the *levels* of the weighted columns. Every
characteristic is in the response model, so its weights pin each weighted margin close to the
population; the report's weighted columns sit up to 0.02 away (cohort May-Jun 2018, SCR OOW:
0.04 in the population, 0.02 weighted), which swaps of this kind could not reach for all
margins at once (tried: the search stalls with a third of the level cells outside their
rounding).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hlt_replicate import vocab
from hlt_replicate.balance import diff_test
from hlt_replicate.impact import control_matrix
from hlt_replicate.weighting import RESPONSE_COVARIATES

from .flatten import _is_excluded
from .targets import Targets

SLACK = 0.6  # aim inside 60 % of each rounding interval
HALF = 0.005  # two printed decimals
BLOCKS = ("qual", "health", "area", "cohort")  # rows carrying a block's joint p-value only
#: baseline measures whose respondent values a later stage (Table 4-5) recalibrates
LATER = ("bl_eq5d",)


@dataclass
class _Spec:
    """Columns whose weighted respondent means are targeted, and the targets.

    Two kinds: a weighted sample share (``share_col``, ``share_value``, ``share_tol``); and a
    treatment-control difference in the weighted means of a column (``diff_col`` ...). Tests
    add, each round, differences aimed at a printed p-value (:func:`_test_targets`).
    """

    X: np.ndarray  # n x K indicator/continuous columns
    share_col: np.ndarray
    share_value: np.ndarray
    share_tol: np.ndarray
    diff_col: np.ndarray
    diff_value: np.ndarray
    diff_tol: np.ndarray
    singles: list[tuple[int, float, float]]  # (column, printed p, printed T - C)
    blocks: list[tuple[list[int], float]]  # (columns of every level of a block, printed joint p)


def _column(grp: pd.DataFrame, key: str) -> np.ndarray:
    if "=" in key:
        var, level = key.split("=", 1)
        return (grp[var] == level).to_numpy(float)
    return grp[key].to_numpy(float)


def _spec(grp: pd.DataFrame, t: Targets, group: str) -> _Spec:
    excluded = t.skipped()
    cols, index = [], {}
    share, diff, singles, blocks = [], [], [], []

    def column(key):
        if key not in index:
            index[key] = len(cols)
            cols.append(_column(grp, key))
        return index[key]

    rows = t.baseline_rows(group)
    for key, row in rows.items():
        _, _, c, tr, p = row["values"]
        base = f"baseline_characteristics.{group}.{key}"
        if key in BLOCKS:
            if p is not None and t.scale == 1 and not _is_excluded(f"{base}.p_value", excluded):
                blocks.append(([column(f"{key}={lv}") for lv in vocab.CATEGORICAL_BASELINE[key]], p))
            continue
        if key in LATER or c is None or tr is None:
            continue
        k = column(key)
        if not cols[k].any():
            continue
        if not _is_excluded(f"{base}.difference", excluded):
            diff.append((k, round(tr - c, 2), 2 * HALF * SLACK))  # two rounded columns pin T - C to +/-0.01
        if p is not None and t.scale == 1 and not _is_excluded(f"{base}.p_value", excluded):
            singles.append((k, p, tr - c))  # a p-value belongs to the trial's sample size
    wh = t.raw.get("work_history") or {}
    for lv, v in (wh.get(group) or {}).items():
        if not _is_excluded(f"work_history.{group}.{lv}", excluded):
            share.append((column(f"work_history={lv}"), v, 0.5 * 10.0 ** -wh.get("decimals", 2) * SLACK))
    sc, sv, st = (np.array(x) for x in zip(*share)) if share else (np.empty(0, int),) * 3
    dc, dv, dt = (np.array(x) for x in zip(*diff)) if diff else (np.empty(0, int),) * 3
    return _Spec(np.column_stack(cols), sc.astype(int), sv.astype(float), st.astype(float),
                 dc.astype(int), dv.astype(float), dt.astype(float), singles, blocks)


class _ResponseModel:
    """The kit's response model (:func:`hlt_replicate.weighting.response_propensity`) for one
    trial group, refitted by warm-started Newton steps as response status changes."""

    def __init__(self, grp: pd.DataFrame):
        Xc, _ = control_matrix(grp, RESPONSE_COVARIATES)
        self.T = grp[vocab.TREAT].to_numpy(float)
        self.Z = np.column_stack([np.ones(len(grp)), self.T, Xc])
        self.beta = np.zeros(self.Z.shape[1])

    def fit(self, r: np.ndarray, tol: float = 1e-6, max_iter: int = 50, refresh: bool = True) -> np.ndarray:
        """Fitted probabilities; ``self.H`` the information matrix near them.

        The search only needs them to guide its swaps (the final weights are refitted by
        ``ipw_weights``), so a step below ``tol`` ends the fit, and with ``refresh=False`` the
        previous round's information matrix is reused (a few swaps barely change it; forming
        it is the costly n x q^2 part of a step under ``--scale``)."""
        Z = self.Z
        for it in range(max_iter):
            p = 1 / (1 + np.exp(-np.clip(Z @ self.beta, -30, 30)))
            if refresh or it >= 3 or not hasattr(self, "H"):
                self.H = (Z * (p * (1 - p))[:, None]).T @ Z
            step = np.linalg.solve(self.H, Z.T @ (r - p))
            self.beta += step
            if np.max(np.abs(step)) < tol:
                break
        return p


def calibrate_weighted_sample(grp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator,
                              rounds: int = 150, pool: int = 150, fine_swaps: int = 8, bulk_pool: int = 4000,
                              max_block_rounds: int = 12) -> pd.DataFrame:
    """Swap response status within arms until the weighted respondent columns print as
    published: the treatment-control differences of Tables 4-2..4-4 (the two arm columns,
    rounded, pin them to +/-0.01), the p-values of single characteristics (at the trial's
    size), and the work-history shares of §3.3.1. When swaps of response status stall, arms
    are traded between respondents (a chance imbalance of the randomisation). Returns a copy
    of ``grp`` with ``responded`` and ``treat`` changed; counts by group x arm, randomised and
    responding, are unchanged."""
    grp = grp.copy()
    spec = _spec(grp, t, group)
    model = _ResponseModel(grp)
    T = model.T.astype(bool)
    r = grp[vocab.RESPONDED].to_numpy(float).copy()
    X = spec.X
    K = X.shape[1]
    M = _moments(X, T)
    pool0 = pool
    blocks, best, block_rounds = False, None, 0
    for round_ in range(rounds):
        p = model.fit(r, refresh=round_ % 5 == 0)
        R = r == 1
        v = 1 / p
        tot = (v * R) @ M
        W0, W1 = tot[2 * K], tot[2 * K + 1]
        C, Tr = tot[:K] / W0, tot[K:2 * K] / W1
        S = (tot[:K] + tot[K:2 * K]) / (W0 + W1)
        # difference targets as rows of L applied to (T - C) means
        L = np.zeros((len(spec.diff_col), K))
        L[np.arange(len(spec.diff_col)), spec.diff_col] = 1.0
        L_t, v_t, tol_t = _test_targets(spec, X, R, T, v, C, Tr, blocks)
        L = np.vstack([L, L_t])
        value = np.concatenate([spec.share_value, spec.diff_value, v_t])
        tol = np.concatenate([spec.share_tol, spec.diff_tol, tol_t])
        cur = np.concatenate([S[spec.share_col], L[:len(spec.diff_col)] @ (Tr - C), np.zeros(len(v_t))])
        gap = value - cur
        if len(v_t):
            gap[-len(v_t):] = v_t  # test targets are expressed as the change still needed
            value[-len(v_t):] = 0.0
        if blocks:  # keep the state with most joint tests met among those meeting all else
            block_rounds += 1
            if block_rounds > max_block_rounds:
                break
            n_blk = len(spec.blocks)
            if np.all(np.abs(gap[:-n_blk]) <= 0.95 * tol[:-n_blk] / SLACK):
                score = float(np.sum(np.maximum(np.abs(gap[-n_blk:]) / tol[-n_blk:] - 1, 0)))
                if best is None or score < best[0]:
                    best = (score, r.copy(), T.copy())
        if np.all(np.abs(gap) <= tol):
            if blocks or not spec.blocks:
                best = None  # everything met here
                break
            blocks = True  # the joint tests join once every other target is met
            continue
        # first-order effect on the weighted totals of adding each recruit to the respondents,
        # with the response model refitted (module docstring)
        total_change = first_order_totals(model, M, p, R)

        def effects(idx):
            G = total_change(idx)
            dC = (G[:, :K] - C * G[:, [2 * K]]) / W0
            dT = (G[:, K:2 * K] - Tr * G[:, [2 * K + 1]]) / W1
            dS = (G[:, :K] + G[:, K:2 * K] - S * (G[:, [2 * K]] + G[:, [2 * K + 1]])) / (W0 + W1)
            return np.column_stack([dS[:, spec.share_col], (dT - dC) @ L.T]) / tol

        def arm_effects(idx):
            """Moving respondents to the other arm, weights held (the arm's coefficient in
            the response model barely moves when two respondents trade arms)."""
            xv = X[idx] * v[idx, None]
            sgn = np.where(T[idx], -1.0, 1.0)[:, None]  # +1: control -> treatment
            dT = sgn * (xv - Tr * v[idx, None]) / W1
            dC = -sgn * (xv - C * v[idx, None]) / W0
            return np.column_stack([np.zeros((len(idx), len(spec.share_col))), (dT - dC) @ L.T]) / tol

        e = gap / tol
        moved = 0
        for arm in (False, True):
            ins = np.flatnonzero((T == arm) & R)
            outs = np.flatnonzero((T == arm) & ~R)
            bulk = _bulk(e, effects, ins, outs, rng, bulk_pool)
            if bulk is not None:
                i_sel, j_sel, e = bulk
            else:
                i_sel, j_sel, e = _fine(e, effects, ins, outs, rng, pool, fine_swaps)
            r[i_sel], r[j_sel] = 0.0, 1.0
            moved += len(i_sel)
        R = r == 1  # after this round's response swaps
        if np.any(np.abs(e) > 1):  # trade arms between respondents (randomisation's chance imbalance)
            i_sel, j_sel, e = _fine(e, lambda idx: arm_effects(idx) * np.where(T[idx], -1.0, 1.0)[:, None], np.flatnonzero(T & R),
                                    np.flatnonzero(~T & R), rng, pool, fine_swaps)
            T[i_sel], T[j_sel] = False, True
            moved += len(i_sel)
            if len(i_sel):
                moved_rows = np.concatenate([i_sel, j_sel])
                model.T = T.astype(float)
                model.Z[moved_rows, 1] = model.T[moved_rows]
                M[moved_rows] = _moments(X[moved_rows], T[moved_rows])
        if moved == 0:  # stalled: widen the search before giving up
            if pool >= 4 * pool0:
                if blocks or not spec.blocks:
                    break
                blocks, pool = True, pool0
            else:
                pool *= 2
    if best is not None:  # the joint tests' phase stopped short: its best admissible state
        r, T = best[1], best[2]
    grp[vocab.RESPONDED] = r.astype(int)
    grp[vocab.TREAT] = T.astype(int)
    return grp


def first_order_totals(model: _ResponseModel, M: np.ndarray, p: np.ndarray, R: np.ndarray):
    """A function giving, for recruits ``idx``, the first-order change in the weighted totals
    sum_{resp} M / p of adding each one to the respondents, the response model refitted:
    M_j / p_j - z_j' H^-1 sum_{resp} M_i (1 - p_i) / p_i z_i (implicit function theorem on the
    logit's score equations; module docstring). ``H`` is the model's information matrix."""
    v = 1 / p
    B = (((1 - p[R]) * v[R])[:, None] * model.Z[R]).T @ M[R]  # q x m
    A = np.linalg.solve(model.H, B)
    return lambda idx: M[idx] * v[idx, None] - model.Z[idx] @ A


def _moments(X: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Moment variables whose weighted totals give the arm means: each column on the
    control arm, each on the treatment arm, the control count, the treatment count."""
    return np.column_stack([X * ~T[:, None], X * T[:, None], ~T, T]).astype(float)


def _p_band(p: float, q: int, df: int) -> tuple[float, float]:
    """Wald statistics (F(q, df) x q) whose p-value rounds to the printed ``p`` (aiming
    inside ``SLACK`` of the rounding interval)."""
    hi_p, lo_p = min(p + HALF * SLACK, 1.0), max(p - HALF * SLACK, 1e-12)
    return q * stats.f.isf(hi_p, q, df), q * stats.f.isf(lo_p, q, df)


def _test_targets(spec: _Spec, X, R, T, v, C, Tr, blocks: bool = False):
    """This round's targets from the printed p-values of single characteristics, as rows of
    L applied to the arm differences: (L, change still needed, tolerance). The test is the
    weighted t test of :func:`hlt_replicate.balance.diff_test`; the difference is aimed,
    inside the rounding of the printed arm columns, where its test gives the printed p (SE
    held at its current value). With ``blocks``, also each categorical block's joint Wald
    statistic, linearised in the level differences (V held)."""
    K = X.shape[1]
    w = v[R] / v[R].mean()
    tr = T[R].astype(float)
    df = int(R.sum()) - 2
    rows, need, tol = [], [], []
    for k, p, printed in spec.singles:
        _, V, _, _ = diff_test(X[R, k], tr, w)
        se = float(np.sqrt(V[0, 0]))
        w_lo, w_hi = _p_band(p, 1, df)
        sign = np.sign(printed) if round(printed, 2) != 0 else (np.sign(Tr[k] - C[k]) or 1.0)
        a, b = sorted((sign * np.sqrt(w_lo) * se, sign * np.sqrt(w_hi) * se))
        a, b = max(a, printed - 2 * HALF), min(b, printed + 2 * HALF)  # inside the printed arm columns
        if a > b:
            continue  # unreachable: the calibration report shows the miss
        row = np.zeros(K)
        row[k] = 1.0
        rows.append(row)
        need.append((a + b) / 2 - (Tr[k] - C[k]))
        tol.append((b - a) / 2)
    for cols, p in spec.blocks if blocks else ():
        present = [c for c in cols if X[R, c].any()][:-1]  # as balance_table: drop one present level
        d, V, stat, _ = diff_test(X[R][:, present], tr, w)
        w_lo, w_hi = _p_band(p, len(present), df)
        row = np.zeros(K)
        row[present] = 2 * np.linalg.solve(V, d)  # dW/dd, W = d' V^-1 d (V held)
        rows.append(row)
        need.append((w_lo + w_hi) / 2 - stat)
        tol.append((w_hi - w_lo) / 2)
    if not rows:
        return np.empty((0, K)), np.empty(0), np.empty(0)
    return np.array(rows), np.array(need), np.array(tol)


def _bulk(e, effects, ins, outs, rng, size):
    """Many swaps at once while the gaps are large: respondents and non-respondents ranked by
    how far their removal/addition moves the gaps, paired in rank order, and the number of
    pairs chosen where the predicted remaining gap is smallest. None when fewer than 10 pairs
    would help (the pair-by-pair search takes over)."""
    i_c = rng.choice(ins, min(size, len(ins)), replace=False)
    j_c = rng.choice(outs, min(size, len(outs)), replace=False)
    Ei, Ej = effects(i_c), effects(j_c)
    si = -(Ei @ e) - 0.5 * np.einsum("ij,ij->i", Ei, Ei)
    sj = Ej @ e - 0.5 * np.einsum("ij,ij->i", Ej, Ej)
    oi, oj = np.argsort(-si), np.argsort(-sj)
    m = min(len(oi), len(oj)) // 2
    steps = Ej[oj[:m]] - Ei[oi[:m]]
    path = e[None, :] - np.cumsum(steps, axis=0)
    obj = np.einsum("ij,ij->i", path, path)
    k = int(np.argmin(obj))
    if obj[k] >= e @ e or k + 1 < 10:
        return None
    return i_c[oi[:k + 1]], j_c[oj[:k + 1]], path[k]


def _loss(e: np.ndarray) -> np.ndarray:
    """Loss of scaled gaps (last axis): a hinge that ignores gaps inside 80 % of the aim, so
    targets already met leave room for the others, plus a small pull toward zero."""
    return np.sum(np.maximum(np.abs(e) - 0.8, 0.0) ** 2 + 0.01 * e**2, axis=-1)


def _fine(e, effects, ins, outs, rng, pool, swaps, shortlist: int = 2000):
    """Pair-by-pair: the swap that most reduces the loss of the scaled gaps, repeated a few
    times. Candidates: those whose removal/addition alone helps most, plus a random few."""
    i_c, Ei = _shortlist(-1, e, effects, ins, rng, pool)
    j_c, Ej = _shortlist(1, e, effects, outs, rng, pool)
    free_i, free_j = np.ones(len(i_c), bool), np.ones(len(j_c), bool)
    ni, nj = np.einsum("ij,ij->i", Ei, Ei), np.einsum("ij,ij->i", Ej, Ej)
    cross = Ej @ Ei.T  # nj x ni
    sel_i, sel_j = [], []
    for _ in range(swaps):
        # shortlist pairs by the squared distance to the gaps (dot products only), then score
        # the shortlisted pairs by the hinge loss
        quad = (nj - 2 * (Ej @ e))[:, None] + (ni + 2 * (Ei @ e))[None, :] - 2 * cross
        quad[~free_j, :] = np.inf
        quad[:, ~free_i] = np.inf
        flat = np.argpartition(quad.ravel(), min(shortlist, quad.size) - 1)[:shortlist]
        bs, as_ = np.unravel_index(flat, quad.shape)
        after = _loss(e[None, :] - (Ej[bs] - Ei[as_]))
        after[~np.isfinite(quad[bs, as_])] = np.inf
        best = int(np.argmin(after))
        b, a = bs[best], as_[best]
        if after[best] >= _loss(e) - 1e-12:
            break
        e = e - (Ej[b] - Ei[a])
        free_i[a] = free_j[b] = False
        sel_i.append(i_c[a])
        sel_j.append(j_c[b])
    return np.array(sel_i, int), np.array(sel_j, int), e


def _shortlist(sign, e, effects, idx, rng, pool, screen: int = 6000):
    """The ``pool`` candidates (of a random ``screen`` of ``idx``) with the best first-order
    gain from moving them (sign -1: out of the respondents, +1: in), and ``pool // 4`` random
    others for variety."""
    idx = rng.choice(idx, min(screen, len(idx)), replace=False)
    E = effects(idx)
    gain = sign * (E @ e) - 0.5 * np.einsum("ij,ij->i", E, E)
    order = np.argsort(-gain)
    keep = np.concatenate([order[:pool], rng.permutation(order[pool:])[:pool // 4]])
    return idx[keep], E[keep]
