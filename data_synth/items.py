"""Baseline item non-response: the "Base" ranges under Tables 4-2..4-4.

The report prints, under each baseline table, the lowest and highest unweighted number of
observations across its rows, per column ("The number of observations varies across
variables due to missing values"). The highest is every recruit or respondent (Table 4-1);
the lowest, in the kit's reading (targets file, ``baseline_characteristics``), is the
highest qualification, which chapter 3's item bases show as the one item with sizeable
non-response. :meth:`~data_synth.targets.Targets.item_missing` turns the ranges into missing
counts per arm x response cell.

This stage runs after response is drawn. It keeps each recruit's true value (the response
model and outcomes were drawn from it: ground truth) and blanks the recorded one, at random
within each group x arm x response cell: the exact counts in ``exact`` mode, a Bernoulli draw
at the cell's rate in ``sampled`` mode. In exact mode the draw is repeated until the
population column's shares among the recorded values still print as published. The later
calibration stages leave these recruits where they are (they never swap response or arm),
so the counts hold to the end; every estimator keeps them by the missing-indicator method
(:func:`hlt_replicate.impact.build_design`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hlt_replicate import vocab

from .errors import TargetError
from .targets import Targets

#: hidden column with the true value of the characteristic blanked (dropped from the output)
TRUE_PREFIX = "_true_"
TRIES = 200


def draw_item_missing(grp: pd.DataFrame, t: Targets, group: str, rng: np.random.Generator, exact: bool) -> pd.DataFrame:
    """Blank the recorded value of the targets' item-non-response characteristic for some
    recruits of one group (module docstring); unchanged when the targets give no base."""
    spec = t.item_missing(group)
    if spec is None:
        return grp
    var, cells = spec
    grp = grp.copy()
    grp[TRUE_PREFIX + var] = grp[var]
    T = grp[vocab.TREAT].to_numpy()
    R = grp[vocab.RESPONDED].to_numpy()
    members = {cell: np.flatnonzero((T == cell[0]) & (R == cell[1])) for cell in cells}
    resp = t.respondents(group)
    size = {(a, r): resp[a] if r else t.randomised(group)[a] - resp[a] for a, r in cells}  # the targets' cell sizes
    for cell, k in cells.items():
        if k > len(members[cell]):
            raise TargetError(f"targets: {k} missing values of {var!r} asked for among the {len(members[cell])} recruits of "
                              f"{group} arm {cell[0]} with responded = {cell[1]}")
    values = grp[var].to_numpy()
    shares = {lv: t.population_value(group, f"{var}={lv}") for lv in vocab.CATEGORICAL_BASELINE[var]}
    for _ in range(TRIES if exact else 1):
        if exact:
            miss = np.concatenate([rng.choice(members[cell], k, replace=False) for cell, k in cells.items()])
        else:
            miss = np.concatenate([members[c][rng.random(len(members[c])) < k / max(size[c], 1)] for c, k in cells.items()])
        kept = np.delete(values, miss)
        if not exact or all(v is None or abs(np.mean(kept == lv) - v) < 0.005 - 1e-12 for lv, v in shares.items()):
            break
    else:
        raise TargetError(f"{group}: no draw of {len(miss)} missing values of {var!r} keeps its population shares "
                          f"printing as published ({shares}) in {TRIES} tries")
    col = grp[var].to_numpy(dtype=object, copy=True)
    col[miss] = np.nan
    grp[var] = col
    return grp
