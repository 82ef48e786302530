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


def draw_ips(df: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator, exact: bool) -> pd.DataFrame:
    """Add ``ips_sessions``, ``weeks_to_first_session`` and ``participated`` to one group."""
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
        w[tr_idx] if weighted else None, c_resp, spec["resp"], t.raw["ips_sessions"].get("decimals", 1), bounds, rng)
    out.loc[out.index[ts_idx], vocab.SESSIONS] = _values_in_bins(c_non, bounds, rng, rng.permutation(len(ts_idx)))
    if exact and "mean" in spec:  # respondents' mean sessions (Table 4-6, "Mean" row)
        _fit_mean(out, tr_idx, spec["mean"]["resp"], bounds, rng, w[tr_idx] if weighted else None)
    sess = out[vocab.SESSIONS].to_numpy()
    out[vocab.PARTICIPATED] = (np.nan_to_num(sess, nan=0) >= 1).astype(int)
    if fs is not None:
        _first_session(out, t, group, rng, exact)
    return out


def _respondent_values(w, counts, printed_pct, decimals: int, bounds, rng):
    """Values for the respondents with MI: ``counts`` per bin; with weights ``w`` (exact
    mode) placed by :func:`_weighted_partition` so the weighted shares print as
    ``printed_pct`` at ``decimals`` (module docstring), else at random."""
    if w is None:
        return _values_in_bins(counts, bounds, rng, rng.permutation(int(np.sum(counts))))
    share = np.asarray(printed_pct, float) / 100
    d = decimals
    b_of = _weighted_partition(w, counts, share, np.full(len(share), 0.5 * 10.0**-d / 100 * SLACK), rng)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return rng.integers(lo[b_of], hi[b_of] + 1).astype(float)


def _fit_mean(out, idx, target, bounds, rng, w=None):
    """Move sessions within their bins until the respondents' mean (weighted by ``w`` when
    given) prints as ``target``."""
    col = out.columns.get_loc(vocab.SESSIONS)
    vals = out.iloc[idx, col].to_numpy(copy=True)
    w = np.ones(len(vals)) if w is None else np.asarray(w, float)
    lo_b = np.array([lo for lo, _ in bounds])
    hi_b = np.array([hi for _, hi in bounds])
    bin_of = np.searchsorted(hi_b, vals)
    W = w.sum()
    for _ in range(20 * len(vals)):
        gap = target * W - w @ vals  # weighted total still to move
        if abs(gap) <= 0.04 * W:
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
