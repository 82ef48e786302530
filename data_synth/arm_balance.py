"""Exact mode: reproduce the treatment-control differences of Tables 4-2..4-4.

The "(Control), weighted" and "(Treatment), weighted" columns are survey-weighted means of
baseline characteristics among respondents, by arm. Weighting brings the respondents close
to the randomised population, so the *difference* between the columns records mostly the
chance imbalance of the randomisation itself (SCR IW: the treatment arm 0.9 years older,
with fewer A-level holders), and it drives the balance tests' p-values.

The generator reproduces each printed difference (treatment minus control, which the two
rounded columns pin to within +/-0.01) the way chance would have produced it: it swaps arm
labels between pairs of respondents, which leaves every count of Table 4-1 and every
full-population share unchanged, choosing the swaps that move the weighted arm differences
toward their targets; the weights are re-estimated with the kit's own
:func:`hlt_replicate.weighting.ipw_weights` between rounds.

The *levels* of the weighted columns are not targets: with weights from a logit on these
same characteristics, the weighted sample reproduces the full population to within
rounding, whereas the report's weighted columns differ from its own population column by
up to 0.02 (its weighting model is not published) — see the calibration report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hlt_replicate import vocab
from hlt_replicate.weighting import ipw_weights

from .targets import Targets

SLACK = 0.6  # aim inside 60 % of each rounding interval
DIFF_TOL = 0.01  # two columns rounded to 2 decimals pin their difference to +/-0.01


def _columns(grp: pd.DataFrame, t: Targets, group: str):
    """Indicator/continuous columns with their control and treatment targets."""
    cols, tc, tt, names = [], [], [], []
    for key, row in t.baseline_rows(group).items():
        vals = row["values"]
        if vals[2] is None and vals[3] is None:
            continue
        if "=" in key:
            var, level = key.split("=", 1)
            x = (grp[var] == level).to_numpy(float)
        else:
            x = grp[key].to_numpy(float)
        cols.append(x)
        tc.append(np.nan if vals[2] is None else vals[2])
        tt.append(np.nan if vals[3] is None else vals[3])
        names.append(key)
    return np.column_stack(cols), np.array(tc), np.array(tt), names


def calibrate_arm_balance(grp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator,
                          rounds: int = 40, swaps_per_round: int = 12, pool: int = 250) -> pd.DataFrame:
    """Swap arm labels within response status until the weighted arm means print as published."""
    grp = grp.copy()
    M, tc, tt, names = _columns(grp, t, group)
    td = tt - tc
    tol = DIFF_TOL * SLACK
    resp = grp[vocab.RESPONDED].to_numpy() == 1
    treat = grp[vocab.TREAT].to_numpy().copy()
    for _ in range(rounds):
        grp[vocab.TREAT] = treat
        w = ipw_weights(grp).to_numpy()
        wr = np.where(resp, w, 0.0)
        Wc, Wt = wr[treat == 0].sum(), wr[treat == 1].sum()
        mc = (wr * (treat == 0)) @ M / Wc
        mt = (wr * (treat == 1)) @ M / Wt
        gd = np.nan_to_num(td - (mt - mc))
        if np.abs(gd).max() <= tol:
            break
        # candidate swaps among respondents: treated i <-> control j; each swap is chosen
        # given the gaps left by the previous ones (weights held fixed within a round)
        ti = np.flatnonzero(resp & (treat == 1))
        cj = np.flatnonzero(resp & (treat == 0))
        ti = rng.choice(ti, min(pool, len(ti)), replace=False)
        cj = rng.choice(cj, min(pool, len(cj)), replace=False)
        wx_i, wx_j = wr[ti][:, None] * M[ti], wr[cj][:, None] * M[cj]
        # change in (treatment - control) when i moves to control and j to treatment
        delta = (wx_j[None, :, :] - wx_i[:, None, :]) * (1 / Wt + 1 / Wc)
        scale = np.where(np.isnan(td), 0.0, 1.0) / tol
        done = 0
        free_i = np.ones(len(ti), bool)
        free_j = np.ones(len(cj), bool)
        for _ in range(swaps_per_round):
            before = np.sum((gd * scale) ** 2)
            after = np.sum(((gd - delta) * scale) ** 2, axis=2)
            after[~free_i, :] = np.inf
            after[:, ~free_j] = np.inf
            a, b = np.unravel_index(int(np.argmin(after)), after.shape)
            if after[a, b] >= before:
                break
            treat[ti[a]], treat[cj[b]] = 0, 1
            gd = gd - delta[a, b]
            free_i[a] = free_j[b] = False
            done += 1
        if done == 0:
            break
    grp[vocab.TREAT] = treat
    return grp
