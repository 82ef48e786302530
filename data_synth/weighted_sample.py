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
characteristics and arm within the trial group, each arm's weights scaled to its randomised
count), to the printed values. With that scaling a sample column is the two arm columns
averaged in the randomised split (where nothing is missing), as the printed ones are.

Because every characteristic is in the response model, the weights largely undo a swap's
effect on the margins; what moves a weighted margin is *who within a cell* responds (a
respondent with a low fitted propensity carries a large weight). The effect of a swap is
therefore taken to first order *including the refit of the response model*: by the implicit
function theorem, adding recruit j to the respondents changes the weighted total of a
variable x by

    x_j / p_j  -  z_j' H^{-1} sum_{resp} x_i (1 - p_i) / p_i z_i,

where z are the response model's regressors, p its fitted probabilities and H its information
matrix. Each round first solves a linear programme over a shortlist of candidate moves
(:func:`_lp_step`: which non-respondents to add, which respondents to drop, which respondents
to move to the other arm, so that the first-order effects close the gaps; it scales to
``--scale 100``, where the shortlist is drawn from a random sample, :func:`_screen`), and
once that stops helping, goes pair by pair (:func:`_fine`); the model
is refitted exactly between rounds.

Targets, all inside the printed rounding (aimed inside 60 % of it):

- the weighted treatment-control differences (the two rounded arm columns pin each to
  +/-0.01) and §3.3.1's weighted work-history shares;
- the p-values of single characteristics (weighted two-sample t tests, as
  :func:`hlt_replicate.balance.balance_table`), as a band of the t statistic d / SE; a move's
  effect on SE is taken to first order too (:func:`_se_effect`);
- best effort, at the trial's own size only: the weighted *levels* — sample, control and
  treatment columns — and, for rare levels, the report's suppression rule (a cell is "(-)"
  when fewer than 10 people are in it). The report's weighted columns sit up to 0.02 from its
  population column, which a response model containing every characteristic makes hard to
  reproduce; the population stage already places each population value at the side of its
  rounding nearest the weighted one (:func:`data_synth.population.aim`). A level still
  unmet when the search stalls is given up, so it never costs a promised target; the
  scorecard shows the few that stay out. The first intake period (May-Jun 2018: 0.04 of
  each group's population, 0.02-0.03 in the weighted columns) is reachable because the
  kit's response model pools it with the second
  (:data:`hlt_replicate.weighting.RESPONSE_POOLED_LEVELS`); with its own indicator, the
  weights brought it back near 0.04, and SCR OOW's three cells printed for 13 of 72 over
  seeds 0-23 (69 of 72 pooled; SCR IW's first-cohort control share 23 of 24, against 12).
- the joint p-values of the categorical blocks, once everything else is met (the Wald
  statistic W = d' V^-1 d of the level differences, linearised as dW = 2 V^-1 d . delta d).
  Among the states in which every promised target still holds, the phase keeps the one
  with the fewest best-effort cells unmet (joint tests and weighted levels alike: each is
  one printed cell). Its first rounds often push a promised difference just outside its
  rounding, where a local search stalls; a phase that ends with a joint test unmet starts
  again from where it began, with fresh random candidates (``block_retries``). A phase
  ends after 12 rounds without a better state (``block_patience``), and its loss, like the
  polish's, lets the cells that print move inside their rounding (:func:`_search`). They
  are best effort too (``untargeted`` with ``aimed: true`` in the targets file).

Last, a polish goes pair by pair for the best-effort cells that stopped just outside their
rounding, letting the cells that print move inside theirs (:func:`calibrate_weighted_sample`).

Cells marked as published inconsistencies or untargeted in the targets file are skipped.

Item non-response (:mod:`data_synth.items`): a characteristic's means and tests use the
recruits with it recorded, as :func:`hlt_replicate.balance.balance_table` does, and the
recruits with a value missing are never moved, so the missing counts by arm and response
(the tables' "Base" ranges) hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from hlt_replicate import vocab
from hlt_replicate.balance import diff_test
from hlt_replicate.impact import control_matrix
from hlt_replicate.weighting import RESPONSE_COVARIATES, pooled_covariates

from .flatten import _is_excluded
from .targets import Targets

SLACK = 0.6  # aim inside 60 % of each rounding interval
#: the polish (:func:`calibrate_weighted_sample`): its loss ignores gaps inside this many
#: aims (1 / SLACK = 1.67 is the printed rounding), so cells that print leave room for a near
#: miss; it reaches for best-effort cells within NEAR times their rounding, for at most
#: POLISH_ROUNDS rounds
POLISH_HINGE, NEAR, POLISH_ROUNDS = 1.4, 2.0, 10
PROGRESS = 0.02  # a round that cuts the unmet targets' excess by less than this is no progress
HALF = 0.005  # two printed decimals
BLOCKS = ("qual", "health", "area", "cohort")  # rows carrying a block's joint p-value only
#: baseline measures whose respondent values a later stage (Table 4-5) recalibrates
LATER = ("bl_eq5d",)


@dataclass
class _Spec:
    """Columns whose weighted respondent means are targeted, and the targets.

    Three kinds: a weighted mean of a column in one arm or in both (``lev_*``: the control,
    treatment and sample columns of Tables 4-2..4-4, the work-history shares of §3.3.1); a
    treatment-control difference (``diff_*``); and an unweighted count of respondents with a
    rare level, kept inside ``[cnt_lo, cnt_hi]`` (the report prints "(-)" for fewer than 10
    people, a number otherwise). Tests add, each round, differences aimed at a printed
    p-value (:func:`_test_targets`).
    """

    X: np.ndarray  # n x K indicator/continuous columns
    lev_col: np.ndarray
    lev_arm: np.ndarray  # 0 control, 1 treatment, 2 both arms
    lev_value: np.ndarray
    lev_tol: np.ndarray
    lev_optional: np.ndarray  # best effort (the Tables 4-2..4-4 levels), not the §3.3.1 shares
    diff_col: np.ndarray
    diff_value: np.ndarray
    diff_tol: np.ndarray
    cnt_col: np.ndarray
    cnt_arm: np.ndarray
    cnt_lo: np.ndarray
    cnt_hi: np.ndarray
    singles: list[tuple[int, float, float]]  # (column, printed p, printed T - C)
    blocks: list[tuple[list[int], float]]  # (columns of every level of a block, printed joint p)
    O: np.ndarray | None = None  # n x K: 1 where the column's characteristic is observed
    frozen: np.ndarray | None = None  # recruits never moved (an item missing: their counts are targets)


#: the report suppresses a level's cell ("(-)") when fewer than this many people are in it
SUPPRESS_BELOW = 10


def _column(grp: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """A characteristic as a column (a level as its indicator) and where it is observed
    (item non-response: a missing value counts in no mean; zero in the column)."""
    var, level = key.split("=", 1) if "=" in key else (key, None)
    obs = grp[var].notna().to_numpy()
    x = (grp[var] == level).to_numpy(float) if level is not None else np.nan_to_num(grp[var].to_numpy(float))
    return x, obs.astype(float)


def _arrays(items, n: int, kinds):
    """Columns of a list of tuples as arrays of the given dtypes (empty when no items)."""
    cols = list(zip(*items)) if items else [()] * n
    return [np.array(c, dtype=k) for c, k in zip(cols, kinds)]


def _spec(grp: pd.DataFrame, t: Targets, group: str) -> _Spec:
    excluded = t.skipped()
    cols, obs, index = [], [], {}
    lev, diff, cnt, singles, blocks = [], [], [], [], []

    def column(key):
        if key not in index:
            index[key] = len(cols)
            x, o = _column(grp, key)
            cols.append(x)
            obs.append(o)
        return index[key]

    rows = t.baseline_rows(group)
    for key, row in rows.items():
        _, sv, c, tr, p = row["values"]
        base = f"baseline_characteristics.{group}.{key}"
        if key in BLOCKS:
            if p is not None and t.scale == 1 and not _is_excluded(f"{base}.p_value", excluded):
                blocks.append(([column(f"{key}={lv}") for lv in vocab.CATEGORICAL_BASELINE[key]], p))
            continue
        if key in LATER:
            continue
        k = column(key)
        if not cols[k].any():
            continue
        if t.scale == 1:  # weighted levels and suppression: the trial's own sample sizes
            for arm, value, col in ((0, c, "control"), (1, tr, "treatment"), (2, sv, "sample")):
                if value is not None and not _is_excluded(f"{base}.{col}", excluded):
                    lev.append((k, arm, value, HALF * SLACK, True))
            if "=" in key and None in (sv, c, tr):  # a rare level: suppressed cells and the printed ones
                for arm, value in ((0, c), (1, tr), (2, sv)):
                    cnt.append((k, arm, 1, SUPPRESS_BELOW - 1) if value is None else (k, arm, SUPPRESS_BELOW, len(grp)))
        if c is None or tr is None:
            continue
        if not _is_excluded(f"{base}.difference", excluded):
            diff.append((k, round(tr - c, 2), 2 * HALF * SLACK))  # two rounded columns pin T - C to +/-0.01
        if p is not None and t.scale == 1 and not _is_excluded(f"{base}.p_value", excluded):
            singles.append((k, p, tr - c))  # a p-value belongs to the trial's sample size
    wh = t.raw.get("work_history") or {}
    for lv, v in (wh.get(group) or {}).items():
        if not _is_excluded(f"work_history.{group}.{lv}", excluded):
            lev.append((column(f"work_history={lv}"), 2, v, 0.5 * 10.0 ** -wh.get("decimals", 2) * SLACK, False))
    frozen = grp[[c for c in RESPONSE_COVARIATES if c in grp]].isna().any(axis=1).to_numpy()
    return _Spec(np.column_stack(cols),
                 *_arrays(lev, 5, (int, int, float, float, bool)),
                 *_arrays(diff, 3, (int, float, float)),
                 *_arrays(cnt, 4, (int, int, float, float)),
                 singles, blocks, O=np.column_stack(obs), frozen=frozen)


class _ResponseModel:
    """The kit's response model (:func:`hlt_replicate.weighting.response_propensity`) for one
    trial group, refitted by warm-started Newton steps as response status changes."""

    def __init__(self, grp: pd.DataFrame):
        Xc, _ = control_matrix(pooled_covariates(grp, RESPONSE_COVARIATES), RESPONSE_COVARIATES, missing="indicator")  # as ipw_weights
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
                              attempts: int = 3, polish: bool = True, best_effort: bool = True, **search) -> pd.DataFrame:
    """Swap response status within arms until the weighted respondent columns print as
    published (module docstring: differences, p-values, §3.3.1 shares, and best effort the
    levels, suppressed cells and joint p-values). Arms are also traded between respondents
    (a chance imbalance of the randomisation). Returns a copy
    of ``grp`` with ``responded`` and ``treat`` changed; counts by group x arm, randomised and
    responding, are unchanged.

    The search is local, and now and then stalls with a promised target (a difference or a
    p-value) unmet; it then starts again from the drawn sample with fresh random candidates
    (the same ``rng``, further on: the same seed still gives the same bytes), at most
    ``attempts`` times, keeping the best result.

    Then, at the trial's own size (where the best-effort cells are) and once every promised
    target is met, a polish (``polish``). The search leaves some best-effort cells just
    outside their rounding: its loss counts any gap beyond 80 % of the aim (about half the
    rounding), so it guards cells that print with room to spare. The polish goes pair by
    pair from that state with a loss that ignores gaps up to :data:`POLISH_HINGE` aims,
    reaching for the best-effort cells within :data:`NEAR` times their rounding that do not
    print, and keeps the state with the fewest best-effort cells out among those meeting
    every promised target (the one it started from included). Seeds 0-23 (captured inputs,
    72 trial groups): 44 of the 85 weighted levels that missed now print, and one more joint
    p-value; with it, one restart of the joint tests' phase (``block_retries``) reaches as
    many joint p-values as three did, and the search takes about 10 % more CPU.

    ``best_effort=False``: neither the joint tests' phase nor the polish (every promised
    target is met all the same, in about half the time; the joint p-values and the levels
    are left where the search proper left them).

    ``search``: options of :func:`_search` (``pool``, ``fine_swaps``, ``patience``, ...),
    for the polish too, except the four that make it the polish (``polish``, ``hinge``,
    ``max_block_rounds``, ``block_retries``)."""
    if not best_effort:
        polish, search = False, {**search, "joint_tests": False}
    best = None
    for _ in range(attempts):
        out, unmet = _search(grp, t, group, rng, **search)
        if best is None or unmet < best[1]:
            best = (out, unmet)
        if unmet == 0:
            break
    if best[1] == 0 and polish and t.scale == 1:  # under --scale no cell is best effort
        out, unmet = _search(best[0], t, group, rng, **{**search, "polish": True, "hinge": POLISH_HINGE,
                                                         "max_block_rounds": POLISH_ROUNDS, "block_retries": 0})
        if unmet == 0:
            best = (out, 0)
    return best[0]


def _search(grp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator,
            rounds: int = 150, pool: int = 150, fine_swaps: int = 8, patience: int = 8,
            max_block_rounds: int = 24, block_retries: int = 1, block_patience: int = 12, polish: bool = False,
            hinge: float = 0.8, block_hinge: float = POLISH_HINGE, joint_tests: bool = True) -> tuple[pd.DataFrame, int]:
    """One run of the search of :func:`calibrate_weighted_sample`; returns the sample and
    how many promised targets it leaves unmet.

    ``polish``: start in the joint tests' phase, pair by pair, from a state meeting every
    promised target; count a best-effort cell as met where it prints (the search proper
    aims inside 95 % of the rounding), leave out those further than :data:`NEAR` times it,
    and ignore gaps inside ``hinge`` aims in the loss. ``joint_tests=False``: no joint
    tests' phase.

    The joint tests' phase runs at most ``max_block_rounds`` rounds, and ends (or starts
    again, ``block_retries``) once ``block_patience`` rounds have passed without a better
    admissible state; its loss ignores gaps inside ``block_hinge`` aims, as the polish's
    does. Seeds 0-23 (captured inputs): with neither, the phase found nothing better than
    the state it began in for two of seed 0's groups in 40 rounds, where the polish then
    needed 5-6; with both, the search takes 10-15 % less CPU (seed 0: 6.5 -> 4.5 CPU-s)
    and prints as much (weighted levels 6,614 against 6,613 of 6,648, joint p-values 264
    against 263 of 264)."""
    grp = grp.copy()
    spec = _spec(grp, t, group)
    if not joint_tests:  # no joint tests' phase: the search ends once every other target is met
        spec.blocks = []
    model = _ResponseModel(grp)
    T = model.T.astype(bool)
    r = grp[vocab.RESPONDED].to_numpy(float).copy()
    X, O = spec.X, spec.O
    K = X.shape[1]
    # the distinct observation patterns of the columns (one when nothing is missing): the
    # means' denominators are the weighted totals of these, by arm
    Ou, o_map = _unique_columns(O)
    u = Ou.shape[1]
    M = _moments(X, Ou, T)
    movable = ~spec.frozen
    n_arm = np.array([np.sum(~T), np.sum(T)], float)  # randomised, by arm (trades keep them)
    pool0 = pool
    cap, last_loss, use_lp = max(20, len(grp) // 25), None, not polish
    blocks, best, block_rounds, done = polish, None, 0, False
    improved_at = 0  # the joint tests' phase: the round of its last better admissible state
    fallback, since_best = None, 0  # the best state seen for the targets other than the joint tests
    start, retries = None, 0  # the state in which the joint tests' phase began; its restarts
    if polish:
        start = (r.copy(), T.copy())

    def move_arms(idx, arms):
        T[idx] = arms
        model.T = T.astype(float)
        model.Z[idx, 1] = model.T[idx]
        M[idx] = _moments(X[idx], Ou[idx], T[idx])

    def retry_blocks() -> bool:
        """The joint tests' phase ended with one unmet: start it again (at most
        ``block_retries`` times) from the state it began in, with fresh random candidates.
        Seeds 0-23 (captured inputs), with the phase's patience, its looser loss and the
        polish: 264 of 264 joint p-values with one restart; with none, 264 too but 2 fewer
        weighted levels, for 4 % less CPU. (Before the polish and the patience rule, one
        restart had raised the count from 241 to 253.)"""
        nonlocal retries, block_rounds, since_best, pool, use_lp, last_loss, improved_at
        if retries >= block_retries or (best is not None and best[3] == 0):
            return False
        retries += 1
        r[:] = start[0]
        back = np.flatnonzero(T != start[1])
        move_arms(back, start[1][back])
        block_rounds, since_best, pool, use_lp, last_loss, improved_at = 0, 0, pool0, True, None, 0
        return True

    active = np.ones(len(spec.lev_col) + len(spec.diff_col) + len(spec.cnt_col), bool)  # still aimed at
    for round_ in range(rounds):
        p = model.fit(r, refresh=round_ % 5 == 0)
        R = r == 1
        v = 1 / p
        tot = (v * R) @ M
        W0, W1 = tot[2 * K:2 * K + u][o_map], tot[2 * K + u:][o_map]  # each column's observed weight, by arm
        C, Tr = tot[:K] / W0, tot[K:2 * K] / W1
        # the sample column: ipw_weights scales each arm's weights to the arm's randomised
        # count (a), so the arms count by a x their observed weight (pi)
        a = n_arm / np.array([v[R & ~T].sum(), v[R & T].sum()])
        pi0 = a[0] * W0 / (a[0] * W0 + a[1] * W1)
        S = pi0 * C + (1 - pi0) * Tr
        # difference targets as rows of L applied to (T - C) means
        L = np.zeros((len(spec.diff_col), K))
        L[np.arange(len(spec.diff_col)), spec.diff_col] = 1.0
        L_t, v_t, tol_t, se_terms = _test_targets(spec, X, O, R, T, v, C, Tr, blocks)
        L = np.vstack([L, L_t])
        CTS = np.vstack([C, Tr, S])
        N = _counts(X, R, T)
        n_cur = N[spec.cnt_arm, spec.cnt_col]
        n_aim = np.clip(n_cur, spec.cnt_lo + 1, spec.cnt_hi - 1)  # one person inside the range
        value = np.concatenate([spec.lev_value, spec.diff_value, n_aim, v_t])
        tol = np.concatenate([spec.lev_tol, spec.diff_tol, np.ones(len(n_aim)), tol_t])
        cur = np.concatenate([CTS[spec.lev_arm, spec.lev_col], L[:len(spec.diff_col)] @ (Tr - C), n_cur, np.zeros(len(v_t))])
        gap = value - cur
        if len(v_t):
            gap[-len(v_t):] = v_t  # test targets are expressed as the change still needed
            value[-len(v_t):] = 0.0
        # aimed inside SLACK of each rounding interval; met when inside 95 % of it
        met = tol * np.where(np.arange(len(tol)) < len(spec.lev_col) + len(spec.diff_col) + len(n_aim), 1.0, 0.95 / SLACK)
        met[:len(spec.lev_col) + len(spec.diff_col)] *= 0.95 / SLACK
        optional = np.zeros(len(gap), bool)  # best effort: levels and suppressed counts
        optional[:len(spec.lev_col)] = spec.lev_optional
        optional[len(spec.lev_col) + len(spec.diff_col):][:len(n_aim)] = True
        if polish:  # a best-effort cell is met where it prints
            met[:len(spec.lev_col)][spec.lev_optional] /= 0.95
            met[len(gap) - len(spec.blocks):] /= 0.95
        raw = gap.copy()
        if polish and round_ == 0:  # near misses only: a level far out would pull the others away
            active &= ~(optional[:len(active)] & (np.abs(raw[:len(active)]) > NEAR * met[:len(active)]))
        gap[:len(active)][~active] = 0.0  # best-effort targets given up as out of reach
        n_main = len(gap) - (len(spec.blocks) if blocks else 0)
        over = np.abs(gap[:n_main]) > met[:n_main]
        opt = optional[:n_main]
        rank = (int((over & ~opt).sum()), int((over & opt).sum()), float(np.sum((np.abs(gap[:n_main]) / met[:n_main])[over])))
        if fallback is None or rank < fallback[0]:
            # patience counts rounds without real progress: fewer targets unmet, or the
            # excess over the unmet ones down by PROGRESS (a long tail of tiny gains on a
            # level out of reach would otherwise never stop)
            real = fallback is None or rank[:2] < fallback[0][:2] or rank[2] < (1 - PROGRESS) * fallback[0][2]
            fallback, since_best = (rank, r.copy(), T.copy()), 0 if real else since_best + 1
        else:
            since_best += 1
        if blocks:
            # best effort, cell by cell: among the states meeting every promised target, keep
            # the one with the fewest joint tests and weighted levels unmet (each is one
            # printed cell; a level given up as out of reach still counts), then the least excess
            block_rounds += 1
            n_blk = len(spec.blocks)
            if rank[0] == 0:
                bx = np.abs(gap[-n_blk:]) / met[-n_blk:]
                n_opt = int(np.sum(optional[:n_main] & (np.abs(raw[:n_main]) > met[:n_main])))
                score = (n_opt + int(np.sum(bx > 1)), float(np.sum(np.maximum(bx - 1, 0))) + rank[2])
                if best is None or score < best[0]:
                    best = (score, r.copy(), T.copy(), int(np.sum(bx > 1)))
                    improved_at = block_rounds
            if block_rounds > max_block_rounds or block_rounds - improved_at > block_patience:
                if retry_blocks():
                    continue
                break
        if np.all(np.abs(gap) <= met):
            if blocks or not spec.blocks:
                best, done = None, True  # everything met here
                break
            blocks, use_lp, last_loss = True, True, None  # the joint tests join once every other target is met
            hinge = max(hinge, block_hinge)
            start = (r.copy(), T.copy())
            continue
        # first-order effect on the weighted totals of adding each recruit to the respondents,
        # with the response model refitted (module docstring)
        total_change = first_order_totals(model, M, p, R)

        def effects(idx):
            G = total_change(idx)
            G0, G1 = G[:, 2 * K:2 * K + u][:, o_map], G[:, 2 * K + u:][:, o_map]
            dC = (G[:, :K] - C * G0) / W0
            dT = (G[:, K:2 * K] - Tr * G1) / W1
            c = spec.lev_col[spec.lev_arm == 2]  # the sample column: only where a level is aimed at
            dS = pi0[c] * dC[:, c] + (1 - pi0[c]) * dT[:, c]  # the arms' shares held (exact when nothing is missing)
            lev = _by_arm(spec, dC, dT, dS)
            arm = np.stack([~T[idx], T[idx], np.ones(len(idx), bool)])[spec.cnt_arm].T
            cnt = X[np.ix_(idx, spec.cnt_col)] * arm
            tests = (dT - dC) @ L[len(spec.diff_col):].T
            tests[:, :len(se_terms)] += _se_effect(se_terms, X, O, T, v, idx)
            return np.column_stack([lev, (dT - dC) @ L[:len(spec.diff_col)].T, cnt, tests]) / tol

        def arm_effects(idx):
            """Moving respondents to the other arm, weights held (the arm's coefficient in
            the response model barely moves when two respondents trade arms)."""
            xv, ov = X[idx] * v[idx, None], O[idx] * v[idx, None]
            sgn = np.where(T[idx], -1.0, 1.0)[:, None]  # +1: control -> treatment
            dT = sgn * (xv - Tr * ov) / W1
            dC = -sgn * (xv - C * ov) / W0
            c = spec.lev_col[spec.lev_arm == 2]  # trades come in pairs, one each way: the arms' counts hold
            lev = _by_arm(spec, dC, dT, pi0[c] * dC[:, c] + (1 - pi0[c]) * dT[:, c])
            cnt = X[np.ix_(idx, spec.cnt_col)] * sgn * np.array([-1.0, 1.0, 0.0])[spec.cnt_arm]
            return np.column_stack([lev, (dT - dC) @ L[:len(spec.diff_col)].T, cnt, (dT - dC) @ L[len(spec.diff_col):].T]) / tol

        e = gap / tol
        loss = float(_loss(e, hinge))
        if use_lp and last_loss is not None and loss >= last_loss:
            use_lp = False  # the linear programme has done what it can: pair by pair from here
        last_loss = loss
        if use_lp:
            n_cand = max(250, len(grp) // 100)
            outs = _screen(np.flatnonzero(~R & movable), n_cand, rng)
            ins = _screen(np.flatnonzero(R & movable), n_cand, rng)
            E_out, E_in = effects(outs), effects(ins)
            E_arm = arm_effects(ins)  # effect of moving each respondent to the other arm
            add, drop, flip = _lp_step(e, E_out, E_in, E_arm, T[outs], T[ins], cap, rng, n_cand=n_cand)
            add, drop, flip = outs[add], ins[drop], ins[flip]
            r[drop], r[add] = 0.0, 1.0
            moved = len(add) + len(flip)
            if moved == 0:
                use_lp = False
                continue
        else:
            moved = 0
            for arm in (False, True):
                ins = np.flatnonzero((T == arm) & R & movable)
                outs = np.flatnonzero((T == arm) & ~R & movable)
                i_sel, j_sel, e = _fine(e, effects, ins, outs, rng, pool, fine_swaps, hinge=hinge)
                r[i_sel], r[j_sel] = 0.0, 1.0
                moved += len(i_sel)
            R = r == 1  # after this round's response swaps
            flip = np.empty(0, int)
            if np.any(np.abs(e) > 1):  # trade arms between respondents (randomisation's chance imbalance)
                i_sel, j_sel, e = _fine(e, lambda idx: arm_effects(idx) * np.where(T[idx], -1.0, 1.0)[:, None], np.flatnonzero(T & R & movable),
                                        np.flatnonzero(~T & R & movable), rng, pool, fine_swaps, hinge=hinge)
                flip = np.concatenate([i_sel, j_sel])
                moved += len(i_sel)
        if len(flip):
            move_arms(flip, ~T[flip])
        if moved == 0 or since_best >= patience:  # stalled: widen the search before giving up
            if pool < 4 * pool0 and since_best < patience:
                pool *= 2
                continue
            out_of_reach = active & optional[:len(active)] & (np.abs(gap[:len(active)]) > met[:len(active)])
            if out_of_reach.any():  # levels are best effort: give up those unmet, go on with the rest
                active &= ~out_of_reach
                pool, use_lp, last_loss, fallback, since_best = pool0, not polish, None, None, 0
                continue
            if blocks and retry_blocks():
                continue
            if blocks or not spec.blocks:
                break
            blocks, pool, since_best, hinge = True, pool0, 0, max(hinge, block_hinge)
            start = (r.copy(), T.copy())
    unmet = 0
    if best is not None:  # the joint tests' phase stopped short: its best admissible state
        r, T = best[1], best[2]
    elif not done and fallback is not None:  # stalled: the state closest to meeting every other target
        r, T, unmet = fallback[1], fallback[2], fallback[0][0]
    grp[vocab.RESPONDED] = r.astype(int)
    grp[vocab.TREAT] = T.astype(int)
    return grp, unmet


#: the linear programme's candidates are picked from at most this many times ``n_cand``
#: recruits of each kind: a random sample under ``--scale``, all of them at the trial's own
#: size (n_cand is at least 250; no HLT group has 2,500 respondents)
SCREEN = 10


def _screen(idx: np.ndarray, n_cand: int, rng) -> np.ndarray:
    """``idx``, or when there are more, a random ``SCREEN * n_cand`` of them (in order).
    Under ``--scale 100`` the first-order effects of every recruit cost more than they
    gain over the best of a sample: with the sample the stage takes about a third of the
    time, in no more rounds (seed 0)."""
    if len(idx) <= SCREEN * n_cand:
        return idx
    return np.sort(rng.choice(idx, SCREEN * n_cand, replace=False))


def _lp_step(e, E_out, E_in, E_arm, arm_out, arm_in, cap: int, rng, hinge: float = 0.8, cost: float = 0.02,
             arm_cost: float = 0.1, n_cand: int = 250):
    """One round's moves by linear programming: which non-respondents to add, respondents to
    drop (as many as added within each arm) and respondents to move to the other arm (as many
    each way), so that the scaled gaps ``e`` less the moves' first-order effects fall inside
    +/-``hinge``; the overshoot is minimised, plus a small cost per move, at most ``cap``
    additions and ``cap`` arm moves. Candidates: per arm and kind of move, the ``n_cand``
    with the best first-order gain alone and a random quarter as many. Returns positions in
    ``E_out``, ``E_in``, ``E_in``."""
    from scipy import sparse
    from scipy.optimize import linprog

    # a target narrower than a typical move (a p-value pins a difference to ~1e-4) is widened
    # to that move's size here; the pair-by-pair search does the last, discrete, part
    g = np.maximum(1.0, np.quantile(np.abs(np.vstack([E_out, E_in])), 0.9, axis=0))
    e, E_out, E_in, E_arm = e / g, E_out / g, E_in / g, E_arm / g

    def pick(E, sign, arm_of):
        gain = sign * (E @ e) - 0.5 * np.einsum("ij,ij->i", E, E)
        keep = []
        for arm in (False, True):
            idx = np.flatnonzero(arm_of == arm)
            order = idx[np.argsort(-gain[idx])]
            keep += [order[:n_cand], rng.permutation(order[n_cand:])[:n_cand // 4]]
        return np.concatenate(keep)

    io, ii, ia = pick(E_out, 1, arm_out), pick(E_in, -1, arm_in), pick(E_arm, 1, arm_in)
    # a move's cost in units of what a typical move achieves: under --scale one person moves
    # the gaps a hundredth as much, and a fixed cost would stop the programme from moving anyone
    unit = min(1.0, float(np.median(np.abs(E_out[io]).sum(axis=1))))
    cost, arm_cost = cost * unit, arm_cost * unit
    n_o, n_i, n_a, m = len(io), len(ii), len(ia), len(e)
    # z = [x add, y drop, f arm move, d inside the hinge, s+ and s- overshoot]; A z + d + s+ - s- = e
    A = np.hstack([E_out[io].T, -E_in[ii].T, E_arm[ia].T, np.eye(m), np.eye(m), -np.eye(m)])
    zeros = lambda k: np.zeros(k)  # noqa: E731
    rows = [np.concatenate([(arm_out[io] == arm) * 1.0, -1.0 * (arm_in[ii] == arm), zeros(n_a + 3 * m)]) for arm in (False, True)]
    rows.append(np.concatenate([zeros(n_o + n_i), np.where(arm_in[ia], 1.0, -1.0), zeros(3 * m)]))
    A_eq = sparse.csr_matrix(np.vstack([A, *rows]))
    b_eq = np.concatenate([e, zeros(3)])
    A_ub = sparse.csr_matrix(np.vstack([np.concatenate([np.ones(n_o), zeros(n_i + n_a + 3 * m)]),
                                        np.concatenate([zeros(n_o + n_i), np.ones(n_a), zeros(3 * m)])]))
    c = np.concatenate([np.full(n_o + n_i, cost), np.full(n_a, arm_cost), zeros(m), np.ones(2 * m)])
    bounds = [(0, 1)] * (n_o + n_i + n_a) + [(-hinge, hinge)] * m + [(0, None)] * (2 * m)
    # presolve off: the programme is dense and small, and presolve costs a fifth of the solve
    res = linprog(c, A_ub=A_ub, b_ub=[cap, cap], A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs", options={"presolve": False})
    empty = np.empty(0, int)
    if res.status != 0:
        return empty, empty, empty
    x, y, f = res.x[:n_o], res.x[n_o:n_o + n_i], res.x[n_o + n_i:n_o + n_i + n_a]
    add, drop = [], []
    for arm in (False, True):  # round: the largest values, as many added as dropped
        xo, yi = np.flatnonzero(arm_out[io] == arm), np.flatnonzero(arm_in[ii] == arm)
        k = int(round(min(x[xo].sum(), y[yi].sum())))
        add.append(io[xo[np.argsort(-x[xo])[:k]]])
        drop.append(ii[yi[np.argsort(-y[yi])[:k]]])
    add, drop = np.concatenate(add), np.concatenate(drop)
    f[np.isin(ia, drop)] = 0.0  # a dropped respondent does not also change arm
    t_, c_ = np.flatnonzero(arm_in[ia] & (f > 0)), np.flatnonzero(~arm_in[ia] & (f > 0))
    k = int(round(min(f[t_].sum(), f[c_].sum(), len(t_), len(c_))))
    flip = ia[np.concatenate([t_[np.argsort(-f[t_])[:k]], c_[np.argsort(-f[c_])[:k]]])]  # as many each way
    return add, drop, np.unique(flip)


def first_order_totals(model: _ResponseModel, M: np.ndarray, p: np.ndarray, R: np.ndarray):
    """A function giving, for recruits ``idx``, the first-order change in the weighted totals
    sum_{resp} M / p of adding each one to the respondents, the response model refitted:
    M_j / p_j - z_j' H^-1 sum_{resp} M_i (1 - p_i) / p_i z_i (implicit function theorem on the
    logit's score equations; module docstring). ``H`` is the model's information matrix."""
    v = 1 / p
    B = (((1 - p[R]) * v[R])[:, None] * model.Z[R]).T @ M[R]  # q x m
    A = np.linalg.solve(model.H, B)
    return lambda idx: M[idx] * v[idx, None] - model.Z[idx] @ A


def _by_arm(spec: _Spec, dC: np.ndarray, dT: np.ndarray, dS) -> np.ndarray:
    """Effects on the level targets (columns ``spec.lev_col``): from the control (``dC``,
    n x K) or treatment (``dT``) effects, or ``dS``, already for the sample-column targets
    alone, in their order (without stacking three n x K arrays: under ``--scale`` only a few
    levels are aimed at)."""
    out = np.empty((dC.shape[0], len(spec.lev_col)))
    for arm, d in ((0, dC), (1, dT)):
        sel = spec.lev_arm == arm
        out[:, sel] = d[:, spec.lev_col[sel]]
    out[:, spec.lev_arm == 2] = dS
    return out


def _counts(X: np.ndarray, R: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Unweighted respondent counts (sums) of each column: control, treatment, both (3 x K)."""
    c0, c1 = X[R & ~T].sum(axis=0), X[R & T].sum(axis=0)
    return np.vstack([c0, c1, c0 + c1])


def _unique_columns(O: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct columns of a 0/1 matrix and each column's position among them: the
    result of ``np.unique(O, axis=1, return_inverse=True)`` (same order) without its sort of
    the columns as structured records, which took 5-10 s per trial group under ``--scale 100``.
    Columns are compared as packed bits, whose byte order is the columns' lexicographic order."""
    keys = [np.packbits(O[:, k] > 0).tobytes() for k in range(O.shape[1])]
    distinct = sorted(set(keys))
    position = {key: i for i, key in enumerate(distinct)}
    first = {}
    for k, key in enumerate(keys):
        first.setdefault(key, k)
    return O[:, [first[key] for key in distinct]], np.array([position[key] for key in keys], dtype=np.intp)


def _moments(X: np.ndarray, Ou: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Moment variables whose weighted totals give the arm means: each column on the
    control arm, each on the treatment arm, then each observation pattern ``Ou`` on each arm
    (the means' denominators: a characteristic's missing values count in none of its
    means; with nothing missing, the two arms' counts)."""
    return np.column_stack([X * ~T[:, None], X * T[:, None], Ou * ~T[:, None], Ou * T[:, None]]).astype(float)


@lru_cache(maxsize=None)
def _p_band(p: float, q: int, df: int) -> tuple[float, float]:
    """Wald statistics (F(q, df) x q) whose p-value rounds to the printed ``p`` (aiming
    inside ``SLACK`` of the rounding interval). Kept: asked every round with the same
    arguments (the recruits with a value missing never move, so ``df`` holds)."""
    hi_p, lo_p = min(p + HALF * SLACK, 1.0), max(p - HALF * SLACK, 1e-12)
    return q * stats.f.isf(hi_p, q, df), q * stats.f.isf(lo_p, q, df)


def _test_targets(spec: _Spec, X, O, R, T, v, C, Tr, blocks: bool = False):
    """This round's targets from the printed p-values, as rows of L applied to the arm
    differences: (L, change still needed, tolerance, SE terms).

    Single characteristics: the weighted t test of :func:`hlt_replicate.balance.diff_test`,
    targeted as its t statistic d / SE, whose printed p-value fixes a band. A move changes d
    (rows of L, scaled by 1 / SE) and the variance V = n/(n-2) sum_arms Q_a / W_a^2 (Q_a the
    arm's sum of w^2 (x - m_a)^2, W_a its weight): the SE terms (column, dt/dV, m_0, m_1,
    W_0, W_1, Q_0, Q_1, S_0, S_1; S_a the arm's sum of w^2 (x - m_a)) give the second part to
    first order, other weights held (:func:`_se_effect`).
    With ``blocks``, also each categorical block's joint Wald statistic, linearised in the
    level differences (V held). Each test uses the respondents with its characteristic
    observed (``O``), as :func:`hlt_replicate.balance.balance_table`."""
    K = X.shape[1]
    rows, need, tol, se_terms = [], [], [], []
    for k, p, printed in spec.singles:
        Rk = R & (O[:, k] > 0)
        w = v[Rk] / v[Rk].mean()
        n = int(Rk.sum())
        df = n - 2
        _, V, _, _ = diff_test(X[Rk, k], T[Rk].astype(float), w)
        se = float(np.sqrt(V[0, 0]))
        d = Tr[k] - C[k]
        w_lo, w_hi = _p_band(p, 1, df)
        sign = np.sign(printed) if round(printed, 2) != 0 else (np.sign(d) or 1.0)
        t_lo, t_hi = sorted((sign * np.sqrt(w_lo), sign * np.sqrt(w_hi)))
        row = np.zeros(K)
        row[k] = 1.0 / se
        rows.append(row)
        need.append((t_lo + t_hi) / 2 - d / se)
        tol.append((t_hi - t_lo) / 2)
        arm_terms = []
        for arm in (False, True):
            sel = Rk & (T == arm)
            W = v[sel].sum()
            m = (v[sel] @ X[sel, k]) / W
            dev = X[sel, k] - m
            arm_terms += [m, W, float(np.sum((v[sel] * dev) ** 2)), float(v[sel] ** 2 @ dev)]
        m0, W0, Q0, S0, m1, W1, Q1, S1 = arm_terms
        se_terms.append((k, -d * n / df / (2 * se**3), m0, m1, W0, W1, Q0, Q1, S0, S1))
    for cols, p in spec.blocks if blocks else ():
        Rk = R & (O[:, cols[0]] > 0)
        present = [c for c in cols if X[Rk, c].any()][:-1]  # as balance_table: drop one present level
        d, V, stat, _ = diff_test(X[Rk][:, present], T[Rk].astype(float), v[Rk] / v[Rk].mean())
        w_lo, w_hi = _p_band(p, len(present), int(Rk.sum()) - 2)
        row = np.zeros(K)
        row[present] = 2 * np.linalg.solve(V, d)  # dW/dd, W = d' V^-1 d (V held)
        rows.append(row)
        need.append((w_lo + w_hi) / 2 - stat)
        tol.append((w_hi - w_lo) / 2)
    if not rows:
        return np.empty((0, K)), np.empty(0), np.empty(0), []
    return np.array(rows), np.array(need), np.array(tol), se_terms


def _se_effect(se_terms, X, O, T, v, idx) -> np.ndarray:
    """First-order change in each single test's t statistic, through its variance, of adding
    recruits ``idx`` to the respondents (their own weight added, the others held; a recruit
    whose characteristic is missing changes nothing)."""
    out = np.zeros((len(idx), len(se_terms)))
    t = T[idx]
    vi = v[idx]
    for s, (k, coef, m0, m1, W0, W1, Q0, Q1, S0, S1) in enumerate(se_terms):
        x = X[idx, k]
        m, W, Q, S = (np.where(t, a1, a0) for a0, a1 in ((m0, m1), (W0, W1), (Q0, Q1), (S0, S1)))
        dQ = (vi * (x - m)) ** 2 - 2 * vi * (x - m) / W * S  # own term, and the arm mean's shift
        out[:, s] = coef * (dQ / W**2 - 2 * Q * vi / W**3) * O[idx, k]
    return out


def _loss(e: np.ndarray, hinge: float = 0.8) -> np.ndarray:
    """Loss of scaled gaps (last axis): a hinge that ignores gaps inside ``hinge`` aims (80 %
    of the aim in the search proper), so targets already met leave room for the others, plus
    a small pull toward zero."""
    return np.sum(np.maximum(np.abs(e) - hinge, 0.0) ** 2 + 0.01 * e**2, axis=-1)


def _fine(e, effects, ins, outs, rng, pool, swaps, shortlist: int = 2000, hinge: float = 0.8):
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
        after = _loss(e[None, :] - (Ej[bs] - Ei[as_]), hinge)
        after[~np.isfinite(quad[bs, as_])] = np.inf
        best = int(np.argmin(after))
        b, a = bs[best], as_[best]
        if after[best] >= _loss(e, hinge) - 1e-12:
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
