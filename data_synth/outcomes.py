"""Stage 4: 4-month outcomes for respondents, and the 12-month administrative outcome.

Data-generating process (ground truth, saved in truth.json): each respondent has a control
potential outcome driven by the baseline value of the same measure (where there is one),
the latent health and labour-market factors and noise, and a treatment potential outcome
equal to it plus the group's true effect ``tau`` (homogeneous within a group; binary
outcomes shift a latent index so the share moves by ``tau``). The observed outcome is the
potential outcome of the assigned arm. Item non-response is drawn so the regression bases
of Tables 4-8..4-15 hold.

In ``exact`` mode :mod:`data_synth.calibrate` then moves each observed outcome the least
needed for the printed raw means, impact, S.E. and s.d. to be reproduced by the kit's own
estimators (:mod:`hlt_replicate.impact`). The adjustment is read as a shift in *both*
potential outcomes of the person, so ``tau`` stays the truth and the gap between ``tau`` and
the estimate is what chance produced in this draw — as in a real trial.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from hlt_replicate import vocab
from hlt_replicate.impact import build_design

from . import calibrate as cal
from .pooled import arm_bases, group_se_band
from .population import per_level
from .stars import se_band
from .targets import Targets

#: baseline-outcome loading and latent loadings of each outcome's index (ground truth)
OUTCOME_MODEL = {
    "paid_work": {"v": 1.0, "u": 0.2},
    "work16": {"v": 0.8, "u": 0.2},
    "work16_cont": {"v": 0.9, "u": 0.2},
    "eq5d": {"bl": 0.6, "u": 0.3},
    "swemwbs": {"bl": 0.5, "u": 0.3},
    "jsse": {"bl": 0.5, "v": 0.2},
    "msk": {"u": -0.5, "msk": 0.8},
    "dda": {"u": -0.6},
    "lifesat": {"bl": 0.5, "u": 0.2},
    "gse": {"u": 0.3, "v": 0.4},
}


def _index(df: pd.DataFrame, outcome: str, rng) -> np.ndarray:
    spec = OUTCOME_MODEL.get(outcome, {})
    n = len(df)
    z = np.zeros(n)
    if "bl" in spec:
        bl = df[vocab.OUTCOMES[outcome].baseline].to_numpy(float)
        z += spec["bl"] * (bl - bl.mean()) / (bl.std() or 1)
    if "u" in spec:
        z += spec["u"] * df["_u"].to_numpy()
    if "v" in spec:
        z += spec["v"] * df["_v"].to_numpy()
    if "msk" in spec:
        z += spec["msk"] * per_level(df["health"], lambda lv: "MSK" in lv)
    load = float(np.sqrt(np.var(z))) if np.var(z) > 0 else 0.0
    noise_sd = np.sqrt(max(1 - load**2, 0.3))
    z = z + rng.normal(0, noise_sd, n)
    return (z - z.mean()) / z.std()


def _observed_mask(treat: np.ndarray, base: int, rng) -> np.ndarray:
    """Item response: ``base`` observed cases split across arms in proportion to their size."""
    n = len(treat)
    base = min(base, n)
    obs = np.zeros(n, bool)
    n1 = int(treat.sum())
    k1 = int(round(base * n1 / n))
    for arm, k in ((1, k1), (0, base - k1)):
        idx = np.flatnonzero(treat == arm)
        obs[rng.choice(idx, min(k, len(idx)), replace=False)] = True
    return obs


def draw_binary(z: np.ndarray, treat: np.ndarray, p0: float, tau: float) -> np.ndarray:
    p0 = float(np.clip(p0, 1e-4, 1 - 1e-4))
    p1 = float(np.clip(p0 + tau, 1e-4, 1 - 1e-4))
    q0 = stats.norm.ppf(1 - p0)
    shift = stats.norm.ppf(p1) - stats.norm.ppf(p0)
    return (z + shift * treat > q0).astype(float)


def aim_in_work_counts(t: Targets) -> Targets:
    """Exact mode: place each group's paid-work arm means (derived targets, the figures being
    lost) inside their printed rounding so that the number of respondents in paid work is
    chapter 3's (§3.3.3: SCR IW 1,210 of 1,480, ...), rescaled to the kit's respondents:
    chapter 3 classifies 17 SCR respondents differently from Table 4-1 (the audit's
    ``ch3-vs-t4-1-groups``), so the share is what carries over. The calibration sets a 0/1
    outcome's arm counts to round(mean x n), so the arm means are chosen as whole counts
    c_C / n_C and c_T / n_T with c_C + c_T the chapter-3 count and their difference nearest
    the printed one. Mutates and returns ``t`` (a resolved copy); a group whose counts cannot
    fit is left as it was (the scorecard shows the gap)."""
    ch3 = t.raw.get("chapter3") or {}
    in_work, resp3 = ch3.get("in_work_at_4_months") or {}, ch3.get("respondents_ch3") or {}
    for g in t.groups:
        row = t.raw["primary_outcomes"].get(g, {}).get("paid_work")
        if row is None or g not in in_work or g not in resp3 or None in row[:2]:
            continue
        v_c, v_t, base = row[0], row[1], int(row[4]) * t.scale
        r = t.respondents(g)
        n = r[0] + r[1]
        n_t = int(round(base * r[1] / n))  # the arms' item bases, as _observed_mask splits them
        n_c = base - n_t
        k = int(round(in_work[g] * base / resp3[g]))

        def prints(c, m, v):
            return m > 0 and abs(c / m - v) < 0.005 - 1e-12

        pairs = [(c, k - c) for c in range(max(0, k - n_t), min(k, n_c) + 1)
                 if prints(c, n_c, v_c) and prints(k - c, n_t, v_t)]
        if not pairs:
            continue
        c_c, c_t = min(pairs, key=lambda p: abs((p[1] / n_t - p[0] / n_c) - (v_t - v_c)))
        row[0], row[1] = c_c / n_c, c_t / n_t
    return t


#: how far inside its printed rounding a group's mean may be moved (the calibration lands
#: each arm mean within ~0.0005 of its aim, well inside the rest)
TOTAL_ROOM = 0.7


def aim_chapter3_total(t: Targets, measure: str = "eq5d", key: str = "eq5d_mean_4m") -> Targets:
    """Exact mode: move each group's derived arm means of ``measure`` by one common shift
    per group (the impact is kept) so that the respondents' mean over all groups prints as
    chapter 3's Total (Table 3-10: EQ5D5L 0.58 over 5,290 respondents), every group's mean
    staying inside ``TOTAL_ROOM`` of its own printed rounding (0.58, 0.57, 0.57) and every
    arm mean inside the rounding of its derived value (the calibration report's tolerance).

    The derived arm means (``primary_outcomes``: the figures are lost) put each group's mean
    near the middle of its rounding, and the pool of those middles is 0.5729, which prints
    0.57: the Total needs the groups in the upper part of theirs (the audit's
    ``ch3.t3_10.total_mean`` gives the reachable range). Each group moves by the same shift,
    capped by its room (bisection on the shift); when even the caps leave the Total outside
    its rounding (an edited targets file), nothing moves. The Total is the unweighted mean
    over the respondents with the measure recorded (the scorecard's reading of Table 3-10),
    so groups count by their bases (``primary_outcomes``' base, split by arm as
    :func:`_observed_mask` splits it: :func:`data_synth.pooled.arm_bases`). Mutates and returns ``t`` (a resolved copy)."""
    spec = (t.raw.get("chapter3") or {}).get(key) or {}
    total = spec.get("Total")
    groups = [g for g in t.groups if g in spec and measure in t.raw["primary_outcomes"].get(g, {})]
    if total is None or len(groups) < len(t.groups):
        return t
    half = 0.5 * 10.0 ** -int(spec.get("decimals", 2))
    rows = [t.raw["primary_outcomes"][g][measure] for g in groups]
    if any(None in (row[0], row[1], row[4]) for row in rows):
        return t
    base, mean, lo, hi = [], [], [], []
    for g, row in zip(groups, rows):
        n = arm_bases(t, g, measure)
        b = n[0] + n[1]
        m = (n[0] * row[0] + n[1] * row[1]) / b
        room = TOTAL_ROOM * half
        base.append(b)
        mean.append(m)
        lo.append(max(spec[g] - room - m, -room))  # the group's printed rounding; the arms' derived values
        hi.append(min(spec[g] + room - m, room))
    base, mean, lo, hi = (np.array(x, float) for x in (base, mean, lo, hi))
    pooled = lambda shift: float(base @ (mean + np.clip(shift, lo, hi)) / base.sum())  # noqa: E731
    if abs(pooled(0.0) - total) <= half * 0.6 or np.any(lo > hi):
        return t
    aim = total - 0.6 * half if pooled(0.0) < total else total + 0.6 * half
    below, above = -2 * half, 2 * half  # bisection: the pool increases with the common shift
    for _ in range(60):
        mid = (below + above) / 2
        below, above = (mid, above) if pooled(mid) < aim else (below, mid)
    common = (below + above) / 2
    if abs(pooled(common) - total) > half * 0.9:  # out of reach: leave the groups where they were
        return t
    for row, s in zip(rows, np.clip(common, lo, hi)):
        row[0], row[1] = row[0] + float(s), row[1] + float(s)
    return t


def _estimator(df: pd.DataFrame, outcome: str, iv: bool = False) -> tuple[cal.LinearEstimator, pd.Index]:
    d = build_design(df, outcome, weights=vocab.WEIGHT)
    if not iv:
        return cal.LinearEstimator(d.X, d.w, j=1), d.index
    part = df.loc[d.index, vocab.PARTICIPATED].to_numpy(float)
    X = np.column_stack([part, d.X[:, [0, *range(2, d.X.shape[1])]]])
    Z = d.X  # assignment instruments participation; controls are their own instruments
    return cal.LinearEstimator(X, d.w, j=0, Z=Z), d.index


def _goal(tg: dict, outcome: str, iv: bool, scale: int, stars_se=None) -> cal.Goal:
    """Calibration goal from the targets; SE targets shrink with sqrt(scale). ``stars_se``:
    a function of the impact aimed at giving the S.E. interval (printed units) the printed
    stars need (:func:`data_synth.stars.se_band`) or, under ``--scale``, the one the pooled
    S.E.s need (:func:`data_synth.pooled.group_se_band`); ``None`` for the whole rounding."""
    shrink = np.sqrt(scale)

    def se_goal(coef, se):
        band = stars_se(coef) if stars_se is not None and se is not None else None
        if band is None:
            return (None if se is None else se / shrink), 0.005 / shrink
        return (band[0] + band[1]) / 2 / shrink, (band[1] - band[0]) / 2 / shrink

    if iv:
        coef, tol = tg["iv_impact"], 0.005
        if tg.get("iv_sd_s") is not None and tg.get("sd"):
            # the printed effect size (impact / s.d.) narrows the impact inside its rounding
            lo = max(coef - tol, (tg["iv_sd_s"] - 0.005) * tg["sd"])
            hi = min(coef + tol, (tg["iv_sd_s"] + 0.005) * tg["sd"])
            if lo < hi:
                coef, tol = (lo + hi) / 2, (hi - lo) / 2
        se, tol_se = se_goal(coef, tg.get("iv_se"))
        return cal.Goal(
            mean_c=tg["control"], mean_t=tg["treatment"], coef=coef, se=se,
            sd_c=tg.get("sd"), tol_coef=tol, tol_se=tol_se, tol_mean=0.002,
        )
    se, tol_se = se_goal(tg["impact"], tg.get("se"))
    return cal.Goal(
        mean_c=tg["control"], mean_t=tg["treatment"], coef=tg["impact"], se=se,
        sd_c=tg.get("sd"), tol_se=tol_se, tol_mean=0.002,
    )


def _se_band(t: Targets, group: str, outcome: str, coef: float) -> tuple[float, float] | None:
    """The S.E. interval (printed units) a group's impact is aimed at: the part of its
    rounding the printed stars need (:func:`data_synth.stars.se_band`, best effort) and,
    under ``--scale``, the part the pooled S.E.s need (:func:`data_synth.pooled.group_se_band`,
    targets); both where they overlap, else the pooled S.E.s' part."""
    stars, pooled = se_band(t, group, outcome, coef), group_se_band(t, group, outcome)
    if stars is None or pooled is None:
        return stars or pooled
    lo, hi = max(stars[0], pooled[0]), min(stars[1], pooled[1])
    return (lo, hi) if lo < hi else pooled


def draw_outcomes(resp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator, exact: bool) -> tuple[pd.DataFrame, dict]:
    """Draw (and in exact mode calibrate) the 12 outcomes for one group's respondents.

    Returns the frame with outcome columns and the true effects ``tau`` by outcome.
    """
    df = resp.copy()
    treat = df[vocab.TREAT].to_numpy(float)
    truth = {}
    for outcome in vocab.OUTCOMES:
        tg = t.outcome_targets(group, outcome)
        meta = vocab.OUTCOMES[outcome]
        tau = float(tg["impact"])
        truth[outcome] = tau
        base = tg["base"]
        if not exact:  # respondent numbers vary: keep the item-response rate instead
            n_target = sum(t.respondents(group).values())
            base = rng.binomial(len(df), min(base / n_target, 1.0))
        obs = _observed_mask(treat, base, rng)
        z = _index(df, outcome, rng)
        y = _draw(df, outcome, z, treat, tg, tau, rng)
        y[~obs] = np.nan
        df[outcome] = y
        if not exact:
            continue
        iv = tg.get("iv_impact") is not None and meta.primary
        est, idx = _estimator(df, outcome, iv=iv)
        pos = df.index.get_indexer(idx)
        yy = df[outcome].to_numpy()[pos]
        tt = treat[pos]
        # the S.E. band the printed stars need; under --scale, the one the pooled S.E.s need (pooled.group_se_band)
        goal = _goal(tg, outcome, iv, t.scale, stars_se=lambda coef: _se_band(t, group, outcome, coef))
        if meta.binary:
            eligible = None
            if outcome == "work16":
                eligible = df["paid_work"].to_numpy()[pos] == 1
            yy = cal.binary(est, yy, tt, goal, rng, eligible_up=eligible)
        else:
            free = None
            upper = None
            if outcome == "weeks_work":
                free = yy > 0  # zeros (no work in the period) stay zeros
            elif outcome == "weeks_work16":
                upper = df["_weeks_cap"].to_numpy()[pos]  # weeks at 16+ hours <= weeks in work
            if upper is not None:
                yy = cal.capped(est, yy, tt, goal, upper, rng)
            else:
                yy = cal.continuous(est, yy, tt, goal, meta.bounds, free=free, direction=_gap_direction(est, yy, tt, goal, free))
        col = df.columns.get_loc(outcome)
        df.iloc[pos, col] = yy
    return df.drop(columns=["_weeks_cap"], errors="ignore"), truth


def _gap_direction(est: cal.LinearEstimator, y, T, goal: cal.Goal, free) -> np.ndarray | None:
    """How the calibration moves the adjusted impact away from the raw difference in means.

    Preferably through the covariates' chance imbalance between the arms
    (:func:`~data_synth.calibrate.imbalance_direction`: no treatment-by-covariate pattern),
    as in real data. That imbalance shrinks as 1/sqrt(n), so in large samples (``--scale``)
    the same gap would need an implausibly strong covariate pattern, one that breaks the
    control-arm s.d.; then the weighted regression's own direction ``B_j`` (``None``), whose
    leverage does not shrink with n, moves it with the smaller change to the data."""
    u = cal.imbalance_direction(est.X, T, first_control=2)
    if goal.coef is None:
        return u
    via_u = cal.direction_loading(est, y, T, goal, u, free)
    via_c = cal.direction_loading(est, y, T, goal, est.c, free)
    return u if via_u <= via_c else None


def _draw(df, outcome, z, treat, tg, tau, rng) -> np.ndarray:
    meta = vocab.OUTCOMES[outcome]
    p0 = tg["control"]
    if outcome == "work16":
        paid = np.nan_to_num(df["paid_work"].to_numpy(), nan=0.0)
        y = draw_binary(z, treat, p0 / max(df["paid_work"].mean(), 1e-3), tau)
        return y * paid
    if meta.binary:
        return draw_binary(z, treat, p0, tau)
    if outcome == "weeks_work":
        # in work now: most of the 16 weeks; not in work now: some worked earlier in the
        # period (targets: chapter3.worked_earlier_if_not_in_work)
        paid = np.nan_to_num(df["paid_work"].to_numpy(), nan=0.0)
        p_earlier = tg["worked_earlier"]
        earlier = rng.random(len(df)) < p_earlier
        y = np.where(paid == 1, np.clip(16 - rng.exponential(3.0, len(df)), 1, 16),
                     np.where(earlier, rng.uniform(1, 12, len(df)), 0.0))
        return _scale_positive(y, treat, p0, tau)
    if outcome == "weeks_work16":
        # weeks at 16+ hours: all of a worker's weeks for those working 16+ hours (most of
        # them), none for the rest; who is "on" is drawn per arm so the expected mass
        # matches the arm's mean (control p0, treatment p0 + tau)
        base = _weeks_cap(df, rng)
        w16 = np.nan_to_num(df["work16"].to_numpy(), nan=0.0)
        on = np.zeros(len(df), bool)
        for arm, mean in ((0, p0), (1, p0 + tau)):
            idx = np.flatnonzero((treat == arm) & (base > 0))
            # work16 cases first, then others, in random order, until the mass is reached
            order = idx[np.lexsort((rng.random(len(idx)), -w16[idx]))]
            mass = np.cumsum(base[order])
            k = int(np.searchsorted(mass, mean * (treat == arm).sum()))
            on[order[: k + 1]] = True
        return np.where(on, base, 0.0)
    sd = tg.get("sd") or 1.0
    lo, hi = meta.bounds
    return np.clip(p0 + sd * z + tau * treat, lo, hi)


def _weeks_cap(df, rng) -> np.ndarray:
    """Weeks in work, standing in (with a fresh draw) where that item is missing: the cap
    for weeks at 16+ hours. Stored on ``df`` for the calibration."""
    w = df["weeks_work"].to_numpy(float)
    paid = np.nan_to_num(df["paid_work"].to_numpy(), nan=0.0)
    fresh = np.where(paid == 1, np.clip(16 - rng.exponential(3.0, len(df)), 1, 16), 0.0)
    cap = np.where(np.isnan(w), fresh, w)
    df["_weeks_cap"] = cap
    return cap


def _scale_positive(y, treat, mean0, tau):
    """Rescale the positive values so the control mean is ``mean0`` in expectation and add
    ``tau`` (spread over the positive cases) to the treated."""
    pos = y > 0
    if not pos.any():
        return y
    y = y * (mean0 / max(y[treat == 0].mean(), 1e-6))
    y = np.where(pos, y + tau * treat / max(pos.mean(), 1e-3), 0.0)
    return np.clip(y, 0, 16)


def draw_admin(df: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator, exact: bool) -> tuple[np.ndarray, float | None]:
    """12-month sustained employment for every recruit (administrative data)."""
    spec = t.admin(group)
    if spec is None:
        return np.full(len(df), np.nan), None
    treat = df[vocab.TREAT].to_numpy(float)
    z = (0.9 * df["_v"].to_numpy() + 0.2 * df["_u"].to_numpy() + rng.normal(0, 0.45, len(df)))
    z = (z - z.mean()) / z.std()
    tau = float(spec["impact"])
    y = draw_binary(z, treat, spec["control_rate"], tau)
    if exact:
        tmp = df.assign(**{vocab.SUSTAINED_EMP_12M: y})
        d = build_design(tmp, vocab.SUSTAINED_EMP_12M, weights=None, baseline=False)
        est = cal.LinearEstimator(d.X, None, j=1)
        goal = cal.Goal(mean_c=spec["control_rate"], coef=tau)
        y = cal.binary(est, y, treat, goal, rng)
    return y, tau
