"""Stage 1 of the generator: the randomised population and its baseline characteristics.

One row per recruit of a trial group: arm (exact 50/50 counts of Table 4-1, as the trial's
randomisation tool enforced), area, cohort and randomisation date, demographics,
qualification, health condition, work history (Tables 4-2..4-4, §3.3.1), and the baseline
measures (EQ5D5L, EQ-VAS, SWEMWBS, ONS1, looking for work, job-search self-efficacy,
barriers). In ``exact`` mode category counts are apportioned so that every printed share is
reproduced to its rounding; in ``sampled`` mode they are drawn.

Where a printed population value leaves room (0.39 is anything in [0.385, 0.395)), exact mode
places the value at the side of its rounding interval nearest the *weighted respondent* value
printed beside it (Tables 4-2..4-4, "4-month sample, weighted"): the report's weighted columns
sit up to 0.02 from its population column, and every bit of that distance covered here is
distance the response stage (:mod:`data_synth.weighted_sample`) does not have to create.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from hlt_replicate import vocab

from .apportion import apportion, count_bounds, count_for_share, fill_within, rounding_interval
from .targets import Targets

#: first and last month (inclusive) of each printed cohort; April 2019, missing from the
#: report's labels, is folded into the January-March cohort.
COHORT_MONTHS = {
    "May 2018-Jun 2018": ((2018, 5), (2018, 6)),
    "Jul 2018-Sep 2018": ((2018, 7), (2018, 9)),
    "Oct 2018-Dec 2018": ((2018, 10), (2018, 12)),
    "Jan 2019-Mar 2019": ((2019, 1), (2019, 4)),
    "May 2019-Jun 2019": ((2019, 5), (2019, 6)),
    "Jul 2019-Sep 2019": ((2019, 7), (2019, 9)),
    "Oct 2019-Dec 2019": ((2019, 10), (2019, 12)),
}
WORK_HISTORY_SCORE = {"never": -1.0, "under_half": -0.33, "over_half": 0.33, "always": 1.0}
AGE_BOUNDS = (18, 64)
#: SCR OOW's age row (0.30 +/- 0.01 at p = 0.56) implies SD(age) x sqrt(deff) of 11.3-11.9.
#: Drawn with 11.4 and clipped to AGE_BOUNDS, the ages have SD 10.9-11.1 (seeds 0, 2), and the
#: kit's weights a design effect of about 1.08 in SCR OOW: 11.3-11.6. With 11.0, seed 2's SCR
#: OOW had no state meeting both its age difference and its p-value once the weights pooled
#: the first intake period (hlt_replicate.weighting.RESPONSE_POOLED_LEVELS).
AGE_SD = 11.4


#: how far inside its rounding interval an aimed population value stays (share of the half-interval)
AIM_INSET = 0.1


def aim(printed: float, toward: float | None, decimals: int = 2) -> float:
    """The value inside ``printed``'s rounding interval nearest ``toward`` (kept ``AIM_INSET``
    of the half-interval from its edges); ``printed`` itself when ``toward`` is None."""
    if toward is None:
        return printed
    lo, hi = rounding_interval(printed, decimals)
    inset = AIM_INSET * (hi - lo) / 2
    return float(np.clip(toward, lo + inset, hi - inset))


def _categorical(n: int, shares: dict[str, float], exact: bool, rng: np.random.Generator, name: str,
                 toward: dict[str, float | None] | None = None) -> np.ndarray:
    levels = list(shares)
    if exact and toward:
        printed = [shares[lv] for lv in levels]
        apportion(n, printed, decimals=2, name=name)  # a clear error when no whole counts print as published
        lo, hi = count_bounds(n, printed, 2)
        hi = np.where(np.asarray(printed) == 0, 0, hi)  # 0.00: a level absent from the group (another site's areas)
        ideal = [aim(shares[lv], toward.get(lv)) * n for lv in levels]
        counts = fill_within(n, ideal, lo, hi, name=name)
    elif exact:
        counts = apportion(n, [shares[lv] for lv in levels], decimals=2, name=name)
    else:
        p = np.array([shares[lv] for lv in levels], dtype=float)
        counts = rng.multinomial(n, p / p.sum())
    values = np.repeat(np.array(levels, dtype=object), counts)
    return rng.permutation(values)


def _binary(n: int, share: float, exact: bool, rng: np.random.Generator, name: str, score: np.ndarray | None = None,
            toward: float | None = None) -> np.ndarray:
    if exact and toward is not None:
        count_for_share(n, share, 2, name=name)  # a clear error when no whole count prints as published
        lo, hi = count_bounds(n, [share], 2)
        k = int(np.clip(round(aim(share, toward) * n), lo[0], hi[0]))
    else:
        k = count_for_share(n, share, 2, name=name) if exact else rng.binomial(n, share)
    out = np.zeros(n)
    if score is None:
        out[rng.choice(n, k, replace=False)] = 1
    else:  # the k highest of a noisy score: keeps the count exact and the association
        out[np.argsort(-(score + rng.gumbel(size=n)))[:k]] = 1
    return out


def _ages(n: int, mean: float, exact: bool, rng: np.random.Generator) -> np.ndarray:
    lo, hi = AGE_BOUNDS
    age = np.clip(np.round(rng.normal(mean, AGE_SD, n)), lo, hi)
    if not exact:
        return age
    target = int(round(mean * n))
    for _ in range(100):
        gap = int(target - age.sum())
        if gap == 0:
            break
        room = np.flatnonzero(age < hi) if gap > 0 else np.flatnonzero(age > lo)
        pick = rng.choice(room, min(abs(gap), len(room)), replace=False)
        age[pick] += np.sign(gap)
    return age


def _dates(cohorts: np.ndarray, intake: tuple[str, str], rng: np.random.Generator) -> np.ndarray:
    start, end = (dt.date.fromisoformat(s) for s in intake)
    out = np.empty(len(cohorts), dtype="datetime64[D]")
    for label, ((y0, m0), (y1, m1)) in COHORT_MONTHS.items():
        idx = np.flatnonzero(cohorts == label)
        if len(idx) == 0:
            continue
        first = max(dt.date(y0, m0, 1), start)
        last_month_end = (dt.date(y1 + (m1 == 12), m1 % 12 + 1, 1) - dt.timedelta(days=1))
        last = min(last_month_end, end)
        span = (last - first).days + 1
        out[idx] = np.datetime64(first) + rng.integers(0, span, len(idx)).astype("timedelta64[D]")
    return out


def per_level(values: pd.Series, f) -> np.ndarray:
    """``f`` of each value of a categorical column, evaluated once per level (string
    methods on a million rows cost seconds at ``--scale 100``)."""
    codes, levels = pd.factorize(values)
    return np.array([f(lv) for lv in levels])[codes]


def _standardise(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std()


def _scaled_measure(z: np.ndarray, mean: float, sd: float, bounds, exact: bool) -> np.ndarray:
    """Map a standardised score to the measure's scale; in exact mode iterate the shift so
    the mean survives clipping to the bounds."""
    lo, hi = bounds if bounds else (-np.inf, np.inf)
    x = np.clip(mean + sd * z, lo, hi)
    if exact:
        for _ in range(50):
            gap = mean - x.mean()
            if abs(gap) < 1e-6:
                break
            x = np.clip(x + gap, lo, hi)
    return x


def draw_group(t: Targets, group: str, rng: np.random.Generator, exact: bool) -> pd.DataFrame:
    """Draw the randomised population of one trial group (before response and outcomes)."""
    n_t, n_c = t.randomised(group)[1], t.randomised(group)[0]
    n = n_t + n_c
    df = pd.DataFrame(index=pd.RangeIndex(n))
    df[vocab.SITE] = vocab.SITE_OF_GROUP[group]
    df[vocab.GROUP] = group
    df[vocab.TREAT] = rng.permutation(np.r_[np.ones(n_t, int), np.zeros(n_c, int)])
    for block in ("area", "cohort", "qual", "health", "work_history"):
        shares = t.categorical_shares(group, block)
        toward = None if block == "work_history" else {lv: t.sample_value(group, f"{block}={lv}") for lv in shares}
        df[block] = _categorical(n, shares, exact, rng, f"{group} {block}", toward)
    df[vocab.RAND_DATE] = _dates(df[vocab.COHORT].to_numpy(), t.intake, rng)
    age = t.population_value(group, "age")
    df["age"] = _ages(n, aim(age, t.sample_value(group, "age")) if exact else age, exact, rng)
    wh = df["work_history"].map(WORK_HISTORY_SCORE).to_numpy(float)
    for var in vocab.BINARY_BASELINE:
        df[var] = _binary(n, t.population_value(group, var), exact, rng, f"{group} {var}", toward=t.sample_value(group, var))

    # Latent factors: u = health (higher is better), v = labour-market attachment.
    mh = per_level(df["health"], lambda lv: "MH" in lv)
    msk = per_level(df["health"], lambda lv: "MSK" in lv)
    n_cond = per_level(df["health"], lambda lv: lv.count("_")) + 1
    u = rng.normal(size=n) - 0.25 * (n_cond - 2)
    v = 0.8 * wh + rng.normal(0, 0.6, n) - 0.01 * (df["age"].to_numpy() - 40)
    u, v = _standardise(u), _standardise(v)
    noise = lambda: rng.normal(size=n)  # noqa: E731
    scores = {
        "bl_eq5d": 0.75 * u - 0.25 * msk + 0.6 * noise(),
        "bl_eqvas": 0.65 * u + 0.75 * noise(),
        "bl_swemwbs": 0.5 * u - 0.3 * mh + 0.2 * v + 0.8 * noise(),
        "bl_lifesat": 0.45 * u + 0.25 * v + 0.8 * noise(),
        "bl_jsse": 0.2 * u + 0.5 * v + 0.8 * noise(),
    }
    for name, score in scores.items():
        spec = t.measure(name, group)
        df[name] = _scaled_measure(_standardise(score), spec["mean"], spec["sd"], spec["bounds"], exact)
    look = t.measure("bl_looking", group)
    df["bl_looking"] = _binary(n, look["mean"], exact, rng, f"{group} bl_looking", score=-0.8 * v if group == "SCR_IW" else 0.5 * v)
    bar = t.measure("bl_barriers", group)
    p_bar = 1 / (1 + np.exp(-(np.log(bar["mean"] / (10 - bar["mean"])) - 0.35 * u - 0.3 * v)))
    df["bl_barriers"] = rng.binomial(10, p_bar).astype(float)
    df["_u"], df["_v"], df["_wh"] = u, v, wh
    return df
