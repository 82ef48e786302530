"""Stage 2: who answers the 4-month survey.

Response follows a logistic model on baseline characteristics — older, female, better
qualified, more work-attached and healthier recruits answer more often — with an
arm-specific intercept, so the treatment arm answers more (Table 4-1). The intercepts are
solved so the expected number of respondents in each group x arm equals the target. In
``exact`` mode the realised number is then made exact by dropping or adding the cases the
model finds least/most likely to respond (a conditional-Bernoulli draw), so response stays
driven by covariates while Table 4-1 holds to the person.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

from hlt_replicate import vocab

from .items import TRUE_PREFIX

#: Log-odds effects of the true response model (ground truth, saved in truth.json).
RESPONSE_EFFECTS = {
    "age_per_10y": 0.25,
    "female": 0.20,
    "qual=post_a_level": 0.30,
    "qual=a_level": 0.15,
    "qual=below_gcse": -0.20,
    "work_history_score": 0.25,
    "health_factor": 0.20,
    "nonwhite": -0.15,
}


def linear_index(df: pd.DataFrame) -> np.ndarray:
    e = RESPONSE_EFFECTS
    q = df.get(TRUE_PREFIX + "qual", df["qual"]).to_numpy()  # the true value where the recorded one is missing
    return (
        e["age_per_10y"] * (df["age"].to_numpy() - 40) / 10
        + e["female"] * df["female"].to_numpy()
        + e["qual=post_a_level"] * (q == "post_a_level")
        + e["qual=a_level"] * (q == "a_level")
        + e["qual=below_gcse"] * (q == "below_gcse")
        + e["work_history_score"] * df["_wh"].to_numpy()
        + e["health_factor"] * df["_u"].to_numpy()
        + e["nonwhite"] * df["nonwhite"].to_numpy()
    )


def _intercept(eta: np.ndarray, expected: float) -> float:
    if expected <= 0:
        return -np.inf
    if expected >= len(eta):
        return np.inf
    f = lambda a: (1 / (1 + np.exp(-(a + eta)))).sum() - expected  # noqa: E731
    return optimize.brentq(f, -30, 30)


def draw_response(df: pd.DataFrame, respondents: dict[int, int], rng: np.random.Generator, exact: bool) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return (responded 0/1, true response probability, intercepts by arm) for one group."""
    eta = linear_index(df)
    treat = df[vocab.TREAT].to_numpy()
    p = np.empty(len(df))
    r = np.zeros(len(df))
    intercepts = {}
    for arm, target in respondents.items():
        idx = np.flatnonzero(treat == arm)
        a = _intercept(eta[idx], target)
        intercepts[arm] = a
        p[idx] = 1 / (1 + np.exp(-(a + eta[idx]))) if np.isfinite(a) else float(a > 0)
        draw = rng.random(len(idx)) < p[idx]
        if exact:
            gap = target - int(draw.sum())
            if gap > 0:  # add the non-drawn most likely to respond (with noise)
                pool = np.flatnonzero(~draw)
                key = rng.random(len(pool)) ** (1 / p[idx][pool])
                draw[pool[np.argsort(-key)[:gap]]] = True
            elif gap < 0:  # drop the drawn least likely to respond
                pool = np.flatnonzero(draw)
                key = rng.random(len(pool)) ** (1 / (1 - p[idx][pool] + 1e-12))
                draw[pool[np.argsort(-key)[:-gap]]] = False
        r[idx] = draw
    return r, p, intercepts
