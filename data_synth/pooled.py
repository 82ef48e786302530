"""Make the trial groups' targets agree with the pooled tables.

Tables 4-12 (SCR = SCR IW + SCR OOW) and 4-15 (SCR/WMCA OOW) print raw means that are
count-weighted averages of the trial groups' means. Each printed group mean only says the
true mean lies within half a unit of its last decimal, so there is room to choose group
means that reproduce *both* the group tables and the pooled tables. This module picks,
for every outcome and arm, the group means closest to the printed ones that satisfy all
five tables (a small linear programme), before the outcomes are calibrated.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from hlt_replicate import vocab

from .calibrate import _met as cal_met
from .targets import ARMS, Targets

MARGIN = 0.7  # use 70 % of each rounding interval, leaving room for the calibration


def arm_bases(t: Targets, group: str, outcome: str) -> dict[int, int]:
    """Observed cases per arm for an outcome, as the generator's item non-response draws them."""
    base = t.outcome_targets(group, outcome)["base"]
    r = t.respondents(group)
    n = r[0] + r[1]
    k1 = int(round(base * r[1] / n))
    return {1: k1, 0: base - k1}


def resolve_pooled_means(t: Targets) -> tuple[Targets, list[dict]]:
    """Return targets whose group means also reproduce the pooled tables, and a log of
    the adjustments (and of pooled cells no choice of group means can reproduce)."""
    raw = copy.deepcopy(t.raw)
    sec = raw["secondary_impacts"]
    excluded = t.excluded()
    groups = list(t.groups)
    log = []
    for outcome in vocab.SECONDARY_OUTCOMES:
        for arm_name, arm in ARMS.items():
            col = 0 if arm == 0 else 1
            v = np.array([sec[g]["rows"][outcome]["values"][col] for g in groups], dtype=float)
            n = np.array([arm_bases(t, g, outcome)[arm] for g in groups], dtype=float)
            tol = 0.005 * MARGIN
            A_ub, b_ub, pools = [], [], []
            for pg, members in vocab.POOLED_GROUPS.items():
                if pg not in sec or f"secondary_impacts.{pg}.{outcome}" in excluded:
                    continue
                if f"secondary_impacts.{pg}.{outcome}.{arm_name}" in excluded:
                    continue
                if not all(m in groups for m in members):
                    continue
                wts = np.array([n[i] if g in members else 0.0 for i, g in enumerate(groups)])
                wts = wts / wts.sum()
                target = sec[pg]["rows"][outcome]["values"][col]
                pools.append((pg, wts, target))
                # |w.m - target| <= tol  (variables: m (k), d (k))
                A_ub += [np.r_[wts, np.zeros(len(groups))], np.r_[-wts, np.zeros(len(groups))]]
                b_ub += [target + tol, -(target - tol)]
            if not pools:
                continue
            k = len(groups)
            # d_i >= |m_i - v_i|
            for i in range(k):
                e = np.zeros(k)
                e[i] = 1
                A_ub += [np.r_[e, -e], np.r_[-e, -e]]
                b_ub += [v[i], -v[i]]
            bounds = [(vi - tol, vi + tol) for vi in v] + [(0, None)] * k
            res = linprog(np.r_[np.zeros(k), np.ones(k)], A_ub=np.array(A_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
            if res.status != 0:
                for pg, wts, target in pools:
                    lo = float(np.sum(wts * (v - 0.005)))
                    hi = float(np.sum(wts * (v + 0.005)))
                    if not lo <= target <= hi:
                        log.append({"outcome": outcome, "arm": arm_name, "pooled": pg, "printed": target,
                                    "feasible_range": (round(lo, 4), round(hi, 4)), "status": "infeasible"})
                continue
            m = res.x[:k]
            for i, g in enumerate(groups):
                if abs(m[i] - v[i]) > 1e-9:
                    sec[g]["rows"][outcome]["values"][col] = float(m[i])
                    log.append({"outcome": outcome, "arm": arm_name, "group": g, "printed": float(v[i]),
                                "used": round(float(m[i]), 5), "status": "adjusted"})
    return Targets(raw, t.path, t.digest, t.scale), log


# --- pooled estimates ---------------------------------------------------------------------
def _pooled_targets(t: Targets):
    """(pooled group, outcome, kind, printed impact) for every pooled impact the tables print."""
    excluded = t.excluded()
    out = []
    for pg in vocab.POOLED_GROUPS:
        sec = t.raw["secondary_impacts"].get(pg)
        if sec:
            for o, row in sec["rows"].items():
                tid = f"secondary_impacts.{pg}.{o}.impact"
                if not any(tid == e or tid.startswith(e + ".") or f"secondary_impacts.{pg}.{o}" == e for e in excluded):
                    out.append((pg, o, "itt", row["values"][2]))
        part = (t.raw.get("participation_impacts") or {}).get(pg)
        if part:
            for o, row in part["rows"].items():
                out.append((pg, o, "iv", row["values"][0]))
    return out


def calibrate_pooled_estimates(df: pd.DataFrame, t: Targets, rng: np.random.Generator, tol: float = 0.005,
                               passes: int = 6) -> pd.DataFrame:
    """Exact mode: move each pooled impact (Tables 4-12, 4-13, 4-15) into its printed
    interval without moving any trial group's raw means, impact or (to first order) SE.

    The pooled estimate is linear in the outcome, ``b_P = c_P . y``; so is each group's,
    ``b_g = c_g . y_g``, and each arm mean; and the gradient of a group's HC1 variance is
    ``2 (I - X_g B_g)' (c_g^2 * e_g)``. Adding ``delta z``, where ``z`` is ``c_P`` with its
    projection on all of these removed, moves ``b_P`` by ``delta c_P . z`` and leaves every
    group statistic where it was. Binary outcomes use within-arm swaps chosen so that the
    pooled estimate moves while the group estimate stays inside its rounding.
    """
    from .outcomes import _estimator as _build  # the same estimators as the group calibration

    cache: dict = {}

    def _estimator(rows, outcome, iv=False):
        """Designs depend on the rows and controls, not on y: build each once (the cache is
        emptied when it passes 256 MB, bounding memory at --scale)."""
        key = (outcome, iv, tuple(rows.index[rows[outcome].notna()]))
        if key not in cache:
            if sum(e[0].B.nbytes for e in cache.values()) > 256 * 2**20:
                cache.clear()  # bounded memory at --scale
            cache[key] = _build(rows, outcome, iv=iv)
        return cache[key]

    df = df.copy()
    for _ in range(passes):
        moved = False
        resp = df[df[vocab.RESPONDED] == 1]
        for pg, outcome, kind, target in _pooled_targets(t):
            iv = kind == "iv"
            members = vocab.POOLED_GROUPS[pg]
            rows = resp[resp[vocab.GROUP].isin(members)]
            est_p, idx = _estimator(rows, outcome, iv=iv)
            y = df.loc[idx, outcome].to_numpy(float)
            gap = target - est_p.coef(y)
            if abs(gap) <= 0.4 * tol:
                continue
            groups = df.loc[idx, vocab.GROUP].to_numpy()
            T = df.loc[idx, vocab.TREAT].to_numpy()
            cons, group_c = [], {}
            for g in members:
                sub = rows[rows[vocab.GROUP] == g]
                group_iv = iv and (t.raw.get("participation_impacts") or {}).get(g) is not None
                est_g, idx_g = _estimator(sub, outcome, iv=group_iv)
                pos = pd.Index(idx).get_indexer(idx_g)
                cg = np.zeros(len(idx))
                cg[pos] = est_g.c
                group_c[g] = cg
                yg = y[pos]
                e = est_g.resid(yg)
                v = est_g.c**2 * e
                grad = np.zeros(len(idx))
                grad[pos] = v - est_g.B.T @ (est_g.X.T @ v)
                cons += [cg, grad]
                for arm in (0, 1):
                    cons.append(((groups == g) & (T == arm)).astype(float))
            meta = vocab.OUTCOMES[outcome]
            def keeps_groups(y_try) -> bool:
                """Every member group's targets for this outcome still print as published."""
                trial = df.loc[idx].assign(**{outcome: y_try})
                return all(_group_met(trial, t, g, outcome, _estimator) for g in members)

            if meta.binary:
                up_ok = np.ones(len(y), bool)
                down_ok = np.ones(len(y), bool)
                if outcome == "work16":  # working 16+ hours implies in paid work
                    up_ok = df.loc[idx, "paid_work"].to_numpy(float) == 1
                if outcome == "paid_work":
                    down_ok = np.nan_to_num(df.loc[idx, "work16"].to_numpy(float), nan=0.0) == 0
                y_try = _binary_pooled(est_p.c, group_c, groups, T, y, gap, tol, rng, up_ok, down_ok)
                if not np.array_equal(y_try, y) and keeps_groups(y_try):
                    df.loc[idx, outcome] = y_try
                    moved = True
                continue
            A = np.column_stack(cons)
            lo, hi = (np.full(len(y), float(b)) for b in meta.bounds)
            if outcome == "weeks_work":  # weeks in work stay >= weeks at 16+ hours
                lo = np.maximum(lo, np.nan_to_num(df.loc[idx, "weeks_work16"].to_numpy(float), nan=0.0))
            if outcome == "weeks_work16":
                hi = np.minimum(hi, np.nan_to_num(df.loc[idx, "weeks_work"].to_numpy(float), nan=16.0))
            movable = (y > lo + 1e-6) & (y < hi - 1e-6)  # interior points only: no clipping
            y_new = y.copy()
            for _ in range(20):  # freeze rows a full step would push past a bound, re-project
                gap_now = target - est_p.coef(y_new)
                if abs(gap_now) <= 0.3 * tol:
                    break
                Am, cm = A[movable], est_p.c[movable]
                z = np.zeros(len(y))
                z[movable] = cm - Am @ np.linalg.lstsq(Am, cm, rcond=None)[0]
                denom = float(est_p.c @ z)
                if abs(denom) < 1e-12:
                    break
                step = (gap_now / denom) * z
                bad = (y_new + step < lo) | (y_new + step > hi)
                if bad.any() and bad.sum() < movable.sum() // 2:
                    movable &= ~bad
                    continue
                y_new = np.clip(y_new + step, lo, hi)
            if not np.array_equal(y_new, y) and keeps_groups(y_new):
                df.loc[idx, outcome] = y_new
                moved = True
        if not moved:
            break
    return df


def _group_met(rows: pd.DataFrame, t: Targets, group: str, outcome: str, _estimator) -> bool:
    """Whether a trial group's raw means, impact, S.E. and s.d. for ``outcome`` print as its
    targets (the group's rows must be in ``rows``)."""
    from .outcomes import _goal

    sub = rows[rows[vocab.GROUP] == group]
    tg = t.outcome_targets(group, outcome)
    iv = tg.get("iv_impact") is not None and vocab.OUTCOMES[outcome].primary
    est, idx = _estimator(sub, outcome, iv=iv)
    y = sub.loc[idx, outcome].to_numpy(float)
    T = sub.loc[idx, vocab.TREAT].to_numpy()
    goal = _goal(tg, outcome, iv, t.scale)
    goal.tol_mean = 0.005
    return cal_met(est, y, T, goal, slack=0.95)


def _binary_pooled(c_p, group_c, groups, T, y, gap, tol, rng, up_ok, down_ok, max_swaps: int = 300):
    y = y.copy()
    drift = {g: 0.0 for g in group_c}  # change of each group's estimate so far
    for _ in range(max_swaps):
        if abs(gap) <= 0.3 * tol:
            break
        best = None
        for g, cg in group_c.items():
            for arm in (0, 1):
                ones = np.flatnonzero((groups == g) & (T == arm) & (y == 1) & down_ok)
                zeros = np.flatnonzero((groups == g) & (T == arm) & (y == 0) & up_ok)
                if len(ones) == 0 or len(zeros) == 0:
                    continue
                ones = rng.choice(ones, min(300, len(ones)), replace=False)
                zeros = rng.choice(zeros, min(300, len(zeros)), replace=False)
                dp = c_p[zeros][None, :] - c_p[ones][:, None]
                dg = cg[zeros][None, :] - cg[ones][:, None]
                score = ((gap - dp) / tol) ** 2 + ((drift[g] + dg) / (0.3 * tol)) ** 2
                k = np.unravel_index(int(np.argmin(score)), score.shape)
                if best is None or score[k] < best[0]:
                    best = (score[k], g, ones[k[0]], zeros[k[1]], dp[k], dg[k])
        if best is None or best[0] >= (gap / tol) ** 2 + sum((d / (0.3 * tol)) ** 2 for d in drift.values()):
            break
        _, g, i, j, dp, dg = best
        y[i], y[j] = 0.0, 1.0
        gap -= dp
        drift[g] += dg
    return y
