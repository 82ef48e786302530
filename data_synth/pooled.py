"""Make the trial groups' data agree with the pooled tables (4-12, 4-13, 4-15).

Two steps, both in ``exact`` mode:

1. :func:`resolve_pooled_means` (before the outcomes are drawn). A pooled raw mean is the
   case-weighted average of its groups' raw means. Each printed group mean only says the
   true mean lies within half a unit of its last decimal, so there is room to choose group
   means that reproduce *both* the group tables and the pooled tables: a small linear
   programme for continuous outcomes; for 0/1 outcomes an exact search over each arm's
   count of ones (a binary raw mean is a count over a known base).

2. :func:`calibrate_pooled_estimates` (after the groups are calibrated). The pooled
   regressions (one treatment coefficient, common slopes on the controls, a group dummy)
   are not averages of the group regressions: the pooled impact is about a weighted
   average of the groups' impacts, with weights ``S_g = sum w T~^2`` over each group
   (ordinary least squares, not inverse-variance), plus a term from the groups' covariate
   slopes differing from the common slope; the pooled S.E. is about
   ``sqrt(sum S_g^2 se_g^2) / sum S_g``, raised when the slopes differ (the common slope
   leaves the difference in the residuals). So the pooled cells are reached by moves the
   group tables cannot see:

   * continuous outcomes: combinations of each group's controls (group-specific slopes),
     of its residuals, arms and impact weights, solved exactly (every statistic is linear
     or quadratic in the move) for the smallest change that puts each pooled impact and
     S.E. inside its printed rounding while every group's raw means, impact, S.E. and s.d.
     stay inside theirs;
   * 0/1 outcomes (and weeks at 16+ hours, which is either 0 or all of a worker's weeks):
     swaps within a group and arm, which keep its raw means, chosen in runs scored exactly
     to move the pooled statistics while the group ones stay put.

   A pooled S.E. above what the groups' S.E.s allow with common slopes
   (:func:`common_slope_se`) would need the groups' slopes to differ by more than the
   bounded outcomes carry; :mod:`data_synth.flatten` does not make those cells targets
   and they are left alone (Table 4-12's two weeks-in-work S.E.s). Under ``--scale`` the
   groups' chance slope differences vanish, so for 0/1 outcomes the groups' own S.E.s are
   aimed where the common-slope pooled S.E. prints as published (:func:`group_se_band`,
   used by :mod:`data_synth.outcomes`).

   The pooled groups' primary-outcome ITT impacts have no table; where the prose claims a
   significance band and an effect size (``primary_prose`` in the targets file: the
   OOW groups' weak evidence of 0.1 s.d. on EQ5D5L and SWEMWBS), the impact is aimed inside
   the interval they give for the S.E. and s.d. its groups leave
   (:func:`data_synth.stars.prose_coef_band`), best effort like Table 4-13's stars. Seeds
   0-11: before the aim, 6 printed "significant" for one or both; after, none.

   A change is kept only when every calibration target it touches still prints as
   published, checked with the same arithmetic as :mod:`hlt_replicate.impact`. A
   continuous outcome's move that takes a trial group's effect size out of its rounding is
   solved again with the effect sizes steered too (:func:`_solve_continuous`). The trial
   groups' impact / S.E. stays in the band their printed stars need, where their
   calibration put it (:func:`data_synth.stars.t_band`), and so does a trial group's ITT
   impact / S.E. in the band its prose claims (:func:`data_synth.stars.prose_t_band`: WMCA
   OOW's "no effect on any of the three primary outcomes"), unless that costs a pooled cell
   (:func:`_aims_first`).
"""
from __future__ import annotations

import copy
import hashlib
import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from hlt_replicate import vocab

from . import workers
from .errors import TargetError
from .stars import coef_band, prose_claims, prose_coef_band, prose_t_band, t_band
from .targets import ARMS, Targets

MARGIN = 0.7  # continuous group means: use 70 % of each rounding interval, leaving room for the calibration
MOVE_MARGIN = 0.05  # a pooled statistic is moved 5 % of its rounding interval inside the edge
#: under --scale the discrete search goes on while four rounds cut its score by 3 % (at the
#: trial's size, 10 %): SCR's pooled work16_cont S.E. crept up to its rounding 0.4 % a round
STALL_SCALED = 0.97
FLIP_COST = 1e-4  # discrete search: score cost of one more pair (fewer cases change); for 0/1 outcomes divided
# by --scale (a pair moves a statistic 1/scale as much there: at the full cost the search stopped after a few
# pairs). Weeks at 16+ hours: divided by sqrt(--scale) (_weeks; divided by --scale, their runs broke group
# cells and were refused).
MAX_ROWS = 250000  # per trial group: rows that carry continuous moves, candidates for discrete ones (at
# --scale 100 every respondent: thinning to 40,000 left the moves too little leverage on the pooled
# impacts, and six pooled targets were missed)
RESID_CACHE = 4  # residual vectors remembered per regression (_Est.resid)


def arm_bases(t: Targets, group: str, outcome: str) -> dict[int, int]:
    """Observed cases per arm for an outcome, as the generator's item non-response draws them."""
    base = t.outcome_targets(group, outcome)["base"]
    r = t.respondents(group)
    n = r[0] + r[1]
    k1 = int(round(base * r[1] / n))
    return {1: k1, 0: base - k1}


def common_slope_se(sec: dict, pooled: str, outcome: str, half: float = 0.005) -> tuple[float, float] | None:
    """The range of a pooled S.E. when the pooled groups share their covariate slopes (the
    common slope leaves nothing of the groups' differences in the residuals):
    ``sqrt(sum (n_g se_g)^2) / sum n_g`` over the member groups' printed bases and S.E.s,
    each S.E. at either edge of its rounding (``half``). The pooled regression weights
    each group by ``S_g = sum w T~^2``, about its base (weights average 1 within a group
    and the arms are near half and half); above the range a pooled S.E. needs the groups'
    slopes to differ. ``None`` when a member's row is missing."""
    rows = [(sec.get(g) or {}).get("rows", {}).get(outcome) for g in vocab.POOLED_GROUPS[pooled]]
    if any(r is None or r["values"][3] is None or r["values"][6] is None for r in rows):
        return None
    n = np.array([r["values"][6] for r in rows], dtype=float)
    se = np.array([r["values"][3] for r in rows], dtype=float)

    def f(x):
        return float(np.sqrt(np.sum((n * x) ** 2)) / n.sum())

    return f(se - half), f(se + half)


def group_se_band(t: Targets, group: str, outcome: str, margin: float = 0.2, steps: int = 50) -> tuple[float, float] | None:
    """Under ``--scale`` only: the part of a trial group's S.E. rounding interval (printed
    units) that lets every pooled S.E. it belongs to print as published with common slopes.

    At the trial's size the groups' slopes differ by chance, and the pooled pass uses that;
    under ``--scale`` chance vanishes, so the pooled S.E. is :func:`common_slope_se`'s
    formula of the groups' own S.E.s, and those must leave it inside the pooled rounding
    (``margin`` of it to spare). All member groups move together: the band starts where a
    common fraction of each member's interval does, from the end the pooled S.E. needs.
    ``None`` when nothing needs narrowing."""
    if t.scale == 1 or not vocab.OUTCOMES[outcome].binary:  # continuous outcomes: the pooled pass moves slopes
        return None
    sec = t.raw["secondary_impacts"]
    half = 0.005
    own = (sec.get(group) or {}).get("rows", {}).get(outcome)
    if own is None or own["values"][3] is None:
        return None
    lo_g, hi_g = own["values"][3] - half, own["values"][3] + half
    lo, hi = lo_g, hi_g
    for pg, members in vocab.POOLED_GROUPS.items():
        row = (sec.get(pg) or {}).get("rows", {}).get(outcome)
        rows = [(sec.get(g) or {}).get("rows", {}).get(outcome) for g in members]
        if group not in members or row is None or row["values"][3] is None or \
                any(r is None or r["values"][3] is None or r["values"][6] is None for r in rows):
            continue
        n = np.array([r["values"][6] for r in rows], float)
        se = np.array([r["values"][3] for r in rows], float)
        p_lo, p_hi = row["values"][3] - half * (1 - margin), row["values"][3] + half * (1 - margin)

        def f(x):
            return float(np.sqrt(np.sum((n * x) ** 2)) / n.sum())

        fracs = np.linspace(0, 1, steps + 1)
        if f(se - half) < p_lo:  # the low ends leave the pooled S.E. too small: raise every member
            ok = [q for q in fracs if f(se - half + 2 * half * q) >= p_lo]
            if ok:
                lo = max(lo, lo_g + 2 * half * ok[0])
        if f(se + half) > p_hi:  # the high ends leave it too large: lower every member
            ok = [q for q in fracs if f(se + half - 2 * half * q) <= p_hi]
            if ok:
                hi = min(hi, hi_g - 2 * half * ok[0])
    if (lo, hi) == (lo_g, hi_g) or lo >= hi:
        return None
    return lo, hi


# =========================================================================================
# 1. group raw means that reproduce the pooled raw means
# =========================================================================================
def _pooled_mean_cells(t: Targets, outcome: str, arm_name: str, groups: list[str]):
    """(pooled group, member mask, printed mean, required) for the pooled raw means of an
    outcome and arm. Cells listed as published inconsistencies are kept as *optional*: they
    are reproduced when some choice of group means allows it (the audit may dispute the
    entry), never at the cost of a required one."""
    sec = t.raw["secondary_impacts"]
    skipped = t.skipped()
    out = []
    for pg, members in vocab.POOLED_GROUPS.items():
        if pg not in sec or outcome not in sec[pg]["rows"] or not all(m in groups for m in members):
            continue
        cell = f"secondary_impacts.{pg}.{outcome}.{arm_name}"
        if f"secondary_impacts.{pg}.{outcome}" in skipped and cell not in skipped:
            continue  # the whole row is inconsistent (e.g. a base larger than the sample)
        col = 0 if ARMS[arm_name] == 0 else 1
        out.append((pg, np.array([g in members for g in groups]), sec[pg]["rows"][outcome]["values"][col], cell not in skipped))
    return out


def resolve_pooled_means(t: Targets) -> tuple[Targets, list[dict]]:
    """Return targets whose group means also reproduce the pooled tables, and a log of
    the adjustments (and of pooled cells no choice of group means can reproduce).

    The returned targets carry the printed ones as ``printed`` (the calibration report and
    :func:`calibrate_pooled_estimates` judge against the printed cells)."""
    raw = copy.deepcopy(t.raw)
    sec = raw["secondary_impacts"]
    groups = [g for g in t.groups if g in sec]
    log = []
    for outcome in vocab.SECONDARY_OUTCOMES:
        if not all(outcome in sec[g]["rows"] for g in groups):
            continue
        binary = vocab.OUTCOMES[outcome].binary
        for arm_name, arm in ARMS.items():
            col = 0 if arm == 0 else 1
            cells = _pooled_mean_cells(t, outcome, arm_name, groups)
            if not cells:
                continue
            v = np.array([sec[g]["rows"][outcome]["values"][col] for g in groups], dtype=float)
            n = np.array([arm_bases(t, g, outcome)[arm] for g in groups], dtype=float)
            solve = _resolve_counts if binary else _resolve_lp
            m, status = solve(v, n, cells)
            for pg, mask, target, required in cells:
                if status.get(pg) == "infeasible":
                    lo, hi = _pooled_range(v, n, mask, binary)
                    log.append({"outcome": outcome, "arm": arm_name, "pooled": pg, "printed": target, "required": required,
                                "feasible_range": (round(lo, 4), round(hi, 4)), "status": "infeasible"})
            if m is None:
                required = [c for c in cells if c[3]]
                if required and binary:
                    ranges = ", ".join(f"{g} {v[i]:g} (base {int(n[i])})" for i, g in enumerate(groups))
                    raise TargetError(
                        f"secondary_impacts: the pooled raw means of {outcome} ({arm_name}) "
                        + ", ".join(f"{pg} {target:g}" for pg, _, target, _ in required)
                        + f" cannot all print as published with whole counts inside every group's rounding "
                        f"(groups: {ranges}); edit those cells together, or list one under `inconsistencies`"
                    )
                continue
            for i, g in enumerate(groups):
                if abs(m[i] - v[i]) > 1e-12:
                    sec[g]["rows"][outcome]["values"][col] = float(m[i])
                    log.append({"outcome": outcome, "arm": arm_name, "group": g, "printed": float(v[i]),
                                "used": round(float(m[i]), 5), "status": "adjusted"})
    out = Targets(raw, t.path, t.digest, t.scale)
    out.printed = getattr(t, "printed", t)
    return out, log


def pooled_mean_reachable(t: Targets, pooled: str, outcome: str, arm: int, printed: float) -> bool:
    """Can the pooled group's raw mean print as ``printed`` with every member group's raw
    mean inside its own rounding (whole counts for a 0/1 outcome)?"""
    sec = t.raw["secondary_impacts"]
    members = [g for g in vocab.groups_in(pooled) if g in sec and outcome in sec[g]["rows"]]
    if len(members) < len(vocab.groups_in(pooled)):
        return True  # nothing to check against
    col = 0 if arm == 0 else 1
    v = np.array([sec[g]["rows"][outcome]["values"][col] for g in members], dtype=float)
    if np.isnan(v).any():
        return True
    n = np.array([arm_bases(t, g, outcome)[arm] for g in members], dtype=float)
    mask = np.ones(len(v), bool)
    if vocab.OUTCOMES[outcome].binary:  # the whole-count search the generator runs
        _, status = _resolve_counts(v, n, [(pooled, mask, printed, True)])
        return status.get(pooled) != "infeasible"
    lo, hi = _pooled_range(v, n, mask, False)
    return lo - 0.005 <= printed <= hi + 0.005


def _pooled_range(v, n, mask, binary):
    lo_v, hi_v = v - 0.005, v + 0.005
    if binary:
        lo_v = np.ceil(lo_v * n - 1e-9) / n
        hi_v = np.floor(hi_v * n + 1e-9) / n
    wts = np.where(mask, n, 0.0) / np.where(mask, n, 0.0).sum()
    return float(wts @ lo_v), float(wts @ hi_v)


#: counts tried per group for a 0/1 pooled mean (the printed rounding holds ~1 % of the base:
#: ~11 counts at the trial's size, ~1,800 under ``--scale 100``, whose full grid would not fit)
MAX_COUNT_OPTIONS = 41


def _resolve_counts(v, n, cells):
    """0/1 outcomes: each arm's count of ones is an integer within its printed rounding;
    search every combination for the one closest to the printed group means that puts
    every required pooled mean (and as many optional ones as possible) inside its rounding."""
    ni = n.astype(int)
    options = []
    for vi, nn in zip(v, ni):
        k = np.arange(int(np.ceil((vi - 0.005) * nn - 1e-9)), int(np.floor((vi + 0.005) * nn + 1e-9)) + 1)
        k = k[np.abs(k / nn - vi) <= 0.005 + 1e-12]
        if len(k) > MAX_COUNT_OPTIONS:  # under --scale: evenly spaced counts, both edges kept
            k = np.unique(np.round(np.linspace(k[0], k[-1], MAX_COUNT_OPTIONS)).astype(int))
        options.append(k if len(k) else np.array([int(round(vi * nn))]))
    grid = np.array(list(itertools.product(*options)), dtype=float)  # at most MAX_COUNT_OPTIONS^3 rows
    means = grid / n
    ok_req = np.ones(len(grid), bool)
    n_opt = np.zeros(len(grid))
    status = {}
    for pg, mask, target, required in cells:
        pooled = (grid[:, mask].sum(axis=1)) / n[mask].sum()
        hit = np.abs(pooled - target) <= 0.005 - 1e-9
        if not hit.any():
            status[pg] = "infeasible"
        if required:
            ok_req &= hit | ~hit.any()
        else:
            n_opt += hit
    dev = np.abs(means - v).sum(axis=1)
    cand = np.flatnonzero(ok_req)
    if not len(cand):
        return None, status
    best = cand[np.lexsort((dev[cand], -n_opt[cand]))[0]]
    return means[best], status


def _resolve_lp(v, n, cells):
    """Continuous outcomes: group means within ``MARGIN`` of their rounding, closest to the
    printed ones (least absolute deviation), with every pooled mean inside its rounding."""
    k = len(v)
    tol = 0.005 * MARGIN
    status = {}
    for pg, mask, target, required in cells:
        lo, hi = _pooled_range(v, n, mask, False)
        if not lo - 0.005 <= target <= hi + 0.005:
            status[pg] = "infeasible"
    for use in (cells, [c for c in cells if c[3]]):
        use = [c for c in use if status.get(c[0]) != "infeasible"]
        if not use:
            return None, status
        A_ub, b_ub = [], []
        for pg, mask, target, required in use:
            wts = np.where(mask, n, 0.0) / np.where(mask, n, 0.0).sum()
            A_ub += [np.r_[wts, np.zeros(k)], np.r_[-wts, np.zeros(k)]]
            b_ub += [target + tol, -(target - tol)]
        for i in range(k):  # d_i >= |m_i - v_i|
            e = np.zeros(k)
            e[i] = 1
            A_ub += [np.r_[e, -e], np.r_[-e, -e]]
            b_ub += [v[i], -v[i]]
        bounds = [(vi - tol, vi + tol) for vi in v] + [(0, None)] * k
        res = linprog(np.r_[np.zeros(k), np.ones(k)], A_ub=np.array(A_ub), b_ub=np.array(b_ub), bounds=bounds, method="highs")
        if res.status == 0:
            return res.x[:k], status
    return None, status


# =========================================================================================
# 2. pooled estimates
# =========================================================================================
class _Est:
    """One of the kit's impact regressions as a linear map of the outcome: ``beta = A G' y``
    (weighted OLS: ``G = W X``, ``A = (X'WX)^-1``; 2SLS: ``G = W^1/2 Xhat``), the coefficient
    of interest ``b = c . y``, residuals ``e = y - X beta``, HC1 variance
    ``n/(n-k) sum c^2 e^2`` — as :func:`hlt_replicate.regression.wls` / ``iv2sls``."""

    def __init__(self, X, A, j, w, T, loc, Gm=None):
        """``Gm``: ``G`` for 2SLS; ``None`` for weighted OLS (``G = W X``, never stored)."""
        self.X, self.A, self.j, self.w, self.T, self.loc, self.Gm = X, A, j, w, T, loc, Gm
        self.c = self.G(A[j])
        self.c2 = self.c**2
        n, k = X.shape
        self.hc1 = n / (n - k)
        self.arm = [np.flatnonzero(T == 0), np.flatnonzero(T == 1)]

    def G(self, z, rows=None):
        """``G z`` (on ``rows``)."""
        if self.Gm is not None:
            return (self.Gm if rows is None else self.Gm[rows]) @ z
        X, w = (self.X, self.w) if rows is None else (self.X[rows], self.w[rows])
        out = X @ z
        return out * (w if out.ndim == 1 else w[:, None])

    def Gt(self, v, rows=None):
        """``G' v`` (``G`` on ``rows``)."""
        if self.Gm is not None:
            return (self.Gm if rows is None else self.Gm[rows]).T @ v
        X, w = (self.X, self.w) if rows is None else (self.X[rows], self.w[rows])
        return X.T @ (v * (w if v.ndim == 1 else w[:, None]))

    def resid(self, y):
        """Residuals ``y - X beta`` (read-only). The searches ask for the same outcome's
        residuals several times a round (about four calls per distinct ``y`` under
        ``--scale 100``), so the last few are kept, keyed by a digest of ``y``."""
        return self._kept("_resid", y, lambda y: y - self.X @ (self.A @ self.Gt(y)))

    def xce(self, y):
        """``X' C e`` (``C = diag c^2``, ``e`` the residuals; read-only, kept as
        :meth:`resid`): the HC1 sum's gradient with respect to ``beta``, times -1/2."""
        return self._kept("_xce", y, lambda y: self.X.T @ (self.c2 * self.resid(y)))

    def se_grad(self, y):
        """Gradient of the HC1 sum ``sum c^2 e^2`` with respect to ``y``, halved: ``M' C e``
        (``M = I - X A G'``, the residual maker)."""
        v = self.c2 * self.resid(y)
        return v - self.G(self.A.T @ self.xce(y))

    def _kept(self, name, y, f):
        """``f(y)``, read-only, from the cache ``name`` (the last :data:`RESID_CACHE` values of ``y``)."""
        y = np.ascontiguousarray(y, dtype=float)
        key = hashlib.blake2b(y.view(np.uint8), digest_size=16).digest()
        cache = self.__dict__.setdefault(name, {})
        if key not in cache:
            if len(cache) >= RESID_CACHE:
                cache.pop(next(iter(cache)))
            out = f(y)
            out.flags.writeable = False
            cache[key] = out
        return cache[key]

    def where(self, n: int) -> np.ndarray:
        """Position of each of the problem's ``n`` rows among this regression's (-1: not in it)."""
        if getattr(self, "_where", None) is None or len(self._where) != n:
            self._where = np.full(n, -1)
            self._where[self.loc] = np.arange(len(self.loc))
        return self._where

    def XCX(self):
        if not hasattr(self, "_xcx"):
            self._xcx = self.X.T @ (self.X * self.c2[:, None])
        return self._xcx

    def coef(self, y):
        return float(self.c @ y)

    def S(self, y):
        e = self.resid(y)
        return float(self.c2 @ e**2)

    def se(self, y):
        return float(np.sqrt(self.hc1 * self.S(y)))

    def mean(self, y, arm):
        return float(y[self.arm[arm]].mean())

    def sd(self, y):
        """Weighted s.d. among control cases (the effect-size denominator)."""
        i = self.arm[0]
        w = self.w[i]
        m = np.average(y[i], weights=w)
        return float(np.sqrt(np.average((y[i] - m) ** 2, weights=w)))


class _Designs:
    """The design matrices of :func:`hlt_replicate.impact.build_design` for every respondent,
    built once and cut to each regression's rows: the same column space (constant,
    treatment, the SAP controls with categorical ones as dummies of the levels present, the
    outcome's baseline value, trial-group dummies not spanned by the controls), so the same
    coefficient, residuals and HC1 S.E."""

    def __init__(self, resp: pd.DataFrame):
        self.resp = resp
        self.group = resp[vocab.GROUP].to_numpy()
        self.T = resp[vocab.TREAT].to_numpy(float)
        self.w = resp[vocab.WEIGHT].to_numpy(float)
        num, self.codes = [], []  # numeric controls; categorical ones as codes (any level order:
        for c in vocab.SAP_CONTROLS:  # the column space is the same)
            col = resp[c]
            if vocab.CATEGORICAL_BASELINE.get(c) is not None or not pd.api.types.is_numeric_dtype(col):
                codes, uniques = pd.factorize(col)
                k = len(uniques)
                if (codes < 0).any():  # missing: a level of its own (build_design's indicator method)
                    codes, k = np.where(codes < 0, k, codes), k + 1
                self.codes.append((codes, k))
            else:
                x = col.to_numpy(float)
                if np.isnan(x).any():
                    raise ValueError(f"control {c!r} has missing values: the pooled pass handles missing categorical controls only")
                num.append(x)
        self.num = np.column_stack(num) if num else np.empty((len(resp), 0))
        self.gcodes, uniques = pd.factorize(resp[vocab.GROUP])
        self.n_groups = len(uniques)
        self.base_cols: dict = {}

    def estimator(self, pos: np.ndarray, loc: np.ndarray, outcome: str, iv: bool = False) -> _Est:
        n = len(pos)
        cats = []
        for codes, k in self.codes + [(self.gcodes, self.n_groups)]:
            c = codes[pos]
            present = np.flatnonzero(np.bincount(c[c >= 0], minlength=k))
            col = np.full(k, -1)
            col[present[1:]] = np.arange(len(present) - 1)  # dummies of the levels present but the first
            cats.append((c, col, len(present) - 1))
        meta = vocab.OUTCOMES.get(outcome)
        base = meta.baseline if meta is not None and meta.baseline else None
        xb = None
        if base is not None:
            if base not in self.base_cols:
                self.base_cols[base] = self.resp[base].to_numpy(float)
            xb = self.base_cols[base][pos]
            miss = np.isnan(xb)
            if miss.any():  # build_design's missing-indicator method: observed mean, plus a dummy
                xb = np.column_stack([np.where(miss, xb[~miss].mean(), xb), miss])
            else:
                xb = xb[:, None]
        nb = 2 + self.num.shape[1]
        width = nb + sum(m for _, _, m in cats[:-1]) + (0 if xb is None else xb.shape[1])
        X = np.zeros((n, width + cats[-1][2]))
        X[:, 0] = 1.0
        X[:, 1] = self.T[pos]
        X[:, 2:nb] = self.num[pos]
        k0 = nb
        for i, (c, col, m) in enumerate(cats):
            if i == len(cats) - 1 and xb is not None:  # the outcome's baseline value, then the groups
                X[:, k0:k0 + xb.shape[1]] = xb
                k0 += xb.shape[1]
            j = col[c]
            r = np.flatnonzero(j >= 0)
            X[r, k0 + j[r]] = 1.0
            k0 += m
        if cats[-1][2]:
            # a group dummy already spanned by the controls (SCR/WMCA OOW: the areas nest the
            # site) is left out, as build_design does
            Xb, G = X[:, :width], X[:, width:]
            XtG = Xb.T @ G
            coef = np.linalg.solve(Xb.T @ Xb, XtG)
            r2 = (G * G).sum(axis=0) - (XtG * coef).sum(axis=0)
            X = X[:, np.r_[np.arange(width), width + np.flatnonzero(r2 > 1e-6 * n)]]
        w = self.w[pos]
        T = self.T[pos]
        if not iv:
            return _Est(X, np.linalg.inv(X.T @ (X * w[:, None])), 1, w, T, loc)
        sw = np.sqrt(w)
        part = self.resp[vocab.PARTICIPATED].to_numpy(float)[pos]
        Xr = np.column_stack([part, X[:, [0, *range(2, X.shape[1])]]])
        Zs, Xs = X * sw[:, None], Xr * sw[:, None]
        Xhat = Zs @ np.linalg.solve(Zs.T @ Zs, Zs.T @ Xs)
        A = np.linalg.inv(Xhat.T @ Xs)
        return _Est(Xr, A, 0, w, T, loc, Gm=Xhat * sw[:, None])


@dataclass
class _Stat:
    """A printed statistic of one regression: ``kind`` coef / se / mean0 / mean1 / sd / es
    (impact / s.d.) / t (impact / S.E.), acceptance interval [lo, hi]; ``required`` for
    calibration targets (the others are aimed at but never gate a change); ``move`` when it
    is to be brought into its interval."""

    est: str
    kind: str
    lo: float
    hi: float
    required: bool
    id: str = ""
    move: bool = False
    value: float = np.nan
    steer: bool = True  # False: a pooled cell the kit compares but does not calibrate
    #: a trial group's impact / S.E. band for its printed stars or its prose
    #: (data_synth.stars.t_band, prose_t_band): kept where it is met, dropped when keeping
    #: it costs a pooled cell (:func:`_aims_first`)
    aim: bool = False

    def ok(self, v: float | None = None) -> bool:
        v = self.value if v is None else v
        return bool(self.lo - 1e-12 <= v <= self.hi + 1e-12)


@dataclass
class _Problem:
    """One outcome: its respondents with the outcome observed in every trial group, the
    regressions that use them (trial groups and pooled groups) and their printed statistics."""

    outcome: str
    rows: np.ndarray  # positions among respondents
    y: np.ndarray
    group: np.ndarray
    T: np.ndarray
    ests: dict = field(default_factory=dict)
    stats: list = field(default_factory=list)

    def value(self, s: _Stat, y: np.ndarray) -> float:
        e = self.ests[s.est]
        yy = y[e.loc]
        if s.kind == "coef":
            return e.coef(yy)
        if s.kind == "se":
            return e.se(yy)
        if s.kind in ("mean0", "mean1"):
            return e.mean(yy, int(s.kind[-1]))
        if s.kind == "sd":
            return e.sd(yy)
        if s.kind == "es":
            sd = e.sd(yy)
            return e.coef(yy) / sd if sd > 0 else np.nan
        if s.kind == "t":
            se = e.se(yy)
            return e.coef(yy) / se if se > 0 else np.nan
        raise KeyError(s.kind)

    def evaluate(self, y: np.ndarray) -> None:
        for s in self.stats:
            s.value = self.value(s, y)

    def verdict(self, y: np.ndarray) -> tuple[bool, int]:
        """(no required statistic that prints as published now stops doing so, how many
        required statistics print as published with ``y``)."""
        keep, n_ok = True, 0
        for s in self.stats:
            v = self.value(s, y)
            if s.required:
                ok = s.ok(v)
                n_ok += ok
                if s.ok() and not ok:
                    keep = False
        return keep, n_ok


def _printed_cells(t: Targets) -> dict:
    """(section, group, variable, statistic) -> (value, tol, target, excluded) from the
    flattened printed targets: what the calibration report judges."""
    flat = t.flat()
    flat = flat[flat["section"].isin(("secondary_impacts", "primary_outcomes", "participation_impacts"))]
    out = {}
    for r in flat.itertuples(index=False):
        if isinstance(r.value, str):
            continue
        out[(r.section, r.group, r.variable, r.statistic)] = (float(r.value) / float(r.unit), float(r.tol) / float(r.unit),
                                                              bool(r.target), bool(r.excluded))
    return out


def _interval(cell):
    value, tol, target, excluded = cell
    return value - tol, value + tol, target and not excluded


def _build_problem(designs: _Designs, y_all: np.ndarray, outcome: str, t: Targets, cells: dict, groups: list[str],
                   cache: dict | None = None, only_pooled: bool = False) -> _Problem:
    """The regressions of one outcome (trial groups and pooled groups) with their printed
    statistics. ``cache`` keeps the estimators (they depend on the rows, not the values);
    ``only_pooled`` builds the pooled ones alone (to see whether anything needs moving)."""
    meta = vocab.OUTCOMES[outcome]
    cache = {} if cache is None else cache
    gcol = designs.group
    rows = np.flatnonzero(~np.isnan(y_all) & np.isin(gcol, groups))
    prob = _Problem(outcome, rows, y_all[rows].copy(), gcol[rows], designs.T[rows])
    part = t.raw.get("participation_impacts") or {}
    primary = meta.primary
    pooled = [pg for pg, m in vocab.POOLED_GROUPS.items() if all(g in groups for g in m)]
    for est_name in ([] if only_pooled else list(groups)) + pooled:
        prose = False
        if primary:
            iv = outcome in (part.get(est_name) or {}).get("rows", {})
            if est_name in vocab.POOLED_GROUPS and not iv:
                # no published pooled ITT on the primary outcomes: only the prose's claims, at
                # the trial's own size (a p-value belongs to its sample: data_synth.stars)
                prose = t.scale == 1 and outcome in prose_claims(t, est_name)
                if not prose:
                    continue
        else:
            iv = False
        stats = []
        if primary:
            sec = "primary_outcomes"
            for kind, stat in (("mean0", "control"), ("mean1", "treatment"), ("sd", "sd")):
                if (sec, est_name, outcome, stat) in cells:
                    stats.append((kind, cells[(sec, est_name, outcome, stat)], stat))
            if iv:
                for kind, stat in (("coef", "iv_impact"), ("se", "iv_se"), ("es", "iv_sd_s")):
                    key = ("participation_impacts", est_name, outcome, stat)
                    if key in cells:
                        stats.append((kind, cells[key], stat))
            elif ("primary_outcomes", est_name, outcome, "impact") in cells:
                stats.append(("coef", cells[("primary_outcomes", est_name, outcome, "impact")], "impact"))
        else:
            sec = "secondary_impacts"
            for kind, stat in (("mean0", "control"), ("mean1", "treatment"), ("coef", "impact"), ("se", "se"), ("es", "sd_s")):
                key = (sec, est_name, outcome, stat)
                if key in cells and not (kind == "es" and meta.binary):
                    stats.append((kind, cells[key], stat))
            sd = (t.raw.get("outcome_sd") or {}).get(est_name, {}).get(outcome)
            if sd is not None:  # assumed s.d. (not a printed cell): kept where it is, never required
                stats.append(("sd", (float(sd), 0.005, False, False), "sd"))
        stats = [st for st in stats if not st[1][3]]  # published inconsistencies: no aim
        if not stats and not prose:
            continue
        loc = np.flatnonzero(np.isin(prob.group, vocab.groups_in(est_name)))
        if not len(loc):
            continue
        key = (outcome, est_name, iv)
        if key not in cache:
            cache[key] = designs.estimator(rows[loc], loc, outcome, iv=iv)
        prob.ests[est_name] = cache[key]
        if prose:  # the prose's significance and effect size, for the S.E. and s.d. its groups leave
            e = cache[key]
            band = prose_coef_band(t, est_name, outcome, e.se(prob.y[e.loc]), e.sd(prob.y[e.loc]))
            if band is not None:
                prob.stats.append(_Stat(est_name, "coef", band[0], band[1], False, id=f"{est_name}.{outcome}.prose", steer=True))
        for kind, cell, stat in stats:
            lo, hi, req = _interval(cell)
            if primary and iv and kind == "coef" and est_name in vocab.POOLED_GROUPS and not req:
                # a pooled participation impact (aimed at, never a target): also where its
                # printed stars need it, given the S.E. its groups leave (data_synth.stars)
                e = cache[key]
                band = coef_band(t, est_name, outcome, e.se(prob.y[e.loc]))
                if band is not None:
                    lo, hi = max(lo, band[0]), min(hi, band[1])
            # pooled secondary cells the calibration report does not target are left alone (the
            # pooled participation impacts, never targets, are still aimed at)
            steer = req or primary or est_name not in vocab.POOLED_GROUPS
            prob.stats.append(_Stat(est_name, kind, lo, hi, req, id=f"{est_name}.{outcome}.{stat}", steer=steer))
        if est_name not in vocab.POOLED_GROUPS and any(k == "se" for k, _c, _s in stats):
            # the impact / S.E. band the group's printed stars need (the groups' calibration
            # aimed its S.E. there: data_synth.outcomes); None at --scale
            e = cache[key]
            coef, se = e.coef(prob.y[e.loc]), e.se(prob.y[e.loc])
            band = t_band(t, est_name, outcome, coef)
            if band is not None and se > 0:
                lo, hi = band
                if np.isinf(lo) or np.isinf(hi):
                    # an open band (***): its edge is only Sidak's reading of the permutation
                    # p-value, so it is kept halfway from there to where the group's
                    # calibration put it, and closed as far on the other side
                    now = coef / se
                    gap = max(now - lo, 0.0) if np.isinf(hi) else max(hi - now, 0.0)
                    lo, hi = (lo + gap / 2, now + gap / 2) if np.isinf(hi) else (now - gap / 2, hi - gap / 2)
                prob.stats.append(_Stat(est_name, "t", lo, hi, False, id=f"{est_name}.{outcome}.stars", aim=True))
        if est_name not in vocab.POOLED_GROUPS and primary and not iv:
            # what the group's prose says of its ITT impact (WMCA OOW: no effect), on the side
            # of zero it is on; None at --scale
            band = prose_t_band(t, est_name, outcome)
            if band is not None:
                e = cache[key]
                se = e.se(prob.y[e.loc])
                now = e.coef(prob.y[e.loc]) / se if se > 0 else 0.0
                lo, hi = (max(band[0], 0.0), band[1]) if now >= 0 else (band[0], min(band[1], 0.0))
                if lo < hi:
                    prob.stats.append(_Stat(est_name, "t", lo, hi, False, id=f"{est_name}.{outcome}.prose", aim=True))
    prob.evaluate(prob.y)
    return prob


# -----------------------------------------------------------------------------------------
# continuous outcomes: exact quadratic programme in a space of moves
# -----------------------------------------------------------------------------------------
@dataclass
class _Link:
    """A problem whose outcome moves with the base problem's: ``rowmap[i]`` is the row of this
    problem that moves with the base's row ``i`` (-1: none; ``None``: the base itself)."""

    prob: _Problem
    rowmap: np.ndarray | None = None


def _directions(prob: _Problem, movable: np.ndarray) -> tuple[list, int]:
    """Moves per trial group (columns, on that group's movable rows). Group-specific slopes
    (combinations of the group's own controls: the group's impact and residuals do not see
    them, the pooled regression's common slope does): the one that moves each pooled impact
    furthest per unit of change (the pooled impact weights projected on the group's
    controls), the present difference between the group's and each pooled regression's
    slopes, the part the controls explain and the numeric controls; and the group's
    residuals (its S.E.), arm indicators and impact weights (its means and impact) and the
    pooled impact weights themselves. Columns are normalised and made independent."""
    from scipy.linalg import qr

    blocks, k0 = [], 0
    for g in vocab.GROUPS:
        e = prob.ests.get(g)
        if e is None:
            continue
        sel = movable[e.loc]
        if sel.sum() > MAX_ROWS:  # --scale: every k-th movable row carries the moves (cost ~ rows x moves^2)
            keep = np.flatnonzero(sel)
            sel = np.zeros(len(sel), bool)
            sel[keep[:: -(-len(keep) // MAX_ROWS)]] = True
        loc = e.loc[sel]
        if len(loc) < 20:
            continue
        yy = prob.y[e.loc]
        beta = e.A @ e.Gt(yy)
        Xc = e.X[:, [i for i in range(e.X.shape[1]) if i != e.j]]  # constant and controls
        fit_c = e.X @ beta - e.X[:, e.j] * beta[e.j]  # the controls' part of the group's fit
        XtX = Xc.T @ Xc
        cols = [fit_c, e.resid(yy), e.c, (e.T == 0).astype(float), (e.T == 1).astype(float)]
        for pg, members in vocab.POOLED_GROUPS.items():
            if g in members and pg in prob.ests:
                ep = prob.ests[pg]
                where = np.searchsorted(ep.loc, e.loc)
                cp = ep.c[where]
                cols.append(cp)
                cols.append(Xc @ np.linalg.solve(XtX, Xc.T @ cp))  # pooled impact weights on the controls
                bp = ep.A @ ep.Gt(prob.y[ep.loc])
                fit_p = (ep.X @ bp - ep.X[:, ep.j] * bp[ep.j])[where]
                cols.append(fit_p - fit_c)  # the common slope's misfit in this group
        num = [i for i in range(2, e.X.shape[1]) if np.ptp(e.X[:, i]) > 0 and not np.isin(e.X[:, i], (0.0, 1.0)).all()]
        D = np.column_stack(cols + [e.X[:, num]])[sel]
        scale = np.sqrt((D**2).mean(axis=0))
        keep = scale > 1e-12
        D = D[:, keep] / scale[keep]
        _, r, piv = qr(D, mode="economic", pivoting=True)
        rank = int((np.abs(np.diag(r)) > 1e-8 * abs(r[0, 0])).sum())
        D = np.ascontiguousarray(D[:, np.sort(piv[:rank])])
        blocks.append((g, loc, D, k0))
        k0 += D.shape[1]
    return blocks, k0


class _Quad:
    """Every statistic of the linked problems as an exact function of the move coefficients
    ``a``: linear ones ``v0 + g.a``, quadratic ones ``v0 + 2 g.a + a'Ha`` (S.E.s through the
    HC1 sum, s.d.s through the weighted variance)."""

    def __init__(self, links: list[_Link], blocks, K: int):
        self.blocks, self.K = blocks, K
        self.G = np.zeros((K, K))
        for _, _, D, k0 in blocks:
            self.G[k0:k0 + D.shape[1], k0:k0 + D.shape[1]] = D.T @ D
        self.forms, self.stats = [], []
        for link in links:
            prob = link.prob
            parts = {}
            for s in prob.stats:
                self.stats.append(s)
                e = prob.ests[s.est]
                if s.est not in parts:
                    parts[s.est] = self._parts(e, link.rowmap)
                self.forms.append(self._form(s, e, prob.y[e.loc], parts[s.est]))

    def _parts(self, e: _Est, rowmap):
        """(rows of the regression, move columns, column offset) for every block it sees."""
        out = []
        for _, loc, D, k0 in self.blocks:
            m = loc if rowmap is None else rowmap[loc]
            sel = m >= 0
            li = np.searchsorted(e.loc, m)
            li = np.minimum(li, len(e.loc) - 1)
            sel &= e.loc[li] == m
            if sel.all():
                out.append((li, D, k0))
            elif sel.any():
                out.append((li[sel], D[sel], k0))
        return out

    def _form(self, s: _Stat, e: _Est, yy: np.ndarray, parts):
        K = self.K
        g = np.zeros(K)
        if s.kind == "coef":
            for li, D, k0 in parts:
                g[k0:k0 + D.shape[1]] += e.c[li] @ D
            return ("lin", e.coef(yy), g, None, e)
        if s.kind in ("mean0", "mean1"):
            arm = int(s.kind[-1])
            for li, D, k0 in parts:
                m = e.T[li] == arm
                g[k0:k0 + D.shape[1]] += D[m].sum(axis=0) / len(e.arm[arm])
            return ("lin", e.mean(yy, arm), g, None, e)
        if s.kind == "se":
            # S(a) = sum c^2 (e + R a)^2 with R = M D = D - X P, P = A G'D; by blocks (a block's
            # rows are one trial group's), never forming R
            res = e.resid(yy)
            H = np.zeros((K, K))
            if parts:
                ce = e.c2 * res
                XCX = e.XCX()
                P = np.zeros((e.X.shape[1], K))
                XCD = np.zeros((e.X.shape[1], K))
                for li, D, k0 in parts:
                    sl = slice(k0, k0 + D.shape[1])
                    P[:, sl] = e.A @ e.Gt(D, li)
                    CD = D * e.c2[li, None]
                    XCD[:, sl] = e.X[li].T @ CD
                    g[sl] += D.T @ ce[li]
                    H[sl, sl] += D.T @ CD
                g -= P.T @ (e.X.T @ ce)
                cross = XCD.T @ P
                H += P.T @ XCX @ P - cross - cross.T
            return ("se", float(e.c2 @ res**2), g, H, e)
        if s.kind == "sd":
            i0 = e.arm[0]
            w = np.zeros(len(e.loc))
            w[i0] = e.w[i0] / e.w[i0].sum()
            mu = w @ yy
            H = np.zeros((K, K))
            if parts:
                r = w * (yy - mu)
                wD = np.zeros(K)
                for li, D, k0 in parts:
                    sl = slice(k0, k0 + D.shape[1])
                    wl = w[li]
                    g[sl] += D.T @ r[li]
                    H[sl, sl] += D.T @ (D * wl[:, None])
                    wD[sl] += wl @ D
                H -= np.outer(wD, wD)
            return ("var", float(w @ (yy - mu) ** 2), g, H, e)
        if s.kind in ("es", "t"):  # impact / s.d. or impact / S.E.: the forms above
            _, c0, gc, _, _ = self._form(_Stat(s.est, "coef", s.lo, s.hi, False), e, yy, parts)
            _, v0, gv, Hv, _ = self._form(_Stat(s.est, "sd" if s.kind == "es" else "se", s.lo, s.hi, False), e, yy, parts)
            return (s.kind, c0, (gc, v0, gv), Hv, e)
        raise KeyError(s.kind)

    def values(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Statistic values (S.E.s and s.d.s on their own scale) and their Jacobian at ``a``."""
        v = np.full(len(self.forms), np.nan)
        J = np.zeros((len(self.forms), self.K))
        for i, (kind, v0, g, H, e) in enumerate(self.forms):
            if kind == "lin":
                v[i] = v0 + g @ a
                J[i] = g
            elif kind in ("se", "var"):
                Ha = H @ a
                f = e.hc1 if kind == "se" else 1.0
                v[i] = np.sqrt(f * max(v0 + 2 * g @ a + a @ Ha, 1e-300))
                J[i] = f * (g + Ha) / v[i]
            elif kind in ("es", "t"):  # impact over the square root of a quadratic form
                gc, q0, gq = g
                f = e.hc1 if kind == "t" else 1.0
                Ha = H @ a
                den = np.sqrt(f * max(q0 + 2 * gq @ a + a @ Ha, 1e-300))
                coef = v0 + gc @ a
                v[i] = coef / den
                J[i] = gc / den - coef * f * (gq + Ha) / den**3
        return v, J


def _band(s: _Stat, v0: float) -> tuple[float, float] | None:
    """Where a statistic should end: a pooled statistic to move, inside its interval by
    ``MOVE_MARGIN``; one that prints as published, anywhere at least 8 % inside its interval
    (brought there when nearer an edge); a required one that does not, 30 % inside;
    ``None``: not steered."""
    width = s.hi - s.lo
    if s.move:
        return s.lo + MOVE_MARGIN * width, s.hi - MOVE_MARGIN * width
    if s.ok(v0):
        return s.lo + 0.08 * width, s.hi - 0.08 * width
    if s.required:
        return s.lo + 0.3 * width, s.hi - 0.3 * width
    return None


def _solve_moves(quad: _Quad, bands: list, iters: int = 60) -> np.ndarray | None:
    """Smallest move (in the data's squared norm) that brings every statistic into its band
    (``None``: free; a raw mean's band is its value: it does not move). Gauss-Newton on the
    exact forms with a growing active set (a statistic is constrained once it leaves its
    band: to the band's edge, then held where it is) and a backtracking step."""
    K = quad.K
    G = quad.G + 1e-10 * np.trace(quad.G) / max(K, 1) * np.eye(K)
    L = np.linalg.cholesky(G)
    lo = np.array([np.nan if b is None else b[0] for b in bands])
    hi = np.array([np.nan if b is None else b[1] for b in bands])
    use = ~np.isnan(lo)
    width = np.where(hi > lo, hi - lo, np.nan)
    scale = np.array([max(s.hi - s.lo, 1e-12) for s in quad.stats])

    def merit(v):
        out = np.where(v < lo, lo - v, np.where(v > hi, v - hi, 0.0))[use] / scale[use]
        return float((out**2).sum())

    a = _start(quad, lo, hi, G)
    active = np.array([b is not None and (s.move or b[0] == b[1]) for s, b in zip(quad.stats, bands)])
    v, J = quad.values(a)
    m = merit(v)
    for _ in range(iters):
        inside = ~use | ((v >= lo - 1e-12) & (v <= hi + 1e-12))
        if inside.all():
            return a
        active |= ~inside
        eps = np.nan_to_num(0.02 * width)
        target = np.where(lo == hi, lo, np.where(inside, v, np.where(v < lo, lo + eps, hi - eps)))
        rows = np.flatnonzero(active & use)
        Jm = J[rows]
        B = np.linalg.solve(L, Jm.T)  # minimise da' G da subject to Jm da = rhs (G = L L')
        lam = np.linalg.lstsq(B.T @ B, target[rows] - v[rows], rcond=None)[0]
        da = np.linalg.solve(L.T, B @ lam)
        if not np.all(np.isfinite(da)):
            return None
        for t in (1.0, 0.5, 0.25, 0.1, 0.03):
            v_new, J_new = quad.values(a + t * da)
            m_new = merit(v_new)
            if m_new < m or t == 0.03:
                break
        a, v, J, m = a + t * da, v_new, J_new, m_new
    return None


def _start(quad: _Quad, lo: np.ndarray, hi: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Starting point. An S.E. to raise through moves that leave every impact and raw mean
    where it is has no first-order lever (its sum of squares is flat there: the groups'
    own residuals are unchanged), only a second-order one: start along the move that
    raises those S.E.s most, relative to the groups' S.E.s and to its size (a generalised
    eigenvector in the null space of the impacts and means), scaled to reach them."""
    K = quad.K
    a = np.zeros(K)
    v, J = quad.values(a)
    up = [i for i, f in enumerate(quad.forms) if f[0] == "se" and quad.stats[i].move and v[i] < lo[i]]
    if not up:
        return a
    lin = [i for i, f in enumerate(quad.forms) if f[0] == "lin" and not np.isnan(lo[i])]
    if lin:
        _, sv, vt = np.linalg.svd(J[lin], full_matrices=True)
        N = vt[int((sv > 1e-10 * sv.max()).sum()):].T if sv.size else np.eye(K)
    else:
        N = np.eye(K)
    if not N.shape[1]:
        return a
    H = np.zeros((K, K))
    for i, f in enumerate(quad.forms):
        if f[0] == "se" and f[1] > 0:
            H += (1.0 if i in up else -1.0) * f[3] / f[1]
    A = N.T @ H @ N
    B = N.T @ G @ N
    from scipy.linalg import eigh

    w, V = eigh((A + A.T) / 2, (B + B.T) / 2)
    d = N @ V[:, -1]
    if w[-1] <= 0:
        return a
    # smallest t with every S.E. to raise at its band's lower edge
    t = 0.0
    for i in up:
        _, s0, g, Hi, e = quad.forms[i]
        target = lo[i] ** 2 / e.hc1
        qa, qb, qc = d @ Hi @ d, 2 * g @ d, s0 - target
        if qa <= 0:
            continue
        disc = qb * qb - 4 * qa * qc
        if disc > 0:
            t = max(t, (-qb + np.sqrt(disc)) / (2 * qa), (qb + np.sqrt(disc)) / (2 * qa))
    return t * d if t > 0 else a


def _continuous(links: list[_Link], lo: np.ndarray, hi: np.ndarray, movable: np.ndarray, at_bounds: bool = False,
                steer_es: bool = False) -> list[np.ndarray] | None:
    """Solve the linked continuous problems. Rows a move would push past a bound are clipped
    there and frozen, and the rest of the way is solved again from the clipped data.

    Effect sizes are judged on the exact data (:func:`_accept`), not steered; with
    ``steer_es`` the trial groups' are steered too (impact over s.d., exact in the moves:
    :class:`_Quad`). Steering them always costs more than it saves (seeds 0-11: 42 cells
    of Tables 4-12/4-15 lost to the tighter bands, 7 star and prose cells gained), so it is the fallback
    when a move without it is refused."""
    base = links[0].prob
    bands = []
    for link in links:
        for st in link.prob.stats:
            if st.kind == "es" and not (steer_es and st.est not in vocab.POOLED_GROUPS):
                bands.append(None)  # judged on the exact data
            elif st.kind.startswith("mean") and st.est in vocab.POOLED_GROUPS:
                bands.append(None)  # follows its groups' means
            elif st.kind.startswith("mean"):
                bands.append((st.value, st.value))
            else:
                bands.append(_band(st, st.value))
    saved = [link.prob.y for link in links]
    ys = [y.copy() for y in saved]
    # rows at a bound are frozen, or (``at_bounds``) move inwards only: clipped and frozen when not
    movable = movable & ((base.y >= lo) & (base.y <= hi) if at_bounds else (base.y > lo + 1e-9) & (base.y < hi - 1e-9))
    try:
        for _ in range(10):
            for link, y in zip(links, ys):
                link.prob.y = y
            blocks, K = _directions(base, movable)
            if not K:
                return None
            a = _solve_moves(_Quad(links, blocks, K), bands)
            if a is None:
                return None
            out = [y.copy() for y in ys]
            for _, loc, D, k0 in blocks:
                step = D @ a[k0:k0 + D.shape[1]]
                for link, y in zip(links, out):
                    if link.rowmap is None:
                        y[loc] += step
                    else:
                        m = link.rowmap[loc]
                        y[m[m >= 0]] += step[m >= 0]
            bad = (out[0] < lo) | (out[0] > hi)
            if not bad.any():
                return out
            out[0] = np.clip(out[0], lo, hi)
            for link, y in zip(links[1:], out[1:]):  # linked rows follow the clipped ones
                m = link.rowmap[bad]
                y[m[m >= 0]] = out[0][bad][m >= 0]
            movable &= ~bad
            ys = out
        return None
    finally:
        for link, y in zip(links, saved):
            link.prob.y = y


def _staged(links: list[_Link], lo: np.ndarray, hi: np.ndarray, movable: np.ndarray, at_bounds: bool = False,
            steer_es: bool = False) -> list[np.ndarray] | None:
    """Everything at once; failing that, impacts first (linear), then every statistic from
    there (an S.E. that must rise has no first-order lever at the start, and solving both at
    once can wander). Returns the furthest stage reached (``None``: not even the impacts)."""
    ys = _continuous(links, lo, hi, movable, at_bounds, steer_es)
    if ys is not None:
        return ys
    stats = [s for link in links for s in link.prob.stats]
    marks = [s.move for s in stats]
    if all(s.kind == "coef" for s, m in zip(stats, marks) if m):
        return None
    best = None
    try:
        for stage in ("coef", "all"):
            for s, m in zip(stats, marks):
                s.move = m and (stage == "all" or s.kind == "coef")
            if not any(s.move for s in stats):
                continue
            if stage == "all" and best is not None and all(s.kind == "coef" for s, m in zip(stats, marks) if m):
                break  # nothing beyond the impacts
            base = [link.prob.y for link in links]
            if best is not None:
                for link, y in zip(links, best):
                    link.prob.y = y
            try:
                ys = _continuous(links, lo, hi, movable, at_bounds, steer_es)
            finally:
                for link, y in zip(links, base):
                    link.prob.y = y
            if ys is None:
                break
            best = ys
    finally:
        for s, m in zip(stats, marks):
            s.move = m
    return best


# -----------------------------------------------------------------------------------------
# discrete outcomes: pairs of moves within a group and arm
# -----------------------------------------------------------------------------------------
def _discrete(prob: _Problem, down: np.ndarray, up: np.ndarray, can_down: np.ndarray, can_up: np.ndarray,
              rounds: int = 30, flip_cost: float = FLIP_COST, scale: int = 1) -> np.ndarray:
    """0/1 outcomes (and on/off ones such as weeks at 16+ hours): a case goes down by
    ``down[i]`` and another of the same group and arm up by ``up[j]`` (a 0/1 swap keeps the
    arm's raw mean). The score is the squared distance of every steered statistic outside
    its band (:func:`_band`). Each round: every case's first-order effect on every
    statistic; candidate pairs (:func:`_candidates`: cases matched on the group regression's
    weight, which leave the impacts alone, and the most useful cases unmatched, which move
    S.E.s through which cases carry the ones: the regression's fit and weights), ranked by
    their own effect on the score and reordered so that each group's impact does not drift
    (:func:`_balance`); the best run of them, every prefix scored exactly (:func:`_path`);
    one pair at a time when the run is short. Each case moves at most once; rounds stop
    when everything prints as published or progress stalls: four rounds that leave more
    than 90 % of the score (:data:`STALL_SCALED` under ``--scale``, where a pair moves each
    statistic 1/``scale`` as much)."""
    stall = 0.9 if scale == 1 else STALL_SCALED
    y = prob.y.copy()
    can_down, can_up = can_down.copy(), can_up.copy()
    if len(y) > 3 * MAX_ROWS:  # --scale: every k-th case is a candidate
        thin = np.zeros(len(y), bool)
        thin[:: -(-len(y) // (3 * MAX_ROWS))] = True
        can_down &= thin
        can_up &= thin
    gcode = pd.factorize(prob.group)[0]
    cells = [(gcode == g) & (prob.T == a) for g in range(gcode.max() + 1) for a in (0, 1)]
    keyc = np.zeros(len(y))  # the group regression's weight of each case
    for g in vocab.GROUPS:
        if g in prob.ests:
            keyc[prob.ests[g].loc] = prob.ests[g].c
    # a 0/1 swap within an arm leaves the arm's raw mean exactly where it is
    swaps = bool(np.all(down[can_down] == 1) and np.all(up[can_up] == 1))
    skip = ("es", "sd", "mean0", "mean1") if swaps else ("es", "sd")
    steer = [(s, _band(s, s.value)) for s in prob.stats if s.kind not in skip]
    steer = [(s, b) for s, b in steer if b is not None]
    if not steer:
        return y
    m = len(steer)
    history: list = []
    # the row of each trial group's own impact among the steered statistics
    names = pd.factorize(prob.group)[1]
    coef_rows = {gi: k for gi, g in enumerate(names) for k, (s, _b) in enumerate(steer) if s.est == g and s.kind == "coef"}
    for _ in range(rounds):
        v, lo, hi, scale, keep = (np.zeros(m) for _ in range(5))
        for k, (s, band) in enumerate(steer):
            e = prob.ests[s.est]
            v[k], (lo[k], hi[k]) = prob.value(s, y), band
            scale[k] = (s.hi - s.lo) / 2
            if s.kind == "se":  # on the scale of the HC1 sum (first-order effects are exact there)
                v[k], lo[k], hi[k] = v[k] ** 2 / e.hc1, lo[k] ** 2 / e.hc1, hi[k] ** 2 / e.hc1
                scale[k] *= (s.lo + s.hi) / e.hc1
            keep[k] = not s.move
        v, lo, hi = v / scale, lo / scale, hi / scale
        if np.all(v >= lo - 1e-12) & np.all(v <= hi + 1e-12):
            break
        mid = (lo + hi) / 2

        def pen(x):  # squared distance outside the bands, plus a faint pull of kept ones to the middle
            x2 = x if x.ndim == 2 else x[:, None]
            out = x2 - np.clip(x2, lo[:, None], hi[:, None])
            c = (x2 - mid[:, None]) * keep[:, None]
            r = (out**2).sum(axis=0) + 0.01 * (c**2).sum(axis=0)
            return r if x.ndim == 2 else r[0]

        # each statistic's first-order change when a case goes down (Ed) or up (Eu): columns
        # for the cases that can still move that way only (at_d, at_u: a case's column)
        cd, cu = np.flatnonzero(can_down), np.flatnonzero(can_up)
        at_d, at_u = np.full(len(y), -1), np.full(len(y), -1)
        at_d[cd], at_u[cu] = np.arange(len(cd)), np.arange(len(cu))
        Ed, Eu = np.zeros((m, len(cd))), np.zeros((m, len(cu)))
        for k, (s, _b) in enumerate(steer):
            e = prob.ests[s.est]
            loc = e.loc
            jd, ju = at_d[loc], at_u[loc]
            md, mu = jd >= 0, ju >= 0
            dn, uv = -down[loc[md]], up[loc[mu]]
            if s.kind == "coef":
                Ed[k, jd[md]], Eu[k, ju[mu]] = e.c[md] * dn, e.c[mu] * uv
            elif s.kind in ("mean0", "mean1"):
                a = (e.T == int(s.kind[-1])) / len(e.arm[int(s.kind[-1])])
                Ed[k, jd[md]], Eu[k, ju[mu]] = a[md] * dn, a[mu] * uv
            elif s.kind == "se":
                grad = e.se_grad(y[loc])
                Ed[k, jd[md]] = 2 * grad[md] * dn + e.c2[md] * dn**2
                Eu[k, ju[mu]] = 2 * grad[mu] * uv + e.c2[mu] * uv**2
            elif s.kind == "t":  # d(b / se) = db / se - b hc1 dS / (2 se^3), S the HC1 sum
                grad, b, se = e.se_grad(y[loc]), e.coef(y[loc]), e.se(y[loc])
                f = b * e.hc1 / (2 * se**3)
                Ed[k, jd[md]] = e.c[md] * dn / se - f * (2 * grad[md] * dn + e.c2[md] * dn**2)
                Eu[k, ju[mu]] = e.c[mu] * uv / se - f * (2 * grad[mu] * uv + e.c2[mu] * uv**2)
            Ed[k] /= scale[k]
            Eu[k] /= scale[k]
        zlin = 2 * (v - np.clip(v, lo, hi)) + 0.02 * (v - mid) * keep
        lin_d, lin_u = np.zeros(len(y)), np.zeros(len(y))
        lin_d[cd], lin_u[cu] = zlin @ Ed, zlin @ Eu
        d, u = _candidates(cells, can_down, can_up, keyc * down, keyc * up, lin_d, lin_u)
        if not len(d):
            break
        step = Ed[:, at_d[d]] + Eu[:, at_u[u]]
        base = pen(v)
        gain = pen(v[:, None] + step) - base
        good = np.flatnonzero(gain < -1e-12)
        dd = uu = None
        if len(good):
            idx = good[np.argsort(gain[good], kind="stable")]
            # each case in one pair: the first pair a case appears in (downs and ups are disjoint)
            _, fd = np.unique(d[idx], return_index=True)
            _, fu = np.unique(u[idx], return_index=True)
            first = np.zeros(len(idx), bool)
            first[np.intersect1d(fd, fu)] = True
            idx = _balance(idx[first], step, gcode[d[idx[first]]], coef_rows)[:20000]

            def run_score(sub):  # every prefix of a run of pairs, judged exactly (S.E.s included)
                return pen(_path(prob, steer, scale, y, d[sub], -down[d[sub]], u[sub], up[u[sub]])) \
                    + flip_cost * np.arange(1, len(sub) + 1)

            score, p = _best_prefix(run_score, idx)  # the best run of pairs in this order
            if p < 8:  # a short run: pick pairs one by one instead (impacts that cancel in turn)
                idx = _greedy(pen, v, step, d, u, idx, picks=40)
                if len(idx):
                    score, p = _best_prefix(run_score, idx)
            if len(idx) and score[p - 1] < base - 1e-12:
                dd, uu = d[idx[:p]], u[idx[:p]]
        if dd is None:
            best = _best_pair(pen, v, base, Ed, Eu, at_d, at_u, cells, can_down, can_up, keyc, lin_d, lin_u)
            if best is None:
                break
            dd, uu = np.array([best[0]]), np.array([best[1]])
        y[dd] -= down[dd]
        y[uu] += up[uu]
        can_down[dd] = can_up[dd] = can_down[uu] = can_up[uu] = False
        after = pen(_scaled(prob, steer, y, scale))
        if (after < 0.01 or after > 0.9 * base) and all(s.ok(prob.value(s, y)) for s, _b in steer if s.required or s.move):
            break  # every statistic prints as published: stop unless far from the bands' middle
        history.append(after)
        if after > base - 1e-12 or (len(history) > 4 and history[-1] > stall * history[-5]):
            break  # no progress (or too little to finish within the rounds)
    return y


def _best_prefix(run_score, run: np.ndarray, window: int = 2048) -> tuple[np.ndarray, int]:
    """(scores, length) of the best prefix of ``run``, ``run_score(sub)`` giving the scores
    of every prefix of ``sub``. The runs taken are a few hundred pairs at most (of up to
    20,000 ranked under ``--scale``), so the prefixes are scored in a window that grows
    fourfold while the best lies in its second half (a prefix's score does not depend on
    the pairs after it)."""
    k = min(len(run), window)
    while True:
        score = run_score(run[:k])
        p = int(np.argmin(score)) + 1
        if k == len(run) or p <= k // 2:
            return score, p
        k = min(len(run), 4 * k)


def _path(prob: _Problem, steer, scale: np.ndarray, y: np.ndarray, dn: np.ndarray, dd: np.ndarray,
          un: np.ndarray, du: np.ndarray) -> np.ndarray:
    """Every steered statistic (on the search's scale) after each prefix of a run of pairs,
    exactly: pair ``k`` moves case ``dn[k]`` by ``dd[k]`` and case ``un[k]`` by ``du[k]``.
    Impacts and means are linear; an S.E.'s sum ``sum c^2 (e + M D)^2`` with ``M = I - X A G'``
    expands into running sums over the run of k-vectors (``G' D``, ``X' C D``) and the
    cases' own terms, so the whole run costs ``O(pairs k^2)``, never a regression per prefix;
    a star aim's impact / S.E. is the two together."""
    P = len(dn)
    out = np.zeros((len(steer), P))
    for k, (s, _b) in enumerate(steer):
        e = prob.ests[s.est]
        where = e.where(len(y))
        i1, i2 = where[dn], where[un]
        d1, d2 = np.where(i1 >= 0, dd, 0.0), np.where(i2 >= 0, du, 0.0)
        i1, i2 = np.maximum(i1, 0), np.maximum(i2, 0)
        yy = y[e.loc]
        run = (i1, d1, i2, d2)
        if s.kind == "coef":
            out[k] = _coef_path(e, yy, *run)
        elif s.kind in ("mean0", "mean1"):
            arm = int(s.kind[-1])
            a1, a2 = (e.T[i1] == arm) * d1, (e.T[i2] == arm) * d2
            out[k] = e.mean(yy, arm) + np.cumsum(a1 + a2) / len(e.arm[arm])
        elif s.kind == "se":
            out[k] = _hc1_sum_path(e, yy, *run)  # the HC1 sum (se^2 / hc1), as _scaled
        elif s.kind == "t":
            out[k] = _coef_path(e, yy, *run) / np.sqrt(e.hc1 * np.maximum(_hc1_sum_path(e, yy, *run), 1e-300))
        out[k] /= scale[k]
    return out


def _coef_path(e: _Est, yy: np.ndarray, i1, d1, i2, d2) -> np.ndarray:
    """A regression's coefficient after each prefix of a run of pairs (:func:`_path`)."""
    return e.coef(yy) + np.cumsum(e.c[i1] * d1 + e.c[i2] * d2)


def _hc1_sum_path(e: _Est, yy: np.ndarray, i1, d1, i2, d2) -> np.ndarray:
    """A regression's HC1 sum (S.E.^2 / hc1) after each prefix of a run of pairs (:func:`_path`)."""
    res = e.resid(yy)
    c2 = e.c2
    lin = np.cumsum(2 * (c2[i1] * res[i1] * d1 + c2[i2] * res[i2] * d2) + c2[i1] * d1**2 + c2[i2] * d2**2)
    X = e.X
    Gr = (e.Gm[i1] if e.Gm is not None else X[i1] * e.w[i1, None]) * d1[:, None]
    Gr += (e.Gm[i2] if e.Gm is not None else X[i2] * e.w[i2, None]) * d2[:, None]
    Hr = X[i1] * (c2[i1] * d1)[:, None] + X[i2] * (c2[i2] * d2)[:, None]
    Gc, Hc = np.cumsum(Gr, axis=0), np.cumsum(Hr, axis=0)
    AG = Gc @ e.A.T  # beta change of each prefix
    q = e.xce(yy)
    return float(c2 @ res**2) + lin - 2 * AG @ q - 2 * (Hc * AG).sum(axis=1) + ((AG @ e.XCX()) * AG).sum(axis=1)


def _balance(idx: np.ndarray, step: np.ndarray, grp: np.ndarray, coef_rows: dict) -> np.ndarray:
    """Reorder a run of pairs (best first) so that each trial group's impact does not drift:
    within a group, the pairs that raise its impact and those that lower it advance at the
    same pace (by the running sum of the size of their effects), so the run can go on
    while its S.E. effects add up."""
    t = np.arange(len(idx), dtype=float) / max(len(idx), 1)
    for g, k in coef_rows.items():
        m = np.flatnonzero(grp == g)
        if not len(m):
            continue
        eff = step[k, idx[m]]
        for sign in (eff > 0, eff <= 0):
            mm = m[sign]
            if len(mm):
                size = np.abs(eff[sign]) + 1e-15
                t[mm] = np.cumsum(size) / size.sum() * (len(mm) / len(m))
    return idx[np.argsort(t, kind="stable")]


def _greedy(pen, v, step, d, u, idx, picks: int) -> np.ndarray:
    """Up to ``picks`` pairs among ``idx``, each the one that most lowers the score given
    those already taken (each case once)."""
    free = np.ones(len(idx), bool)
    chosen, vcur, cur = [], v.copy(), pen(v)
    for _ in range(picks):
        cand = idx[free]
        if not len(cand):
            break
        sc = pen(vcur[:, None] + step[:, cand])
        k = int(np.argmin(sc))
        if sc[k] >= cur - 1e-12:
            break
        k = cand[k]
        chosen.append(k)
        vcur, cur = vcur + step[:, k], sc.min()
        free &= (d[idx] != d[k]) & (u[idx] != u[k])
    return np.array(chosen, int)


def _scaled(prob: _Problem, steer, y: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Steered statistics of ``y`` on the discrete search's scale (S.E.s as HC1 sums)."""
    v = np.array([prob.value(s, y) for s, _ in steer])
    se = np.array([s.kind == "se" for s, _ in steer])
    hc1 = np.array([prob.ests[s.est].hc1 for s, _ in steer])
    return np.where(se, v**2 / hc1, v) / scale


def _candidates(cells, can_down, can_up, key_d, key_u, lin_d, lin_u, bin_size: int = 60, top: int = 200):
    """Candidate pairs within each cell (group x arm): matched on ``key`` in bins, most
    useful first within a bin; and the ``top`` most useful downs with the most useful ups."""
    d_all, u_all = [], []
    for cell in cells:
        d = np.flatnonzero(cell & can_down)
        u = np.flatnonzero(cell & can_up)
        if not len(d) or not len(u):
            continue
        key = np.r_[key_d[d], key_u[u]]
        nb = max(1, min(len(d), len(u)) // bin_size)
        edges = np.quantile(key, np.linspace(0, 1, nb + 1)[1:-1]) if nb > 1 else np.array([])
        bd, bu = np.searchsorted(edges, key[: len(d)]), np.searchsorted(edges, key[len(d):])
        od, ou = np.lexsort((lin_d[d], bd)), np.lexsort((lin_u[u], bu))
        ds, bd, us, bu = d[od], bd[od], u[ou], bu[ou]
        rd = np.arange(len(ds)) - np.searchsorted(bd, bd)  # rank within the bin
        ru = np.arange(len(us)) - np.searchsorted(bu, bu)
        big = len(d) + len(u) + 1
        _, i_d, i_u = np.intersect1d(bd * big + rd, bu * big + ru, return_indices=True)
        d_all += [ds[i_d]]
        u_all += [us[i_u]]
        k = min(len(d), len(u), max(top, min(len(d), len(u)) // 4))
        d_all += [d[np.argsort(lin_d[d], kind="stable")[:k]]]
        u_all += [u[np.argsort(lin_u[u], kind="stable")[:k]]]
    if not d_all:
        return np.array([], int), np.array([], int)
    return np.concatenate(d_all), np.concatenate(u_all)


def _best_pair(pen, v, base, Ed, Eu, at_d, at_u, cells, can_down, can_up, keyc, lin_d, lin_u, top: int = 30):
    """The single pair (same group and arm) that most lowers the score, among the cases
    most useful on their own and those with the largest and smallest weights (a case's
    effects: column ``at_d`` of ``Ed`` going down, ``at_u`` of ``Eu`` going up)."""
    best = None
    for cell in cells:
        d = np.flatnonzero(cell & can_down)
        u = np.flatnonzero(cell & can_up)
        if not len(d) or not len(u):
            continue
        d = np.unique(np.r_[d[np.argsort(lin_d[d])[:top]], d[np.argsort(keyc[d])[:top]], d[np.argsort(-keyc[d])[:top]]])
        u = np.unique(np.r_[u[np.argsort(lin_u[u])[:top]], u[np.argsort(keyc[u])[:top]], u[np.argsort(-keyc[u])[:top]]])
        tot = v[:, None, None] + Ed[:, at_d[d]][:, :, None] + Eu[:, at_u[u]][:, None, :]
        sc = pen(tot.reshape(len(v), -1)).reshape(len(d), len(u))
        i, j = np.unravel_index(int(np.argmin(sc)), sc.shape)
        if sc[i, j] < base - 1e-12 and (best is None or sc[i, j] < best[2]):
            best = (d[i], u[j], sc[i, j])
    return best


# -----------------------------------------------------------------------------------------
def _mark_moves(prob: _Problem) -> bool:
    """Mark the pooled impacts and S.E.s outside their interval (or within ``MOVE_MARGIN`` of
    an edge) to be moved; True when there is any."""
    any_move = False
    for s in prob.stats:
        if s.est in vocab.POOLED_GROUPS and s.kind in ("coef", "se") and s.steer:
            width = s.hi - s.lo
            s.move = not (s.lo + MOVE_MARGIN * width <= s.value <= s.hi - MOVE_MARGIN * width)
            any_move |= s.move
    return any_move


def _accept(links: list[_Link], ys: list[np.ndarray]) -> bool:
    """Keep a move when no required statistic that printed as published stops doing so and
    at least as many required statistics print as published."""
    ok, n_old, n_new = True, 0, 0
    for link, y in zip(links, ys):
        keep, n = link.prob.verdict(y)
        ok &= keep
        n_new += n
        n_old += sum(s.ok() for s in link.prob.stats if s.required)
    return ok and n_new >= n_old


def _aims_first(links: list[_Link], solve) -> list[np.ndarray] | None:
    """``solve()`` with the trial groups' star and prose aims (:attr:`_Stat.aim`) steered
    like the cells they sit in; when its move is refused (:func:`_accept`) or leaves a marked pooled
    statistic outside its interval, ``solve()`` again without them, and the move that keeps
    more calibration targets printing as published is taken (the aims' on a tie). Before
    the aims, the pooled pass took the S.E.s the groups' calibration had put in their star
    bands out of them on 8 of seeds 0-11's 72 (SCR IW's disability, SCR OOW's life
    satisfaction). ``None`` when neither move is accepted."""
    ys = solve()
    kept = ys is not None and _accept(links, ys)
    if not any(s.aim and s.ok() for link in links for s in link.prob.stats):
        return ys if kept else None  # no aim met to begin with: none was steered
    if kept and all(s.ok(link.prob.value(s, y)) for link, y in zip(links, ys) for s in link.prob.stats if s.move):
        return ys
    saved = [link.prob.stats for link in links]
    try:
        for link in links:
            link.prob.stats = [s for s in link.prob.stats if not s.aim]
        plain = solve()
        if plain is None or not _accept(links, plain):
            return ys if kept else None
        if not kept:
            return plain
        n = [sum(link.prob.verdict(y)[1] for link, y in zip(links, cand)) for cand in (ys, plain)]
        return plain if n[1] > n[0] else ys
    finally:
        for link, stats in zip(links, saved):
            link.prob.stats = stats


#: outcomes calibrated one after the other, each reading the other's calibrated values: a
#: case working 16+ hours is in paid work; weeks at 16+ hours fit inside weeks in work
COUPLED = (("paid_work", "work16"), ("weeks_work", "weeks_work16"))


def _chains() -> list[tuple[str, ...]]:
    """The pooled stage's independent pieces of work: the coupled outcomes together, every
    other outcome alone; weeks in work first (the longest, under ``--scale``)."""
    coupled = {o: c for c in COUPLED for o in c}
    chains = []
    for o in vocab.OUTCOMES:
        c = coupled.get(o, (o,))
        if c not in chains:
            chains.append(c)
    return sorted(chains, key=lambda c: "weeks_work" not in c)


def calibrate_pooled_estimates(df: pd.DataFrame, t: Targets, rng: np.random.Generator | None = None, jobs: int = 1,
                               **_) -> pd.DataFrame:
    """Exact mode: put each pooled impact and S.E. (Tables 4-12, 4-13, 4-15) inside its
    printed rounding without taking any trial group's raw means, impact, S.E. or s.d. out
    of theirs (see the module docstring). ``t`` are the targets the outcomes were drawn
    with (from :func:`resolve_pooled_means`); the printed ones judge. Deterministic: no
    random draws (``rng`` is accepted for the generator's stage interface). The outcomes
    (:data:`COUPLED` ones together) are independent and run in ``jobs`` worker processes
    (:mod:`data_synth.workers`) when more than one."""
    printed = getattr(t, "printed", t)
    cells = _printed_cells(printed)
    resp = df[df[vocab.RESPONDED].to_numpy() == 1]
    designs = _Designs(resp)
    out = {o: resp[o].to_numpy(float).copy() for o in vocab.OUTCOMES}
    tasks = [(designs, out, t, cells, chain) for chain in _chains()]
    for moved in workers.run(_calibrate_chain, tasks, jobs):
        out.update(moved)
    df = df.copy()
    for o in vocab.OUTCOMES:
        df.loc[resp.index, o] = out[o]
    return df


def _calibrate_chain(task) -> dict[str, np.ndarray]:
    """Calibrate the pooled cells of a chain's outcomes (:func:`_chains`), in order; returns
    their values on the respondents' rows."""
    designs, out, t, cells, chain = task
    out = {**out, **{o: out[o].copy() for o in chain}}  # the chain's own arrays: the caller's stay as they were
    groups = list(t.groups)
    cache: dict = {}

    def problem(o, only_pooled=False):
        return _build_problem(designs, out[o], o, t, cells, groups, cache, only_pooled)

    for outcome in chain:
        cache.clear()  # an outcome's regressions only (bounded memory at --scale)
        if outcome == "weeks_work16":
            continue  # with weeks in work
        if outcome == "weeks_work":
            if _mark_moves(problem(outcome, True)) or _mark_moves(problem("weeks_work16", True)):
                _weeks(problem(outcome), problem("weeks_work16"), out, t.scale)
            continue
        if not _mark_moves(problem(outcome, True)):
            continue
        prob = problem(outcome)
        _mark_moves(prob)
        if vocab.OUTCOMES[outcome].binary:
            can_down, can_up = prob.y == 1, prob.y == 0
            if outcome == "work16":  # working 16+ hours implies in paid work
                can_up &= out["paid_work"][prob.rows] == 1
            if outcome == "paid_work":
                can_down &= np.nan_to_num(out["work16"][prob.rows], nan=0.0) == 0
            ones = np.ones(len(prob.y))
            ys = _aims_first([_Link(prob)], lambda: [_discrete(prob, ones, ones, can_down, can_up,
                                                              flip_cost=FLIP_COST / t.scale, scale=t.scale)])
        else:
            lo, hi = (np.full(len(prob.y), float(b)) for b in vocab.OUTCOMES[outcome].bounds)
            ys = _aims_first([_Link(prob)], lambda: _solve_continuous(prob, lo, hi))
        if ys is not None:
            out[outcome][prob.rows] = ys[0]
    return {o: out[o] for o in chain}


def _solve_continuous(prob: _Problem, lo: np.ndarray, hi: np.ndarray) -> list[np.ndarray] | None:
    """The moves of a continuous outcome's marked pooled statistics (:func:`_staged`), with
    the trial groups' effect sizes steered only when the move without is refused. Seeds 2
    and 11: EQ5D5L's move for Table 4-13's impact (and the OOW groups' prose) took SCR IW's
    effect size (Table 4-9) out of its rounding; steered, Table 4-13's stars print.
    ``None`` when both are refused."""
    for steer_es in (False, True):
        ys = _staged([_Link(prob)], lo, hi, np.ones(len(prob.y), bool), steer_es=steer_es)
        if ys is not None and _accept([_Link(prob)], ys):
            return ys
    return None


def _weeks(prob: _Problem, prob16: _Problem, out: dict, scale: int = 1) -> None:
    """Weeks in work, then weeks at 16+ hours. Weeks in work move where they are positive
    (zeros stay zeros, and a worker keeps at least a week), never below the case's weeks at
    16+ hours nor above 16. Weeks at 16+ hours then move by switching a case on (all its
    weeks in work) and another off. Under ``--scale`` a switch moves each statistic 1/scale
    as much, and the cost of a pair is divided by sqrt(scale), with up to 60 rounds: at
    the full cost the search stalls far from the pooled impacts; divided by the scale, as
    for 0/1 outcomes, its long runs take group cells out of their rounding and are refused
    (found by trying, seed 0, ``--scale 100``)."""
    if _mark_moves(prob):
        lo = np.maximum(np.nan_to_num(out["weeks_work16"][prob.rows], nan=0.0), np.minimum(prob.y, 1.0))
        hi = np.full(len(prob.y), 16.0)
        ys = _aims_first([_Link(prob)], lambda: _staged([_Link(prob)], lo, hi, prob.y > 0, at_bounds=True))
        if ys is not None:
            out["weeks_work"][prob.rows] = ys[0]
    if not _mark_moves(prob16):
        return
    y = prob16.y
    cap = np.nan_to_num(out["weeks_work"][prob16.rows], nan=0.0)
    on = y > 0
    can_up = ~on & (cap > 0)
    ys = _aims_first([_Link(prob16)], lambda: [_discrete(prob16, np.where(on, y, 0.0), np.where(can_up, cap, 0.0), on, can_up,
                                                          flip_cost=FLIP_COST / np.sqrt(scale), rounds=30 if scale == 1 else 60,
                                                          scale=scale)])
    if ys is not None:
        out["weeks_work16"][prob16.rows] = ys[0]
