"""Stage 3: IPS management information for the treatment arm (Tables 4-6 and 4-7).

Number of IPS sessions (face-to-face or telephone) and weeks from randomisation to the first
session, with the distributions printed separately for all recruits with MI and for survey
respondents. Participation = at least one session. Recruits without an MI record (the gap
between Table 4-1 and the Table 4-6 base) get missing sessions and count as not
participating.

The respondents' columns are survey-weighted ("All percentages are based on the weighted
data. Only the unweighted sample sizes are shown", R1033 line 1386): no whole number of
SCR IW's 777 respondents is 15.0 % of them (116 is 14.93 %, 117 is 15.06 %), nor 20.0 %,
5.2 % or 0.2 %; nor is 3.4 % of its 753 in Table 4-7. The columns for all recruits with MI
cover non-respondents, who have no survey weight, and are plain counts. So in exact mode
the unweighted counts come first (all recruits' counts print; the respondents' counts are
the nearest whole numbers), then :func:`_weighted_partition` chooses *which* respondents
sit in each bin so that the survey-weighted shares print as well.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hlt_replicate import vocab

from .apportion import count_bounds, fill_within
from .errors import TargetError
from .targets import Targets


def _bin_counts(t: Targets, section: str, group: str, base_all: int, base_resp: int, zero_all=None, zero_resp=None,
                weighted_resp: bool = False):
    """Counts per bin for respondents and non-respondents, both printing as Table 4-6/4-7
    (the respondents' counts the nearest whole numbers when ``weighted_resp``: their printed
    shares are weighted, so Table 4-7's base pins the 0-session count exactly)."""
    spec = t.raw[section]
    block = spec[group]
    d = spec.get("decimals", 1)
    lo_r, hi_r = count_bounds(base_resp, block["resp"], d, scale=100)
    lo_a, hi_a = count_bounds(base_all, block["all"], d, scale=100)
    # Table 4-7's bases pin the 0-session counts: weighted respondents' shares exactly; plain
    # counts one case outside their printed interval at most
    if zero_resp is not None:
        lo_r[0] = hi_r[0] = int(zero_resp if weighted_resp else np.clip(zero_resp, lo_r[0] - 1, hi_r[0] + 1))
    if zero_all is not None:
        lo_a[0] = hi_a[0] = int(np.clip(zero_all, lo_a[0] - 1, hi_a[0] + 1))
    hi_r = np.minimum(hi_r, hi_a)  # respondents are a subset of all in every bin
    lo_r = np.minimum(lo_r, hi_r)
    # The printed percentages are of weighted data: when no whole counts reach them all,
    # widen every bin by one case at a time (the calibration check allows one case).
    for widen in range(4):
        try:
            wr = np.full(len(lo_r), widen)
            wa = np.full(len(lo_a), widen)
            if zero_resp is not None:
                wr[0] = 0  # the 0-session count is pinned by Table 4-7's base
            if zero_all is not None:
                wa[0] = 0
            resp = fill_within(base_resp, np.asarray(block["resp"]) / 100 * base_resp,
                               np.maximum(lo_r - wr, 0), hi_r + wr, f"{section}.{group}.resp")
            lo_all = np.maximum(np.maximum(lo_a - wa, 0), resp)  # all >= respondents in every bin
            allc = fill_within(base_all, np.asarray(block["all"]) / 100 * base_all, lo_all,
                               np.maximum(hi_a + wa, lo_all), f"{section}.{group}.all")
            return resp, allc - resp
        except TargetError:
            if widen == 3:
                raise


#: aim inside this fraction of each printed rounding interval (as the other exact stages)
SLACK = 0.6


def _weighted_partition(w: np.ndarray, counts, share, tol, rng: np.random.Generator, max_iter: int = 4000,
                        candidates: int = 300) -> np.ndarray:
    """Bin of each of ``len(w)`` people, ``counts[b]`` of them in bin ``b``, such that each
    bin's share of the total weight lies within ``tol[b]`` of ``share[b]`` (fractions).

    Starts from a random assignment with those counts, then repeatedly swaps two people
    between the bin furthest outside its band and the bin that best takes up the
    difference of their weights (swaps keep every count); under ``--scale`` each bin offers a
    random ``candidates`` of its members per step. Returns the best assignment found;
    the caller checks the bands (whole people cannot always reach a very narrow one)."""
    counts = np.asarray(counts, int)
    share, tol = np.asarray(share, float), np.asarray(tol, float)
    W = w.sum()
    b_of = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    Wb = np.bincount(b_of, weights=w, minlength=len(counts)) / W

    def f(g, t):  # outside the band, squared, plus a small pull to its centre
        return np.maximum(np.abs(g) - t, 0.0) ** 2 + 1e-3 * g**2

    def members(b):
        m = np.flatnonzero(b_of == b)
        return m if len(m) <= candidates else rng.choice(m, candidates, replace=False)

    for _ in range(max_iter):
        gap = Wb - share
        over = np.abs(gap) - tol
        a = int(np.argmax(over))
        if over[a] <= 0:
            break
        ia = members(a)
        best = (0.0, None)
        for b in range(len(counts)):
            ib = members(b)
            if b == a or len(ib) == 0 or len(ia) == 0:
                continue
            d = (w[ia][:, None] - w[ib][None, :]) / W  # bin a loses i and gains j: a's share falls by d
            gain = f(gap[a], tol[a]) + f(gap[b], tol[b]) - f(gap[a] - d, tol[a]) - f(gap[b] + d, tol[b])
            k = int(np.argmax(gain))
            if gain.flat[k] > best[0]:
                i, j = np.unravel_index(k, gain.shape)
                best = (float(gain.flat[k]), (ia[i], ib[j], b, float(d[i, j])))
        if best[1] is None:
            break
        i, j, b, d = best[1]
        b_of[i], b_of[j] = b, a
        Wb[a] -= d
        Wb[b] += d
    return b_of


def _values_in_bins(counts, bounds, rng, order):
    vals = np.concatenate([rng.integers(lo, hi + 1, c) for c, (lo, hi) in zip(counts, bounds)]).astype(float)
    return vals[order]


def draw_ips(df: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator, exact: bool,
             zero_shift: float = 0.0) -> pd.DataFrame:
    """Add ``ips_sessions``, ``weeks_to_first_session`` and ``participated`` to one group.
    ``zero_shift``: where inside its rounding the respondents' 0-session share is aimed
    (percentage points from the printed value; :func:`zero_bin_shift`)."""
    out = df.copy()
    out[vocab.SESSIONS] = np.nan
    out[vocab.WEEKS_TO_FIRST] = np.nan
    out[vocab.PARTICIPATED] = 0
    spec = (t.raw.get("ips_sessions") or {}).get(group)
    if spec is None:
        return out
    s = t.scale
    treat = out[vocab.TREAT].to_numpy() == 1
    resp = out[vocab.RESPONDED].to_numpy() == 1
    base_all, base_resp = spec["base"]["all"] * s, spec["base"]["resp"] * s
    n_tr, n_ts = int((treat & resp).sum()), int((treat & ~resp).sum())
    if not exact:  # respondent numbers vary: keep the MI coverage rates instead
        r_t = t.respondents(group)[1]
        n_t = t.randomised(group)[1]
        base_resp_new = rng.binomial(n_tr, min(base_resp / max(r_t, 1), 1.0))
        non_rate = min((base_all - base_resp) / max(n_t - r_t, 1), 1.0)
        base_all = base_resp_new + rng.binomial(n_ts, non_rate)
        base_resp = base_resp_new
    miss_resp = n_tr - base_resp
    miss_non = (n_ts + n_tr - base_all) - miss_resp
    if miss_resp < 0 or miss_non < 0 or miss_non > n_ts:
        raise TargetError(
            f"ips_sessions.{group}: MI bases (all {base_all}, respondents {base_resp}) do not fit the "
            f"{n_tr} treated respondents and {n_ts} treated non-respondents: respondents with MI must be "
            f"<= {n_tr} and non-respondents with MI ({base_all - base_resp}) <= {n_ts}; edit "
            f"ips_sessions.{group}.base together with design.respondents"
        )
    fs = (t.raw.get("first_session") or {}).get(group)
    zero_all = zero_resp = None
    if fs is not None:  # tie the 0-session counts to Table 4-7's bases where rounding allows
        zero_all = base_all - fs["base"]["all"] * s
        zero_resp = base_resp - fs["base"]["resp"] * s
    weighted = exact and vocab.WEIGHT in out
    if exact:
        c_resp, c_non = _bin_counts(t, "ips_sessions", group, base_all, base_resp, zero_all, zero_resp, weighted_resp=weighted)
    else:
        p_r = np.asarray(spec["resp"], float) / np.sum(spec["resp"])
        p_a = np.asarray(spec["all"], float) / np.sum(spec["all"])
        c_resp = rng.multinomial(base_resp, p_r)
        # non-respondents' mix implied by the two printed distributions
        p_n = np.clip(p_a * base_all - p_r * base_resp, 0, None)
        c_non = rng.multinomial(base_all - base_resp, p_n / p_n.sum())
    bounds = t.raw["ips_sessions"]["bin_bounds"]
    tr_idx = rng.permutation(np.flatnonzero(treat & resp))[:base_resp]
    ts_idx = rng.permutation(np.flatnonzero(treat & ~resp))[: base_all - base_resp]
    w = out[vocab.WEIGHT].to_numpy(float) if weighted else None
    out.loc[out.index[tr_idx], vocab.SESSIONS] = _respondent_values(
        w[tr_idx] if weighted else None, c_resp, spec["resp"], t.raw["ips_sessions"].get("decimals", 1), bounds, rng,
        zero_shift=zero_shift)
    out.loc[out.index[ts_idx], vocab.SESSIONS] = _values_in_bins(c_non, bounds, rng, rng.permutation(len(ts_idx)))
    if exact and "mean" in spec:  # respondents' mean sessions (Table 4-6, "Mean" row)
        _fit_mean(out, tr_idx, spec["mean"]["resp"], bounds, rng, w[tr_idx] if weighted else None)
    sess = out[vocab.SESSIONS].to_numpy()
    out[vocab.PARTICIPATED] = (np.nan_to_num(sess, nan=0) >= 1).astype(int)
    if fs is not None:
        _first_session(out, t, group, rng, exact)
    return out


def _respondent_values(w, counts, printed_pct, decimals: int, bounds, rng, zero_shift: float = 0.0):
    """Values for the respondents with MI: ``counts`` per bin; with weights ``w`` (exact
    mode) placed by :func:`_weighted_partition` so the weighted shares print as
    ``printed_pct`` at ``decimals`` (module docstring), else at random. ``zero_shift``
    (percentage points) moves the first bin's aim inside its rounding
    (:func:`zero_bin_shift`), its band narrowed to stay inside."""
    if w is None:
        return _values_in_bins(counts, bounds, rng, rng.permutation(int(np.sum(counts))))
    share = np.asarray(printed_pct, float) / 100
    half = 0.5 * 10.0**-decimals / 100
    tol = np.full(len(share), half * SLACK)
    if zero_shift:
        share[0] += zero_shift / 100
        tol[0] = max(0.9 * half - abs(zero_shift) / 100, 0.1 * half)
    b_of = _weighted_partition(w, counts, share, tol, rng)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return rng.integers(lo[b_of], hi[b_of] + 1).astype(float)


def _fit_mean(out, idx, target, bounds, rng, w=None, tol: float = 0.04):
    """Move sessions within their bins until the respondents' mean (weighted by ``w`` when
    given) lies within ``tol`` of ``target`` (the printed mean: inside its rounding)."""
    col = out.columns.get_loc(vocab.SESSIONS)
    vals = out.iloc[idx, col].to_numpy(copy=True)
    w = np.ones(len(vals)) if w is None else np.asarray(w, float)
    lo_b = np.array([lo for lo, _ in bounds])
    hi_b = np.array([hi for _, hi in bounds])
    bin_of = np.searchsorted(hi_b, vals)
    W = w.sum()
    for _ in range(20 * len(vals)):
        gap = target * W - w @ vals  # weighted total still to move
        if abs(gap) <= tol * W:
            break
        step = 1 if gap > 0 else -1
        room = np.flatnonzero((vals + step >= lo_b[bin_of]) & (vals + step <= hi_b[bin_of]) & (vals > 0))
        if len(room) == 0:
            break
        k = rng.permutation(room)
        k = k[: max(1, int(np.searchsorted(np.cumsum(w[k]), abs(gap))))]
        vals[k] += step
    out.iloc[idx, col] = vals


def _first_session(out, t, group, rng, exact):
    spec = t.raw["first_session"]
    block = spec[group]
    s = t.scale
    part = out[vocab.PARTICIPATED].to_numpy() == 1
    resp = out[vocab.RESPONDED].to_numpy() == 1
    pr, pn = np.flatnonzero(part & resp), np.flatnonzero(part & ~resp)
    base_resp = min(block["base"]["resp"] * s, len(pr))
    base_all = min(block["base"]["all"] * s, len(pr) + len(pn))
    base_all = max(base_all, base_resp)
    base_non = min(base_all - base_resp, len(pn))
    base_all = base_resp + base_non
    if exact:
        c_resp, c_non = _bin_counts(t, "first_session", group, base_all, base_resp)
    else:
        p_r = np.asarray(block["resp"], float) / np.sum(block["resp"])
        p_a = np.asarray(block["all"], float) / np.sum(block["all"])
        c_resp = rng.multinomial(base_resp, p_r)
        p_n = np.clip(p_a * base_all - p_r * base_resp, 0, None)
        c_non = rng.multinomial(base_non, p_n / p_n.sum())
    bounds = spec["bin_bounds"]
    w = out[vocab.WEIGHT].to_numpy(float) if exact and vocab.WEIGHT in out else None
    idx = rng.permutation(pr)[:base_resp]
    out.loc[out.index[idx], vocab.WEEKS_TO_FIRST] = _respondent_values(
        None if w is None else w[idx], c_resp, block["resp"], spec.get("decimals", 1), bounds, rng)
    idx = rng.permutation(pn)[:base_non]
    out.loc[out.index[idx], vocab.WEEKS_TO_FIRST] = _values_in_bins(c_non, bounds, rng, rng.permutation(base_non))


# --- the Total columns (across the trial groups) ---------------------------------------------
def mi_weight_sums(t: Targets, groups) -> np.ndarray:
    """Each group's sum of survey weights over its treated respondents with MI, from Table
    4-1 and the MI base alone (before any weight exists): weights have mean 1 over a group's
    respondents and are about 1 / r_T before that normalisation, so W_g ~ base_g x r_g / r_T,g
    (r_g the group's response rate, r_T,g the treatment arm's; 0 with no treated respondents)."""
    spec = t.raw["ips_sessions"]
    W = []
    for g in groups:
        rand, resp = t.randomised(g), t.respondents(g)
        r_all, r_t = sum(resp.values()) / max(sum(rand.values()), 1), resp[1] / max(rand[1], 1)
        W.append(spec[g]["base"]["resp"] * r_all / r_t if r_t > 0 else 0.0)
    return np.array(W)


def zero_bin_shift(t: Targets) -> float:
    """Where, inside their rounding, every group aims its respondents' 0-session share
    (percentage points from the printed value, the same for all groups) so that the pooled
    Total prints too: the 0 bin is participation, fixed in the groups' own stages, which run
    apart (worker processes), so the shift is chosen beforehand from Table 4-1 alone.

    A group's weighted Total share is sum_g W_g s_g / sum_g W_g with W_g its treated MI
    respondents' sum of survey weights, estimated by :func:`mi_weight_sums`. The shift aims the pool at the
    Total's printed value, at most 0.8 of a half-unit from each group's own: at the printed
    shares the pool is about 2.87 against a printed 2.8 (Table 4-6), so the groups aim 0.04
    below theirs. Scale 1 only, as :func:`calibrate_mi_totals`; 0 without a Total."""
    spec = t.raw.get("ips_sessions") or {}
    total = (spec.get("total") or {}).get("resp")
    groups = [g for g in t.groups if g in spec]
    if t.scale != 1 or total is None or len(groups) < 2:
        return 0.0
    W = mi_weight_sums(t, groups)
    if W.sum() <= 0:
        return 0.0
    half = 0.5 * 10.0 ** -spec.get("decimals", 1)
    pooled = W @ np.array([spec[g]["resp"][0] for g in groups], float) / W.sum()
    return float(np.clip(total[0] - pooled, -0.8 * half, 0.8 * half))


def calibrate_mi_totals(df: pd.DataFrame, t: Targets, rng: np.random.Generator) -> pd.DataFrame:
    """Exact mode, after the groups' stages: the Total columns of Tables 4-6 and 4-7
    (``total`` in the targets' ``ips_sessions`` and ``first_session``), best effort, without
    moving any group's printed cell out of its rounding.

    Each group's stage aims its own shares at the middle of their rounding, independently;
    the Total is their pool (the respondents' columns weighted: sum_g W_g s_g / sum_g W_g,
    W_g the group's sum of survey weights), so it can land just outside its own rounding
    (seed 0: Table 4-6 respondents' 6-10 sessions 24.456 for a printed 24.4). Within each
    group this re-partitions the recruits among the bins that feed nothing else:

    - respondents: two in the same group exchange their values (and so their bins), which
      keeps every count and moves the weighted shares by the difference of their weights
      (:func:`_weighted_totals`); each group's weighted mean sessions is then refitted
      within the bins, inside its rounding and so that the groups' pool prints as the
      Total's "Mean" (:func:`_fit_means`);
    - all recruits with MI (plain counts): non-respondents move to another bin, one at a
      time, while every group count stays inside its rounding (:func:`_count_totals`).

    Sessions' 0 bin is left alone here (participation, the IV tables' instrumented
    variable, is fixed by the groups' stages); its Total is aimed at there instead, each
    group's share shifted inside its rounding (:func:`zero_bin_shift`). Like the other best-effort cells (the weighted levels of Tables 4-2..4-4),
    at the trial's own size only: under ``--scale`` one exchange moves a share a hundredth as
    much, and the pass would take seconds for cells no one compares. Returns a copy of ``df``."""
    if t.scale != 1:
        return df
    out = df.copy()
    w_all = out[vocab.WEIGHT].to_numpy(float) if vocab.WEIGHT in out else None
    group = out[vocab.GROUP].to_numpy()
    treat = out[vocab.TREAT].to_numpy() == 1
    resp = out[vocab.RESPONDED].to_numpy() == 1
    for section, column in (("ips_sessions", vocab.SESSIONS), ("first_session", vocab.WEEKS_TO_FIRST)):
        spec = t.raw.get(section) or {}
        total = spec.get("total")
        groups = [g for g in t.groups if g in spec]
        if not total or len(groups) < 2:
            continue
        vals = out[column].to_numpy(float).copy()
        lo = np.array([b[0] for b in spec["bin_bounds"]], float)
        hi = np.array([b[1] for b in spec["bin_bounds"]], float)
        movable = lo >= 1 if section == "ips_sessions" else np.ones(len(lo), bool)
        half = 0.5 * 10.0 ** -spec.get("decimals", 1) / 100
        has = treat & ~np.isnan(vals)
        if w_all is not None and "resp" in total and all(np.any(has & resp & (group == g)) for g in groups):
            members = [np.flatnonzero(has & resp & (group == g)) for g in groups]
            shares = np.array([spec[g]["resp"] for g in groups], float) / 100
            _weighted_totals(vals, w_all, members, lo, hi, movable, shares, np.asarray(total["resp"], float) / 100,
                             half, rng)
            out[column] = vals
            if section == "ips_sessions" and all("mean" in spec[g] for g in groups):
                _fit_means(out, members, [spec[g]["mean"]["resp"] for g in groups], (total.get("mean") or {}).get("resp"),
                           spec["bin_bounds"], w_all, 0.5 * 10.0 ** -spec.get("decimals", 1), rng)
                vals = out[column].to_numpy(float).copy()
        if "all" in total and all(np.any(has & (group == g)) for g in groups):
            members = [np.flatnonzero(has & (group == g)) for g in groups]
            movers = [np.flatnonzero(has & ~resp & (group == g)) for g in groups]
            shares = np.array([spec[g]["all"] for g in groups], float) / 100
            _count_totals(vals, members, movers, lo, hi, movable, shares, np.asarray(total["all"], float) / 100, half, rng)
            out[column] = vals
    return out


def _fit_means(out, members, means, total_mean, bounds, w, half, rng) -> None:
    """Refit each group's weighted mean sessions (exchanges moved them) inside its printed
    rounding (``half``), all shifted by one amount so their pool, sum_g W_g m_g / sum_g W_g,
    lies inside the Total's (``total_mean``: with the kit's weights the groups' printed means
    pool to 11.85-11.86, at the edge of Table 4-6's 11.9)."""
    means = np.asarray(means, float)
    shift, room = 0.0, 0.8 * half
    if total_mean is not None:
        Wg = np.array([w[m].sum() for m in members])
        shift = float(np.clip(total_mean - Wg @ means / Wg.sum(), -0.5 * half, 0.5 * half))
        room = 0.3 * half  # |shift| + room stays inside 0.8 of each group's rounding
    for m, target in zip(members, means + shift):
        _fit_mean(out, m, target, bounds, rng, w[m], tol=room)


def _bin_of(vals: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.searchsorted(hi, vals)


def _weighted_totals(vals, w, members, lo, hi, movable, shares, total, half, rng, max_iter: int = 200,
                     candidates: int = 60, group_room: float = 0.9, stall: int = 10) -> None:
    """Exchange values between respondents of the same group (in place, ``vals``) until
    every movable bin's weighted Total lies inside ``SLACK`` of its rounding (``half``),
    each group's weighted shares staying inside ``group_room`` of theirs. Each step takes
    the Total furthest outside and the exchange, in any group and with any other movable
    bin, that most reduces the squared excess over all the bands."""
    B = len(lo)
    b_of = [_bin_of(vals[m], hi) for m in members]
    Wg = np.array([w[m].sum() for m in members])
    Wgb = np.array([np.bincount(b, weights=w[m], minlength=B) for m, b in zip(members, b_of)])
    t_tol, g_tol = SLACK * half, group_room * half
    history, stuck = [], set()
    for _ in range(max_iter):
        T_gap = Wgb.sum(axis=0) / Wg.sum() - total
        over = np.where(movable, np.abs(T_gap) - t_tol, -np.inf)
        history.append(np.sum(np.maximum(over, 0.0)))
        if len(history) > stall and history[-1] > (1 - 0.02) * history[-1 - stall]:
            break  # a Total out of reach: its excess barely falls
        best = (0.0, None)
        for a in np.argsort(-over)[:int(np.sum(over > 0))]:  # the Totals outside, furthest first
            if a in stuck:
                continue
            best = _best_exchange(a, T_gap, Wg, Wgb, w, members, b_of, shares, movable, t_tol, g_tol, rng, candidates)
            if best[1] is not None:
                break
            stuck.add(a)  # no exchange helps this Total: left where it is
        if best[1] is None:
            break
        g, i, j, a, b, d = best[1]
        pi, pj = members[g][i], members[g][j]
        vals[pi], vals[pj] = vals[pj], vals[pi]
        b_of[g][i], b_of[g][j] = b, a
        Wgb[g, a] += d
        Wgb[g, b] -= d


def _best_exchange(a, T_gap, Wg, Wgb, w, members, b_of, shares, movable, t_tol, g_tol, rng, candidates):
    """(gain, (group, position in bin a, position in bin b, a, b, weight moved into a)) of the
    exchange of a member of bin ``a`` with one of another movable bin, in any group, that most
    reduces the squared excess over the bands (no group share leaving its band); (0, None)
    when none reduces it. Each bin offers at most ``candidates`` random members."""
    def f(x, tol):
        return np.maximum(np.abs(x) - tol, 0.0) ** 2 + 1e-3 * x**2

    best = (0.0, None)
    W = Wg.sum()
    for g in range(len(members)):
        in_a = np.flatnonzero(b_of[g] == a)
        others = [np.flatnonzero(b_of[g] == b) for b in np.flatnonzero(movable) if b != a]
        others = [o if len(o) <= candidates else rng.choice(o, candidates, replace=False) for o in others if len(o)]
        if len(in_a) == 0 or not others:
            continue
        if len(in_a) > candidates:
            in_a = rng.choice(in_a, candidates, replace=False)
        in_b = np.concatenate(others)
        b = b_of[g][in_b]  # each candidate partner's bin
        G_gap = Wgb[g] / Wg[g] - shares[g]
        d = w[members[g][in_b]][None, :] - w[members[g][in_a]][:, None]  # bin a gains d, bin b loses it
        ga, gb, tb = G_gap[a], G_gap[b][None, :], T_gap[b][None, :]
        before = f(ga, g_tol) + f(gb, g_tol) + f(T_gap[a], t_tol) + f(tb, t_tol)
        after = f(ga + d / Wg[g], g_tol) + f(gb - d / Wg[g], g_tol) + f(T_gap[a] + d / W, t_tol) + f(tb - d / W, t_tol)
        ok = (np.abs(ga + d / Wg[g]) <= max(g_tol, abs(ga))) & (np.abs(gb - d / Wg[g]) <= np.maximum(g_tol, np.abs(gb)))
        gain = np.where(ok, before - after, -np.inf)
        k = int(np.argmax(gain))
        if gain.flat[k] > best[0]:
            i, j = np.unravel_index(k, gain.shape)
            best = (float(gain.flat[k]), (g, in_a[i], in_b[j], a, int(b[j]), float(d[i, j])))
    return best


def _count_totals(vals, members, movers, lo, hi, movable, shares, total, half, rng, max_iter: int = 200,
                  group_room: float = 0.95) -> None:
    """Move non-respondents between movable bins (in place, ``vals``: a value drawn in the
    new bin) one at a time until every movable bin's share of all recruits with MI, pooled
    over the groups, lies inside ``SLACK`` of its rounding, each group's count staying
    inside ``group_room`` of its own rounding (or where it already was)."""
    G, B = len(members), len(lo)
    N = np.array([len(m) for m in members], float)
    n = np.array([np.bincount(_bin_of(vals[m], hi), minlength=B) for m in members], float)
    n_lo = np.minimum(np.ceil((shares - group_room * half) * N[:, None]), n)
    n_hi = np.maximum(np.floor((shares + group_room * half) * N[:, None]), n)
    t_tol = SLACK * half
    mover_bin = [_bin_of(vals[m], hi) for m in movers]
    stuck = set()
    for _ in range(max_iter):
        T_gap = n.sum(axis=0) / N.sum() - total
        over = np.where(movable, np.abs(T_gap) - t_tol, -np.inf)
        best = None
        for a in np.argsort(-over)[:int(np.sum(over > 0))]:  # the Totals outside, furthest first
            if a in stuck:
                continue
            step = 1.0 if T_gap[a] < 0 else -1.0  # bin a gains (or loses) one person
            for g in range(G):
                for b in np.flatnonzero(movable):
                    if b == a or not (n_lo[g, a] <= n[g, a] + step <= n_hi[g, a]) or not (n_lo[g, b] <= n[g, b] - step <= n_hi[g, b]):
                        continue
                    cand = np.flatnonzero(mover_bin[g] == (a if step < 0 else b))
                    if len(cand) == 0:
                        continue
                    # the partner bin whose own Total gains most from the move
                    score = abs(T_gap[b] - step / N.sum()) - abs(T_gap[b])
                    if best is None or score < best[0]:
                        best = (score, a, step, g, b, cand)
            if best is not None:
                break
            stuck.add(a)  # no group can give or take one more here
        if best is None:
            break
        _, a, step, g, b, cand = best
        dst = b if step < 0 else a
        src = a if step < 0 else b
        k = rng.choice(cand)
        vals[movers[g][k]] = rng.integers(int(lo[dst]), int(hi[dst]) + 1)
        mover_bin[g][k] = dst
        n[g, src] -= 1
        n[g, dst] += 1
