"""Charts and the interactive dashboard for benefit-cost ratios (pure functions).

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no global
state, safe under the Agg backend); notebooks display it. :func:`dashboard` is the pure
callback behind the notebook's slider widget; :func:`widget_controls` builds the sliders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure

from .model import INPUT_LABELS, METRICS, BCRInputs, evaluate, format_printed, is_defined
from .sensitivity import MonteCarloResult, break_even, default_ranges, tornado

_C_COST = "#b2182b"
_C_GOV = "#2166ac"
_C_B, _C_C, _C_D = "#2166ac", "#92c5de", "#4393c3"


def plot_tornado(df: pd.DataFrame, title: str | None = None, ax: Any = None) -> Figure:
    """Tornado chart of :func:`tornado` output: bars from the low to the high input value.

    The vertical line is the base-case metric; the dashed line the break-even value 1 (for
    BCRs) or 0 (net benefits).
    """
    fig = ax.figure if ax is not None else Figure(figsize=(7, 0.45 * max(len(df), 3) + 1.2))
    ax = ax if ax is not None else fig.add_subplot()
    base = df.attrs.get("base", np.nan)
    metric = df.attrs.get("metric", "bcr_government")
    d = df.iloc[::-1]
    y = np.arange(len(d))
    for yi, row in zip(y, d.itertuples()):
        lo, hi = row.metric_low, row.metric_high
        ax.barh(yi, lo - base, left=base, color="#d6604d", height=0.6)
        ax.barh(yi, hi - base, left=base, color="#4393c3", height=0.6)
        ax.text(min(lo, hi), yi, f"{_fmt_in(row.parameter, row.low if lo < hi else row.high)} ",
                va="center", ha="right", fontsize=7)
        ax.text(max(lo, hi), yi, f" {_fmt_in(row.parameter, row.high if lo < hi else row.low)}",
                va="center", ha="left", fontsize=7)
    ax.set_yticks(y, [INPUT_LABELS.get(p, p) for p in d["parameter"]], fontsize=8)
    ax.axvline(base, color="k", lw=1)
    target = 1.0 if metric.startswith("bcr") else 0.0
    ax.axvline(target, color="grey", ls="--", lw=1)
    ax.set_xlabel(METRICS.get(metric, metric))
    ax.margins(x=0.25)
    ax.set_title(title or f"One-way sensitivity (base {base:.2f}); red = low input, blue = high input", fontsize=9)
    fig.tight_layout()
    return fig


def _fmt_in(name: str, v: float) -> str:
    if name in ("net_employment_effect", "dropout_rate", "share_jsa", "share_ssp", "sustained_share",
                "discount_rate", "persistence"):
        return f"{v:.0%}"
    if name == "years":
        return f"{v:.0f}y"
    return f"£{v:,.0f}"


def plot_two_way(grid: pd.DataFrame, title: str | None = None) -> Figure:
    """Heat map of :func:`two_way` output with the BCR = 1 (or net benefit = 0) contour."""
    metric = grid.attrs.get("metric", "bcr_government")
    x, y = grid.attrs.get("x", grid.columns.name), grid.attrs.get("y", grid.index.name)
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.add_subplot()
    xv, yv, z = grid.columns.to_numpy(float), grid.index.to_numpy(float), grid.to_numpy(float)
    target = 1.0 if metric.startswith("bcr") else 0.0
    zmin, zmax = float(np.nanmin(z)), float(np.nanmax(z))
    if zmin < target < zmax:
        norm = TwoSlopeNorm(vcenter=target, vmin=zmin, vmax=zmax)
    else:
        norm = Normalize(vmin=min(zmin, target), vmax=max(zmax, target))
    mesh = ax.pcolormesh(xv, yv, z, cmap="RdBu", norm=norm, shading="auto")
    fig.colorbar(mesh, ax=ax, label=METRICS.get(metric, metric))
    if np.nanmin(z) < target < np.nanmax(z):
        cs = ax.contour(xv, yv, z, levels=[target], colors="k", linewidths=1.5)
        ax.clabel(cs, fmt={target: f"{target:g}"}, fontsize=8)
    ax.set_xlabel(INPUT_LABELS.get(x, x))
    ax.set_ylabel(INPUT_LABELS.get(y, y))
    ax.set_title(title or "Two-way sensitivity (black line: break-even)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_monte_carlo(mc: MonteCarloResult, title: str | None = None, bins: int = 60) -> Figure:
    """Histogram of the Monte Carlo BCR draws with the break-even line and P(BCR > 1)."""
    fig = Figure(figsize=(6.5, 3.5))
    ax = fig.add_subplot()
    v = mc.values
    ax.hist(v, bins=bins, color=_C_GOV, alpha=0.8)
    target = 1.0 if mc.metric.startswith("bcr") else 0.0
    ax.axvline(target, color="k", ls="--", lw=1)
    p = mc.probability_above(target)
    ax.set_xlabel(METRICS.get(mc.metric, mc.metric))
    ax.set_ylabel("draws")
    ax.set_title(title or f"Monte Carlo, {len(v):,} draws ({mc.distribution}): P(> {target:g}) = {p:.2f}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_convention_audit(audit: pd.DataFrame) -> Figure:
    """Government BCR of each RAND table under both drop-out conventions (:func:`convention_audit`)."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    labels, vals, colors = [], [], []
    for r in audit.itertuples():
        tag = " (33%)" if r.table == 3 and abs(r.dropout_rate - 0.33) < 1e-12 else ""
        labels.append(f"T{r.table}{tag}\n{r.convention.replace('per_', 'per ')}")
        vals.append(r.bcr_government)
        colors.append(_C_GOV if r.used_by_rand else "#bababa")
    x = np.arange(len(vals))
    ax.bar(x, vals, color=colors)
    for xi, v in zip(x, vals):
        ax.text(xi, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(1, color="k", ls="--", lw=1)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("BCR (Government)")
    ax.set_title("Drop-out conventions: blue = what RAND printed, grey = the other reading", fontsize=9)
    fig.tight_layout()
    return fig


def plot_hlt(table: pd.DataFrame, title: str | None = None) -> Figure:
    """Forest plot of :func:`hlt_bcr_table` output: BCR with its interval, break-even at 1."""
    fig = Figure(figsize=(6.5, 0.6 * len(table) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(table))[::-1]
    b = table["bcr_government"].to_numpy()
    ax.errorbar(b, y, xerr=[b - table["ci_low"].to_numpy(), table["ci_high"].to_numpy() - b], fmt="o",
                color=_C_GOV, capsize=4)
    ax.axvline(1, color="k", ls="--", lw=1)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, table["label"], fontsize=8)
    ax.set_xlabel("BCR (Government) with 95% interval")
    ax.set_title(title or "IPS in the HLT: BCR from estimated impacts", fontsize=9)
    fig.tight_layout()
    return fig


def plot_components(inputs: BCRInputs, ax: Any = None) -> Figure:
    """Cost (A) against savings (B, C, D) per employment outcome, as a stacked bar."""
    res = evaluate(inputs)
    fig = ax.figure if ax is not None else Figure(figsize=(4, 3.5))
    ax = ax if ax is not None else fig.add_subplot()
    if not is_defined(res.cost_per_outcome):
        ax.text(0.5, 0.5, str(res.bcr), ha="center", va="center", wrap=True, transform=ax.transAxes)
        return fig
    b, c, d = (res.value(q) for q in ("saving_exchequer", "saving_ssp", "saving_health"))
    ax.bar(0, res.cost_per_outcome, color=_C_COST, label="(A) cost")
    ax.bar(1, b, color=_C_B, label="(B) Exchequer")
    ax.bar(1, d, bottom=b, color=_C_D, label="(D) NHS")
    if c > 0:
        ax.bar(1, c, bottom=b + d, color=_C_C, label="(C) employers (SSP)")
    ax.set_xticks([0, 1], ["cost", "savings"])
    ax.set_ylabel("£ per employment outcome")
    ax.set_ylim(0, 1.7 * max(res.cost_per_outcome, b + c + d))
    ax.legend(fontsize=6, loc="upper left")
    ax.set_title(f"BCR (Gov.) {format_printed(res.bcr_government, 2)}", fontsize=9)
    return fig


# --------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dashboard:
    """What the slider widget shows: a table of results and a figure."""

    table: pd.DataFrame
    figure: Figure


def dashboard(option: int = 2, relative: float = 0.2, **values: Any) -> Dashboard:
    """Pure widget callback: RAND's ``option`` with the slider ``values`` -> table and figure.

    ``values`` are any :class:`BCRInputs` fields (cost_per_participant,
    net_employment_effect, dropout_rate, dropout_convention, saving_exchequer,
    saving_health, sustained_share, years, discounting, persistence, ...). The table holds
    participants and cost per outcome, savings, net benefit and both BCRs, and the
    break-even effect and cost; the figure shows cost against savings and a tornado chart
    of ± ``relative`` around the current inputs. Invalid values give a table with the
    error message instead of raising, so a slider never breaks the widget.
    """
    from .rand import rand_inputs

    try:
        inputs = rand_inputs(option, **values)
        res = evaluate(inputs)
    except ValueError as err:
        fig = Figure(figsize=(9, 3))
        fig.text(0.5, 0.5, str(err), ha="center", va="center", wrap=True)
        return Dashboard(pd.DataFrame({"quantity": ["error"], "value": [str(err)]}), fig)
    if inputs.net_employment_effect is None:
        fig = Figure(figsize=(9, 3))
        fig.text(0.5, 0.5, f"BCR {res.bcr_government}: supply a net employment effect", ha="center", va="center")
        return Dashboard(pd.DataFrame({"quantity": ["BCR (Government)"], "value": [str(res.bcr_government)]}), fig)
    be_e = break_even(inputs, "net_employment_effect")
    be_c = break_even(inputs, "cost_per_participant")
    rows = [
        ("Participants per employment outcome", format_printed(res.participants_per_outcome, 2)),
        ("Cost per employment outcome (£)", format_printed(res.cost_per_outcome)),
        ("Savings to Government per outcome, B+D (£)", format_printed(res.value("saving_government"))),
        ("Total savings per outcome, B+C+D (£)", format_printed(res.value("saving_total"))),
        ("Net benefit to Government per outcome (£)", format_printed(res.value("net_benefit_government"))),
        ("BCR (overall)", format_printed(res.bcr, 2)),
        ("BCR (Government)", format_printed(res.bcr_government, 2)),
        ("Break-even net employment effect", f"{be_e.value:.1%}" if is_defined(be_e.value) else str(be_e.value)),
        ("Break-even cost per participant (£)", format_printed(be_c.value) if is_defined(be_c.value) else str(be_c.value)),
    ]
    table = pd.DataFrame(rows, columns=["quantity", "value"])
    fig = Figure(figsize=(10, 3.8))
    ax1 = fig.add_subplot(1, 3, 1)
    ax2 = fig.add_subplot(1, 3, (2, 3))
    plot_components(inputs, ax=ax1)
    plot_tornado(tornado(inputs, default_ranges(inputs, relative=relative)), ax=ax2,
                 title=f"One-way sensitivity, inputs ± {relative:.0%}")
    fig.tight_layout()
    return Dashboard(table, fig)


def widget_controls(option: int = 2) -> dict[str, Any]:
    """Sliders for :func:`dashboard`, initialised at RAND's inputs for ``option``.

    Returns ``{name: widget}`` ready for ``ipywidgets.interactive_output``.
    """
    import ipywidgets as w

    from .rand import rand_inputs

    base = rand_inputs(option, net_employment_effect=0.05) if option == 3 else rand_inputs(option)
    style = {"description_width": "220px"}
    layout = w.Layout(width="520px")

    def fs(name: str, lo: float, hi: float, step: float, fmt: str = ".2f") -> Any:
        return w.FloatSlider(value=getattr(base, name), min=lo, max=hi, step=step, readout_format=fmt,
                             description=INPUT_LABELS[name], style=style, layout=layout, continuous_update=False)

    return {
        "cost_per_participant": fs("cost_per_participant", 25, 2000, 25, ",.0f"),
        "net_employment_effect": fs("net_employment_effect", 0.01, 0.8, 0.01),
        "dropout_rate": fs("dropout_rate", 0.0, 0.8, 0.001, ".3f"),  # fine steps: 1/3 (Table 3) snaps to 0.333
        "dropout_convention": w.ToggleButtons(options=["per_starter", "per_completer"], value=base.dropout_convention,
                                              description="Drop-out convention", style=style),
        "saving_exchequer": fs("saving_exchequer", 0, 10000, 100, ",.0f"),
        "saving_health": fs("saving_health", 0, 1500, 50, ",.0f"),
        "sustained_share": fs("sustained_share", 0.05, 1.0, 0.05),
        "years": w.IntSlider(value=1, min=1, max=10, description=INPUT_LABELS["years"], style=style, layout=layout,
                             continuous_update=False),
        "persistence": fs("persistence", 0.0, 1.0, 0.05),
        "discounting": w.Checkbox(value=False, description="Discount at 3.5% (Green Book)", style=style),
    }
