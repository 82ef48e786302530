"""Generate the synthetic HLT trial: one row per recruit, calibrated to the targets.

Pipeline, per trial group (each stage has its own random stream, so changing one stage
does not reshuffle the others):

1. :mod:`~data_synth.population` — arms (Table 4-1), baseline characteristics (Tables
   4-2..4-4), work history (§3.3.1), baseline measures;
2. :mod:`~data_synth.response` — who answers the 4-month survey (Table 4-1), then
   :mod:`~data_synth.items` — baseline item non-response (the tables' "Base" ranges); in exact mode
   :mod:`~data_synth.weighted_sample` then fixes the weighted respondent columns of
   Tables 4-2..4-4 and §3.3.1 by swapping response status within arms;
3. survey weights by :func:`hlt_replicate.weighting.ipw_weights`, the kit's own estimator;
4. baseline differences among respondents (Table 4-5) — exact mode only;
5. :mod:`~data_synth.ips` — IPS sessions and time to first session (Tables 4-6, 4-7);
6. :mod:`~data_synth.outcomes` — 4-month outcomes (Tables 4-8..4-15, primary-outcome
   derivations) and 12-month sustained employment (IES blog Table 1).

``exact`` mode adds the post-draw calibration steps; ``sampled`` mode is the same
data-generating process without them. Before the draws, exact mode places the derived
primary-outcome means inside their rounding so that chapter 3's totals print (§3.3.3's
numbers in work, Table 3-10's Total EQ5D5L: :mod:`~data_synth.outcomes`). After the groups'
stages, it aims at the Total columns of Tables 4-6/4-7
(:func:`data_synth.ips.calibrate_mi_totals`) and calibrates the pooled impacts
(:mod:`~data_synth.pooled`), and recruits are numbered in order of randomisation.

The groups' stages from the weighted respondent columns to the outcomes are independent of
one another, and so are most outcomes of the pooled stage: they run in worker processes
(``jobs``, :mod:`data_synth.workers`). Each group's stages draw from their own random
streams and the pooled stage from none, so the output is the same in any number of workers.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hlt_replicate import vocab
from hlt_replicate.impact import build_design
from hlt_replicate.weighting import ipw_weights

from . import calibrate as cal
from . import workers
from .errors import TargetError
from .ips import calibrate_mi_totals, draw_ips, zero_bin_shift
from .items import draw_item_missing
from .outcomes import aim_chapter3_total, aim_in_work_counts, draw_admin, draw_outcomes
from .pooled import calibrate_pooled_estimates, resolve_pooled_means
from .population import draw_group
from .response import RESPONSE_EFFECTS, draw_response, linear_index
from .targets import Targets, load_targets
from .weighted_sample import calibrate_weighted_sample

MODES = ("exact", "sampled")
STAGES = {"population": 1, "response": 2, "table45": 3, "ips": 4, "outcomes": 5, "admin": 6, "ids": 7, "balance": 8, "pooled": 9,
          "items": 10, "mi_totals": 11}

#: column order of recruits.csv (see DATA_DICTIONARY.md)
COLUMNS = [
    vocab.ID, vocab.SITE, vocab.GROUP, vocab.AREA, vocab.COHORT, vocab.RAND_DATE, vocab.TREAT,
    "age", "female", "nonwhite", "partner", "dep_children", "qual", "health", "work_history",
    *vocab.BASELINE_MEASURES,
    vocab.RESPONDED,
    *vocab.OUTCOMES,
    vocab.SESSIONS, vocab.WEEKS_TO_FIRST, vocab.PARTICIPATED,
    vocab.SUSTAINED_EMP_12M,
]


@dataclass
class Generated:
    """The synthetic trial with its ground truth and provenance."""

    data: pd.DataFrame
    truth: dict
    manifest: dict = field(default_factory=dict)


def _rng(seed: int, stage: str, group_index: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, STAGES[stage], group_index])


def generate(targets: str | Path | Targets | None = None, *, seed: int = 0, mode: str = "exact", scale: int = 1,
             jobs: int | None = None, best_effort: bool = True) -> pd.DataFrame:
    """The synthetic trial as a DataFrame (one row per recruit). See :func:`generate_trial`."""
    return generate_trial(targets, seed=seed, mode=mode, scale=scale, jobs=jobs, best_effort=best_effort).data


def generate_trial(targets: str | Path | Targets | None = None, *, seed: int = 0, mode: str = "exact", scale: int = 1,
                   jobs: int | None = None, best_effort: bool = True) -> Generated:
    """Generate the trial, its ground truth (true effects, response propensities) and a
    manifest (seed, mode, scale, targets hash, package versions).

    ``targets``: a path to a targets YAML file, a loaded :class:`Targets`, or ``None`` for
    the HLT 4-month targets. ``scale`` multiplies every count (``scale=100`` gives ~1 M rows).
    ``jobs``: worker processes for the independent pieces of work (the trial groups' own
    stages, the pooled stage's outcomes; module docstring). ``None``: on Linux (forked
    workers start at once), in exact mode and for sampled trials of ``--scale`` 20 or
    more, one per trial group for the groups' stages (given two CPUs or more) and one per
    CPU for the pooled stage, at most 3 (:func:`data_synth.workers.resolve_jobs`); 1
    otherwise, and in a process running other threads (a Jupyter kernel: forking it can
    deadlock a worker). The output does not depend on it.

    ``best_effort`` (exact mode): also aim at the best-effort cells of Tables 4-2..4-4, the
    joint p-values of the categorical blocks and the weighted levels just outside their
    rounding (:func:`data_synth.weighted_sample.calibrate_weighted_sample`; the scorecard
    compares them). ``False`` meets every target all the same, in about half the time
    (seed 0: 1.1 instead of 3.3 CPU-s for the longest group's search), and leaves those
    cells where the search proper left them: for a quick trial when Tables 4-2..4-4's
    weighted columns do not matter. Recorded in the manifest.
    """
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not one of {MODES}")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer or None, got {jobs!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    t = targets if isinstance(targets, Targets) else load_targets(targets, scale=scale)
    if isinstance(targets, Targets) and scale != 1:
        t = t.with_scale(scale)
    exact = mode == "exact"
    t_out = t
    if exact:  # group means chosen inside their rounding so the pooled tables hold too
        t_out, _ = resolve_pooled_means(t)
        t_out = aim_in_work_counts(t_out)  # chapter 3's numbers in paid work (§3.3.3)
        t_out = aim_chapter3_total(t_out)  # Table 3-10's Total EQ5D5L mean, pooling the groups'
    frames, truth_groups = [], {}
    for gi, g in enumerate(t.groups):
        pop = draw_group(t, g, _rng(seed, "population", gi), exact)
        r, p, intercepts = draw_response(pop, t.respondents(g), _rng(seed, "response", gi), exact)
        pop[vocab.RESPONDED] = r.astype(int)
        pop["_p_response"] = p
        pop = draw_item_missing(pop, t, g, _rng(seed, "items", gi), exact)  # the tables' "Base" ranges
        truth_groups[g] = {
            "response_intercept": {"treatment": intercepts[1], "control": intercepts[0]},
            "response_effects": RESPONSE_EFFECTS,
        }
        frames.append(pop)
    df = pd.concat(frames, ignore_index=True)
    zero = zero_bin_shift(t) if exact else 0.0  # the 0-session shares, aimed so their pool prints
    tasks = [(df[df[vocab.GROUP] == g], t, t_out, g, gi, seed, exact, truth_groups[g]["response_intercept"], zero, bool(best_effort))
             for gi, g in enumerate(t.groups)]
    out = []
    big = exact or t.scale >= PARALLEL_SAMPLED_SCALE
    for g, (grp, tau, tau_admin) in zip(t.groups, _run_groups(tasks, workers.resolve_jobs(jobs, big, alike=len(tasks)))):
        truth_groups[g]["tau"] = tau
        truth_groups[g]["tau_sustained_emp_12m"] = tau_admin
        out.append(grp)
    df = pd.concat(out)
    if exact:  # the MI tables' Total columns, which pool the groups (best effort)
        df = calibrate_mi_totals(df, t, _rng(seed, "mi_totals"))
    if exact:  # pooled impacts (Tables 4-12, 4-13, 4-15) without moving any group's
        df = calibrate_pooled_estimates(df, t_out, _rng(seed, "pooled"), jobs=workers.resolve_jobs(jobs, big))
    df = _assign_ids(df, _rng(seed, "ids"))
    truth = {
        "description": (
            "Ground truth of the synthetic trial: tau = true average effect of assignment "
            "(treatment potential outcome minus control potential outcome, the same for every "
            "recruit of a group), response model and each recruit's true probability of "
            "responding. A real trial never reveals these."
        ),
        "seed": int(seed),
        "mode": mode,
        "scale": t.scale,
        "groups": truth_groups,
        "response_propensity": {
            "recruit_id": df[vocab.ID].tolist(),
            "p": [round(float(x), 8) for x in df["_p_response"]],
        },
    }
    data = df[COLUMNS].reset_index(drop=True)
    manifest = build_manifest(t, seed, mode, best_effort=bool(best_effort) if exact else None)
    data.attrs["seed"], data.attrs["mode"], data.attrs["targets_sha256"] = int(seed), mode, t.digest
    return Generated(data, truth, manifest)


def _group_stages(task) -> tuple:
    """One trial group's stages after the draws (the end of step 2 to step 6 above): the
    weighted respondent columns (exact mode), survey weights, Table 4-5's baseline
    differences (exact mode), IPS, outcomes and the 12-month outcome. Returns the group's
    rows and the true effects of its outcomes and of the 12-month outcome."""
    grp, t, t_out, g, gi, seed, exact, a, zero, best_effort = task
    if exact:  # the weighted respondent columns of Tables 4-2..4-4 and §3.3.1
        grp = calibrate_weighted_sample(grp, t, g, _rng(seed, "balance", gi), best_effort=best_effort)
        # arms traded: the true propensities follow
        grp["_p_response"] = 1 / (1 + np.exp(-(np.where(grp[vocab.TREAT] == 1, a["treatment"], a["control"]) + linear_index(grp))))
    grp = grp.copy()
    grp[vocab.WEIGHT] = ipw_weights(grp)  # fitted within the group
    if exact:
        grp = calibrate_baseline_differences(grp, t, g, _rng(seed, "table45", gi))
    grp = draw_ips(grp, t, g, _rng(seed, "ips", gi), exact, zero_shift=zero)
    resp_mask = grp[vocab.RESPONDED] == 1
    resp, tau = draw_outcomes(grp[resp_mask], t_out, g, _rng(seed, "outcomes", gi), exact)
    for o in vocab.OUTCOMES:
        grp[o] = np.nan
        grp.loc[resp.index, o] = resp[o]
    admin, tau_admin = draw_admin(grp, t, g, _rng(seed, "admin", gi), exact)
    grp[vocab.SUSTAINED_EMP_12M] = admin
    return grp, tau, tau_admin


#: sampled mode runs in worker processes by default from this --scale on (below it, a
#: plain draw takes less time than starting the workers and sending the data back)
PARALLEL_SAMPLED_SCALE = 20


def _run_groups(tasks: list, jobs: int) -> list:
    """:func:`_group_stages` for every task, in order; in ``jobs`` worker processes
    (:mod:`data_synth.workers`) when more than one.

    The group with the most respondents goes first and, when the workers outnumber the
    CPUs, keeps a CPU to itself: in exact mode its weighted-sample search is the longest
    stage (README, "Benchmarks", gives the measured effect). A worker sends back only the
    columns its stages can change (text columns that stayed as they were are taken from the
    task): pickling a million rows of text costs more than the stages save."""
    if jobs <= 1:
        return [_group_stages(task) for task in tasks]
    order = sorted(range(len(tasks)), key=lambda i: (-int(tasks[i][0][vocab.RESPONDED].sum()), -len(tasks[i][0])))
    results = workers.run(_sent_stages, tasks, jobs, order)
    return [_restore(task[0], *res) for task, res in zip(tasks, results)]


def _sent_stages(task) -> tuple:
    """:func:`_group_stages` in a worker; the result without the text columns it did not
    change (names and column order kept for :func:`_restore`)."""
    grp, *rest = _group_stages(task)
    given = task[0]
    same = [c for c in grp.columns if c in given.columns and not pd.api.types.is_numeric_dtype(grp[c])
            and not pd.api.types.is_datetime64_any_dtype(grp[c]) and grp[c].equals(given[c].reindex(grp.index))]
    return (grp.drop(columns=same), list(grp.columns), *rest)


def _restore(given: pd.DataFrame, grp: pd.DataFrame, columns: list, *rest) -> tuple:
    """A worker's result with the unchanged text columns put back from the task's frame."""
    missing = [c for c in columns if c not in grp.columns]
    if missing:
        grp = pd.concat([grp, given[missing].reindex(grp.index)], axis=1)[columns]
    return (grp, *rest)


def _assign_ids(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Order recruits by randomisation date (ties broken at random) and number them."""
    df = df.assign(_tie=rng.random(len(df))).sort_values([vocab.RAND_DATE, "_tie"], kind="stable")
    width = max(6, len(str(len(df))))
    df[vocab.ID] = [f"HLT{i:0{width}d}" for i in range(1, len(df) + 1)]
    return df.drop(columns="_tie").reset_index(drop=True)


def build_manifest(t: Targets, seed: int, mode: str, best_effort: bool | None = None) -> dict:
    import importlib.metadata as md

    versions = {"python": platform.python_version()}
    for pkg in ("hlt-replicate", "numpy", "pandas", "scipy", "statsmodels", "pyyaml"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "generator": "data_synth",
        "seed": int(seed),
        "mode": mode,
        "scale": t.scale,
        "targets": {"file": t.path.name, "sha256": t.digest},
        "versions": versions,
    } | ({} if best_effort is None else {"best_effort": best_effort})


# --- Table 4-5 ---------------------------------------------------------------------------
def calibrate_baseline_differences(grp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator) -> pd.DataFrame:
    """Exact mode: make the treatment-control differences in baseline outcomes among
    respondents (Table 4-5: weighted regression on the SAP controls) print as published,
    then restore each measure's full-population mean using the non-respondents."""
    tab = t.raw.get("table_4_5")
    grp = grp.copy()
    resp = grp[vocab.RESPONDED].to_numpy() == 1
    excluded = t.excluded()
    shrink = np.sqrt(t.scale)
    for var, row in (tab or {}).get("rows", {}).items():
        if group not in row:
            continue
        if f"table_4_5.{var}" in excluded:  # a lost row: only the prose's claim, if any
            prose = (tab or {}).get("prose")
            if prose is not None and t.scale == 1 and var in grp:
                grp = _not_significant(grp, resp, var, float(prose["alpha"]), t.measure(var, group), rng)
            continue
        diff, se, _ = row[group]
        d = build_design(grp[resp], var, weights=vocab.WEIGHT, baseline=False)
        est = cal.LinearEstimator(d.X, d.w, j=1)
        pos = grp.index.get_indexer(d.index)
        y = grp[var].to_numpy(float)[pos]
        T = d.treat
        tol = 0.0005
        spec = t.measure(var, group)
        row = t.baseline_rows(group).get(var)
        y0, shift = y, 0.0
        for _ in range(4):  # a constant shift for the weighted level (Tables 4-2..4-4), then Table 4-5 again
            y = np.clip(y0 + shift, *(spec["bounds"] or (-np.inf, np.inf))) if shift else y0
            if var == "bl_looking":
                y = _binary_with_se(est, y, T, diff, se / shrink, tol, tol / shrink, rng)
            elif var == "bl_barriers":
                y = _integer_with_se(est, y, T, spec["mean"], diff, se / shrink, tol, tol / shrink, (0, 10))
            else:
                goal = cal.Goal(mean_all=y.mean(), coef=diff, se=se / shrink, tol_mean=1e-4, tol_coef=tol, tol_se=tol / shrink)
                y = cal.continuous(est, y, T, goal, tuple(spec["bounds"]))
            if row is None or None in row["values"][1:4] or var in ("bl_looking", "bl_barriers"):
                break
            y = _raw_arm_difference(y, d, row, f"baseline_characteristics.{group}.{var}", t.skipped(), t.scale)
            need = _weighted_level_gap(y, d, row)
            if abs(need) < 0.001:
                break
            shift += need
        grp.iloc[pos, grp.columns.get_loc(var)] = y
        if not spec.get("respondents_only"):
            grp[var] = _restore_population_mean(grp[var].to_numpy(float), ~resp, spec, rng)
    return grp


def _not_significant(grp: pd.DataFrame, resp: np.ndarray, var: str, alpha: float, spec: dict,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Best effort: a baseline measure whose Table 4-5 row is lost (SWEMWBS: a copy of
    another row) keeps the prose's claim that no difference is significant at ``alpha``
    (§4.2.1, line 2668). The edge is inset as the stars' (:data:`data_synth.stars.MARGIN`
    in log p); a drawn difference past it is moved, S.E. held, to half the edge's |t|, and
    the full population's mean restored. Seeds 0-23 (no aim): SCR OOW's SWEMWBS difference
    was significant on 3 of 24 and SCR IW's on 1."""
    from scipy import stats as st

    from .stars import MARGIN

    d = build_design(grp[resp], var, weights=vocab.WEIGHT, baseline=False)
    est = cal.LinearEstimator(d.X, d.w, j=1)
    pos = grp.index.get_indexer(d.index)
    y = grp[var].to_numpy(float)[pos]
    coef, se = est.coef(y), est.se(y)
    edge = float(st.norm.isf(alpha * 2 ** MARGIN / 2))  # |t| whose p is alpha x 2^MARGIN
    if not se > 0 or abs(coef) / se <= edge:
        return grp
    goal = cal.Goal(mean_all=y.mean(), coef=float(np.sign(coef)) * edge / 2 * se, se=se, tol_mean=1e-4,
                    tol_coef=edge / 4 * se, tol_se=0.02 * se)
    y = cal.continuous(est, y, d.treat, goal, tuple(spec["bounds"] or (-np.inf, np.inf)))
    grp = grp.copy()
    grp.iloc[pos, grp.columns.get_loc(var)] = y
    if not spec.get("respondents_only"):
        grp[var] = _restore_population_mean(grp[var].to_numpy(float), ~resp, spec, rng)
    return grp


def _raw_arm_difference(y: np.ndarray, d, row: dict, cell: str, excluded: set[str], scale: int = 1) -> np.ndarray:
    """Tables 4-2..4-4 print a baseline measure's weighted arm means and the p-value of their
    raw difference; Table 4-5 its regression-adjusted difference and SE. Both hold when the
    respondents' values move along a combination of the regression's controls: the adjusted
    coefficient and residuals are unchanged, while the raw weighted difference moves. The
    combination is the smallest (in the weighted norm) that moves the raw difference one unit.
    Aims at the difference whose weighted t test gives the printed p-value, inside the
    rounding of the two printed arm columns; at the printed difference when that is not
    possible or the p-value is listed as a published inconsistency."""
    from hlt_replicate.balance import diff_test
    from scipy import stats

    c, tr, p = row["values"][2], row["values"][3], row["values"][4]
    printed = tr - c
    Xc = d.X[:, 2:]
    w, T = d.w, d.treat == 1
    m = np.average(Xc[T], axis=0, weights=w[T]) - np.average(Xc[~T], axis=0, weights=w[~T])
    gamma = np.linalg.lstsq((Xc * w[:, None]).T @ Xc, m, rcond=None)[0]
    u = Xc @ gamma
    u = u - u.mean()
    a = np.average(u[T], weights=w[T]) - np.average(u[~T], weights=w[~T])
    if abs(a) < 1e-12:
        return y
    for _ in range(4):
        raw = np.average(y[T], weights=w[T]) - np.average(y[~T], weights=w[~T])
        goal = printed
        if p is not None and scale == 1 and f"{cell}.p_value" not in excluded:
            _, V, _, _ = diff_test(y, T.astype(float), w)
            se, df = float(np.sqrt(V[0, 0])), len(y) - 2
            z = stats.t.isf(p / 2, df)
            cand = np.sign(printed or raw or 1.0) * z * se
            if abs(cand - printed) <= 0.009:
                goal = cand
        y = y + (goal - raw) / a * u
    return y


def _weighted_level_gap(y: np.ndarray, d, row: dict, half: float = 0.005) -> float:
    """How far the respondents' weighted mean must move (every value by the same amount, so
    no difference or regression coefficient moves) for the weighted sample, control and
    treatment columns of a Tables 4-2..4-4 row to print as published: to the middle of the
    values of the sample mean S for which S, C = S - a D and T = S + (1 - a) D all round to
    their printed cells (a: the treatment arm's share of the weight, D = T - C held)."""
    sv, c, tr = row["values"][1:4]
    w, T = d.w, d.treat == 1
    a = w[T].sum() / w.sum()
    C, Tm = np.average(y[~T], weights=w[~T]), np.average(y[T], weights=w[T])
    D, S = Tm - C, np.average(y, weights=w)
    lo = max(sv - half, c - half + a * D, tr - half - (1 - a) * D)
    hi = min(sv + half, c + half + a * D, tr + half - (1 - a) * D)
    goal = (lo + hi) / 2 if lo < hi else sv
    return goal - S


def _restore_population_mean(x: np.ndarray, movable: np.ndarray, spec: dict, rng) -> np.ndarray:
    x = x.copy()
    target = spec["mean"]
    if set(np.unique(x)) <= {0.0, 1.0}:
        need = int(round(target * len(x))) - int(x.sum())
        pool = np.flatnonzero(movable & (x == (0 if need > 0 else 1)))
        if abs(need) > len(pool):
            raise TargetError(f"cannot restore the population share {target}: too few non-respondents to flip")
        x[rng.choice(pool, abs(need), replace=False)] = 1.0 if need > 0 else 0.0
        return x
    lo, hi = spec.get("bounds") or (-np.inf, np.inf)
    for _ in range(100):
        gap = target * len(x) - x.sum()
        if abs(gap) < 1e-7 * len(x):
            break
        free = movable & (x > lo if gap < 0 else x < hi)
        x[free] = np.clip(x[free] + gap / max(free.sum(), 1), lo, hi)
    return x


def _binary_with_se(est, y, T, coef, se, tol, tol_se, rng, rounds: int = 40):
    """0/1 variable: set the respondents' share so the robust SE matches, then swap cases
    within arms until the coefficient matches."""
    y = y.copy()
    for _ in range(rounds):
        cur = est.se(y)
        p = y.mean()
        if abs(cur - se) > 0.4 * tol_se and 0 < p < 1:
            target_pq = p * (1 - p) * (se / cur) ** 2
            if target_pq < 0.25:
                root = np.sqrt(0.25 - target_pq)
                p_new = 0.5 + root if p > 0.5 else 0.5 - root
                need = int(round(p_new * len(y))) - int(y.sum())
                if need:
                    pool = np.flatnonzero(y == (0 if need > 0 else 1))
                    pick = rng.choice(pool, min(abs(need), len(pool)), replace=False)
                    y[pick] = 1.0 if need > 0 else 0.0
        y = cal.binary(est, y, T, cal.Goal(coef=coef, tol_coef=tol), rng)
        if abs(est.se(y) - se) <= 0.5 * tol_se and abs(est.coef(y) - coef) <= 0.5 * tol:
            break
    return y


def _integer_with_se(est, y, T, mean, coef, se, tol, tol_se, bounds):
    """Count variable (barriers): calibrate as continuous, round, fix the mean with +1/-1
    steps on the cases that move the coefficient least, then the coefficient and the SE
    with paired steps (:func:`data_synth.calibrate.integer`)."""
    lo, hi = bounds
    goal = cal.Goal(mean_all=mean, coef=coef, se=se, tol_mean=0.001, tol_coef=tol, tol_se=tol_se)
    yi = np.round(cal.continuous(est, y, T, goal, (lo, hi)))
    want = int(round(mean * len(yi)))
    for k in np.argsort(np.abs(est.c)):
        gap = want - yi.sum()
        if gap == 0:
            break
        step = 1 if gap > 0 else -1
        if lo <= yi[k] + step <= hi:
            yi[k] += step
    return cal.integer(est, yi, T, goal, (lo, hi))
