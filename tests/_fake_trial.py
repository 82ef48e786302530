"""A small random trial with the columns of ``data_synth`` (one row per recruit).

Test fixture only: the numbers mean nothing, but every column, dtype and category of
:mod:`hlt_replicate.vocab` is present, non-respondents have missing outcomes, treatment
raises response and a few outcomes, and participation is 0 in the control arm. Tests and the
benchmark script import :func:`make_fake_trial` until the synthetic data lands.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hlt_replicate import vocab

#: Areas of each site, in vocab order.
_AREAS_OF_SITE = {s: [a for a in vocab.AREAS if vocab.SITE_OF_AREA[a] == s] for s in ("SCR", "WMCA")}


def make_fake_trial(
    n: int = 1200,
    seed: int = 0,
    groups: tuple[str, ...] = vocab.GROUPS,
    effect: float = 0.25,
    response_gap: float = 0.3,
) -> pd.DataFrame:
    """A random trial of ``n`` recruits spread evenly over ``groups``.

    ``effect`` is the treatment effect in outcome-SD units on the continuous outcomes (and a
    log-odds shift on the binary ones); ``response_gap`` is the log-odds shift of responding
    in the treatment arm. Randomisation is 50/50 within group (complete, as in Table 4-1).
    """
    rng = np.random.default_rng(seed)
    group = np.array([groups[i % len(groups)] for i in range(n)], dtype=object)
    rng.shuffle(group)
    site = np.array([vocab.SITE_OF_GROUP[g] for g in group], dtype=object)
    treat = np.zeros(n, dtype=int)
    for g in groups:
        idx = np.flatnonzero(group == g)
        treat[rng.choice(idx, size=len(idx) // 2 + rng.integers(0, 2) * (len(idx) % 2), replace=False)] = 1
    area = np.empty(n, dtype=object)
    for s_, areas in _AREAS_OF_SITE.items():
        idx = np.flatnonzero(site == s_)
        area[idx] = rng.choice(areas, size=len(idx))
    cohort = rng.choice(vocab.COHORTS, size=n)
    age = np.round(rng.uniform(18, 64, n), 1)
    female = rng.binomial(1, 0.5, n)
    nonwhite = rng.binomial(1, np.where(site == "WMCA", 0.35, 0.12))
    partner = rng.binomial(1, 0.35, n)
    dep_children = rng.binomial(1, 0.25, n)
    qual = rng.choice(vocab.QUAL_LEVELS, size=n)
    health = rng.choice(vocab.HEALTH_LEVELS, size=n, p=[0.12, 0.08, 0.1, 0.08, 0.25, 0.12, 0.25])
    work_history = np.where(
        group == "SCR_IW",
        rng.choice(["over_half", "always"], size=n),
        rng.choice(vocab.WORK_HISTORY_LEVELS, size=n, p=[0.3, 0.3, 0.25, 0.15]),
    )
    z = rng.normal(size=n)  # latent health, drives baseline and outcomes
    bl_eq5d = np.clip(0.6 + 0.2 * z + rng.normal(0, 0.1, n), -0.285, 1.0)
    bl_eqvas = np.clip(np.round(55 + 18 * z + rng.normal(0, 8, n)), 0, 100)
    bl_swemwbs = np.clip(20 + 4 * z + rng.normal(0, 2, n), 7, 35)
    bl_lifesat = np.clip(np.round(5 + 1.5 * z + rng.normal(0, 1, n)), 0, 10)
    bl_looking = rng.binomial(1, np.where(group == "SCR_IW", 0.3, 0.7))
    bl_jsse = np.clip(3 + 0.4 * z + rng.normal(0, 0.4, n), 1, 5)
    bl_barriers = rng.poisson(3, n).astype(float)
    bl_eqvas[rng.random(n) < 0.02] = np.nan

    lp = -0.1 + response_gap * treat + 0.3 * (age - 40) / 12 + 0.2 * female - 0.2 * nonwhite
    responded = rng.binomial(1, 1 / (1 + np.exp(-lp)))

    def cont(base, sd, lo, hi, extra=0.0):
        return np.clip(base + sd * (0.6 * z + effect * treat + extra) + sd * 0.8 * rng.normal(size=n), lo, hi)

    def binary(p0, extra=0.0):
        lo = np.log(p0 / (1 - p0)) + 0.5 * z + effect * treat + extra
        return rng.binomial(1, 1 / (1 + np.exp(-lo))).astype(float)

    working = (group == "SCR_IW").astype(float) * 2.5
    out = {
        "paid_work": binary(0.2, working),
        "eq5d": cont(0.6, 0.2, -0.285, 1.0),
        "swemwbs": cont(21, 4.5, 7, 35),
        "work16": binary(0.12, working),
        "weeks_work": np.round(cont(3, 4, 0, 16, working)),
        "weeks_work16": np.round(cont(2, 3.5, 0, 16, working)),
        "work16_cont": binary(0.15, working),
        "jsse": cont(3.1, 0.8, 1, 5),
        "msk": binary(0.28, -0.5 * effect * treat),
        "dda": binary(0.29),
        "lifesat": np.round(cont(4.9, 2.3, 0, 10)),
        "gse": np.round(cont(27, 5, 10, 40)),
    }
    df = pd.DataFrame(
        {
            vocab.ID: np.arange(1, n + 1),
            vocab.SITE: site,
            vocab.GROUP: group,
            vocab.AREA: area,
            vocab.COHORT: cohort,
            vocab.RAND_DATE: pd.Timestamp("2018-05-08") + pd.to_timedelta(rng.integers(0, 540, n), unit="D"),
            vocab.TREAT: treat,
            "age": age,
            "female": female,
            "nonwhite": nonwhite,
            "partner": partner,
            "dep_children": dep_children,
            "qual": qual,
            "health": health,
            "work_history": work_history,
            "bl_eq5d": bl_eq5d,
            "bl_eqvas": bl_eqvas,
            "bl_swemwbs": bl_swemwbs,
            "bl_lifesat": bl_lifesat,
            "bl_looking": bl_looking,
            "bl_jsse": bl_jsse,
            "bl_barriers": bl_barriers,
            vocab.RESPONDED: responded,
        }
    )
    for name, values in out.items():
        v = values.astype(float)
        v[responded == 0] = np.nan
        v[rng.random(n) < 0.02] = np.nan  # item non-response
        df[name] = v
    participated = np.where(treat == 1, rng.binomial(1, np.where(site == "WMCA", 0.99, 0.9)), 0)
    sessions = np.where(participated == 1, 1 + rng.poisson(7, n), 0).astype(float)
    sessions[treat == 0] = np.nan
    weeks = np.where(participated == 1, 1 + rng.poisson(2, n), np.nan).astype(float)
    df[vocab.SESSIONS] = sessions
    df[vocab.WEEKS_TO_FIRST] = weeks
    df[vocab.PARTICIPATED] = participated
    df[vocab.SUSTAINED_EMP_12M] = binary(0.2, working).astype(int)
    return df
