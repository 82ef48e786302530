"""Charts in the style of the 4-month report's figures (matplotlib, no global state).

* :func:`impact_chart` — a primary-outcome figure (Figures 4-2..4-4, 4-9..4-11, 4-16..4-18,
  4-23..4-25, 4-30..4-32): raw control and treatment means as bars, with the estimated
  impact and its significance "shown in a box above" (§4.3);
* :func:`forest_plot` — a subgroup figure (Figures 4-5..4-8 and siblings): the impact
  within each subgroup with its 95 % confidence interval, grouped by dimension, with the
  interaction test's p-value per dimension;
* :func:`love_plot` — absolute standardised differences before and after weighting.

Every function builds a fresh :class:`matplotlib.figure.Figure` (not through ``pyplot``,
so nothing accumulates in a global figure list) unless an ``ax`` is passed, and returns the
figure; Jupyter displays a returned figure.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import vocab
from ._checks import InputError, require_columns
from .impact import ImpactResult, SubgroupResult, significance_stars

CONTROL_COLOUR = "#9fb7cf"
TREATMENT_COLOUR = "#1f4e79"


def _axes(ax: Axes | None, figsize: tuple[float, float], layout: str | None = "constrained") -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.add_subplot()


def _ylabels(ax: Axes, ys, labels, fontsize: float, bold: set[int] = frozenset()) -> None:
    """Row labels as plain text left of the axes instead of tick labels (a matplotlib tick is
    five artists; forty of them dominate the drawing time of a forest or love plot)."""
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transAxes, ax.transData)
    for i, (yy, lab) in enumerate(zip(ys, labels)):
        ax.text(-0.02, yy, lab, transform=trans, ha="right", va="center", fontsize=fontsize,
                fontweight="bold" if i in bold else "normal")
    ax.set_yticks([])


def _margins(fig: Figure, labels, fontsize: float, *, top: float = 0.45, bottom: float = 0.55, right: float = 0.25) -> None:
    """Fixed margins (inches) sized from the longest y label: a fast stand-in for constrained
    layout, which measures every label and costs ~0.1 s on a 40-label chart."""
    w, h = fig.get_size_inches()
    left = 0.15 + 0.56 * fontsize / 72 * max((len(str(lab)) for lab in labels), default=4)
    fig.subplots_adjust(left=min(left / w, 0.7), right=1 - right / w, top=1 - top / h, bottom=bottom / h)


def _impact_numbers(result, binary_scale: str, stars) -> dict:
    """Means, impact, effect size, stars and label from an ImpactResult or a table row."""
    if isinstance(result, ImpactResult):
        scale = 100.0 if result.binary and binary_scale == "ppt" else 1.0
        meta = vocab.OUTCOMES.get(result.outcome)
        return dict(
            label=meta.label if meta else result.outcome, group=result.group, binary=result.binary,
            control=result.control_mean * scale, treatment=result.treatment_mean * scale,
            impact=result.impact * scale, effect_size=None if result.binary else result.effect_size,
            stars=significance_stars(result.p, stars), unit="ppt" if scale == 100 else "",
            base=result.nobs,
        )
    if isinstance(result, pd.Series | Mapping):
        r = dict(result)
        missing = [k for k in ("control", "treatment", "impact", "binary") if k not in r]
        if missing:
            raise InputError(f"result row is missing {missing}; pass an ImpactResult or a row of impact_table()")
        st = r.get("stars")
        if st is None:
            st = significance_stars(r.get("p_adj", r.get("p", np.nan)), stars)
        es = r.get("effect_size")
        return dict(
            label=r.get("label", r.get("outcome", "")), group=r.get("group"), binary=bool(r["binary"]),
            control=float(r["control"]), treatment=float(r["treatment"]), impact=float(r["impact"]),
            effect_size=None if r["binary"] or es is None or pd.isna(es) else float(es), stars=st,
            unit="ppt" if r.get("unit") == "ppt" else "", base=r.get("base"),
        )
    raise InputError(f"result must be an ImpactResult or a row of impact_table(), got {type(result).__name__}")


def impact_chart(
    result: ImpactResult | pd.Series | Mapping,
    *,
    binary_scale: str = "ppt",
    stars: str | tuple = "section_4_3",
    title: str | None = None,
    decimals: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A primary-outcome figure: bars of the raw control and treatment means with the impact
    (ppt for binary outcomes; units and SDs for continuous ones) and its stars in a box
    above. ``result`` is an :class:`~hlt_replicate.impact.ImpactResult` (stars from its
    unadjusted p) or a row of :func:`~hlt_replicate.impact.impact_table` (its ``stars``,
    i.e. from the adjusted p)."""
    v = _impact_numbers(result, binary_scale, stars)
    if decimals is None:
        decimals = 1 if v["unit"] == "ppt" else 2
    own = ax is None
    fig, ax = _axes(ax, (4.2, 3.6), layout=None)
    if own:
        fig.subplots_adjust(left=0.17, right=0.97, top=0.9, bottom=0.14)
    vals = [v["control"], v["treatment"]]
    bars = ax.bar(["Control", "Treatment"], vals, color=[CONTROL_COLOUR, TREATMENT_COLOUR], width=0.6)
    suffix = "%" if v["unit"] == "ppt" else ""
    for b, val in zip(bars, vals):
        ax.annotate(f"{val:.{decimals}f}{suffix}", (b.get_x() + b.get_width() / 2, val), xytext=(0, 3),
                    textcoords="offset points", ha="center", va="bottom", fontsize=9)
    top = max(max(vals), 0)
    lo = min(min(vals), 0)
    ax.set_ylim(lo, top + (top - lo) * 0.45 if top > lo else 1)
    if v["unit"] == "ppt":
        text = f"Impact: {v['impact']:+.{decimals}f} ppt{v['stars']}"
    else:
        es = "" if v["effect_size"] is None else f" ({v['effect_size']:+.2f} sd)"
        text = f"Impact: {v['impact']:+.{decimals}f}{es}{v['stars']}"
    ax.text(0.5, 0.93, text, transform=ax.transAxes, ha="center", va="top", fontsize=10,
            bbox=dict(boxstyle="round,pad=0.4", facecolor="white", edgecolor="0.3"))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylabel(v["label"] + (" (%)" if v["unit"] == "ppt" else ""))
    group = vocab.GROUP_LABELS.get(v["group"], v["group"]) if v["group"] else None
    ax.set_title(title if title is not None else f"{v['label']}" + (f" — {group}" if group else ""), fontsize=10)
    if v.get("base") is not None:
        ax.text(1.0, -0.12, f"Base: {int(v['base']):,}", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.4")
    return fig


def forest_plot(
    subgroups: pd.DataFrame | SubgroupResult | list,
    *,
    title: str | None = None,
    overall: ImpactResult | tuple[float, float, float] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """A subgroup figure: each subgroup's impact with its 95 % CI, grouped by dimension,
    the interaction p-value beside each dimension's heading, a line at zero, and optionally
    the overall impact (an ImpactResult or ``(impact, ci_low, ci_high)``) as a shaded band.

    ``subgroups`` is :func:`~hlt_replicate.impact.subgroup_table`'s output, a
    :class:`~hlt_replicate.impact.SubgroupResult`, or a list of them."""
    if isinstance(subgroups, SubgroupResult):
        subgroups = [subgroups]
    if isinstance(subgroups, list):
        from .impact import SUBGROUP_LABELS

        parts = []
        for s in subgroups:
            t = s.table.copy()
            t["dimension"], t["dimension_label"], t["p_interaction"] = s.dimension, SUBGROUP_LABELS.get(s.dimension, s.dimension), s.p_interaction
            parts.append(t)
        table = pd.concat(parts, ignore_index=True)
        if subgroups:
            table.attrs.update(outcome=subgroups[0].outcome, group=subgroups[0].group)
    else:
        table = subgroups
    require_columns(table, ["dimension", "level", "impact", "ci_low", "ci_high", "p_interaction"], "subgroups")
    if table.empty:
        raise InputError("subgroups table is empty")
    labels = table["dimension_label"] if "dimension_label" in table else table["dimension"]
    n_dims = table["dimension"].nunique()
    own = ax is None
    fig, ax = _axes(ax, (6.0, 0.3 * (len(table) + 2 * n_dims) + 1.2), layout=None)
    y, ticks, ticklabels, ys, headings = 0.0, [], [], [], []
    for dim, part in table.groupby("dimension", sort=False):
        heading = labels[part.index[0]]
        p_int = part["p_interaction"].iloc[0]
        ticks.append(y)
        headings.append(len(ticklabels))
        ticklabels.append(f"{heading}  (interaction p = {p_int:.2f})")
        y -= 1
        for level in part["level"]:
            ys.append(y)
            ticks.append(y)
            ticklabels.append(str(level))
            y -= 1
        y -= 0.5
    order = np.concatenate([part.index.to_numpy() for _, part in table.groupby("dimension", sort=False)])
    est, lo_, hi_ = (table.loc[order, c].to_numpy(float) for c in ("impact", "ci_low", "ci_high"))
    ax.errorbar(est, ys, xerr=[est - lo_, hi_ - est], fmt="o", color=TREATMENT_COLOUR, ecolor="0.35", capsize=3, markersize=5)
    if overall is not None:
        if isinstance(overall, ImpactResult):
            est, (lo, hi) = overall.impact, overall.ci()
            if overall.binary and table.attrs.get("unit") == "ppt":
                est, lo, hi = 100 * est, 100 * lo, 100 * hi
        else:
            est, lo, hi = overall
        ax.axvspan(lo, hi, color=CONTROL_COLOUR, alpha=0.3, lw=0)
        ax.axvline(est, color=CONTROL_COLOUR, lw=1.5, label="Overall impact")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.axvline(0, color="0.2", lw=0.8, ls="--")
    _ylabels(ax, ticks, ticklabels, 8, set(headings))
    ax.set_ylim(y + 0.5, 0.7)
    ax.spines[["top", "right", "left"]].set_visible(False)
    unit = table.attrs.get("unit", "")
    ax.set_xlabel("Impact" + (f" ({unit})" if unit else "") + " with 95% CI")
    outcome, group = table.attrs.get("outcome"), table.attrs.get("group")
    if title is None and outcome:
        meta = vocab.OUTCOMES.get(outcome)
        title = (meta.label if meta else outcome) + " subgroup impact" + (f" {vocab.GROUP_LABELS.get(group, group)}" if group else "")
    if own:
        _margins(fig, ticklabels, 8.5)
        if title:
            fig.suptitle(title, fontsize=10)
    elif title:
        ax.set_title(title, fontsize=10)
    return fig


def love_plot(asmd: pd.DataFrame, *, threshold: float = 0.1, title: str | None = None, ax: Axes | None = None) -> Figure:
    """Absolute standardised differences before (open circles) and after (filled) weighting,
    one line per variable or level (:func:`hlt_replicate.weighting.asmd_table`), with a
    reference line at ``threshold`` (0.1 is the usual rule of thumb; Austin 2009)."""
    require_columns(asmd, ["variable", "level", "before", "after"], "asmd")
    if asmd.empty:
        raise InputError("asmd table is empty")
    names = [v if lv is None or (isinstance(lv, float) and np.isnan(lv)) else f"{v}: {lv}" for v, lv in zip(asmd["variable"], asmd["level"])]
    own = ax is None
    fig, ax = _axes(ax, (5.0, 0.2 * len(asmd) + 1.2), layout=None)
    y = -np.arange(len(asmd))
    before, after = asmd["before"].to_numpy(float), asmd["after"].to_numpy(float)
    ax.hlines(y, np.minimum(before, after), np.maximum(before, after), color="0.8", lw=0.8, zorder=1)
    ax.scatter(before, y, facecolors="none", edgecolors="0.3", label="Before weighting", zorder=3)
    ax.scatter(after, y, color=TREATMENT_COLOUR, label="After weighting", zorder=3)
    ax.axvline(threshold, color="0.3", ls="--", lw=0.8)
    _ylabels(ax, y, names, 7)
    ax.set_ylim(y[-1] - 0.8, 0.8)
    ax.set_xlabel("Absolute standardised difference")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    if own:
        _margins(fig, names, 7, top=0.45 if title else 0.2)
    return fig
