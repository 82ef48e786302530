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
from scipy.optimize import linprog

from hlt_replicate import vocab

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
