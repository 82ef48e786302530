"""Sensitivity of a business case: one-way (tornado), two-way grid, break-even, Monte Carlo.

RAND notes under Tables 2 and 3 that 'the estimates are (highly) sensitive to the reported
net employment effect and the average cost of delivering the programme' and gives ranges
for some inputs (JOBS II effect 25-30 % and cost £875-£1,250, footnotes 35 and 37;
telephone cost £150-250, footnote 53; online cost £200-£400, executive summary). These
functions quantify that sensitivity. All are pure and vectorised over
:func:`hlt_replicate.bcr.model.core`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from .model import (
    INPUT_LABELS,
    METRICS,
    BCRInputs,
    Undefined,
    evaluate_many,
)

#: Valid domain of each input (low, high); open ends are nudged inside by :data:`_EPS`.
DOMAINS: dict[str, tuple[float, float]] = {
    "cost_per_participant": (0.0, np.inf),
    "net_employment_effect": (0.0, 1.0),
    "dropout_rate": (0.0, 1.0),
    "share_jsa": (0.0, 1.0),
    "share_ssp": (0.0, 1.0),
    "saving_exchequer": (0.0, np.inf),
    "saving_ssp": (0.0, np.inf),
    "saving_health": (0.0, np.inf),
    "sustained_share": (0.0, 1.0),
    "years": (1, 60),
    "discount_rate": (0.0, 1.0),
    "persistence": (0.0, 1.0),
}
_OPEN_LOW = {"cost_per_participant", "net_employment_effect"}
_OPEN_HIGH = {"dropout_rate", "discount_rate"}
_EPS = 1e-9

#: Inputs varied by default in one-way analyses (shares are a split, not varied alone).
DEFAULT_SENSITIVITY_INPUTS: tuple[str, ...] = (
    "cost_per_participant",
    "net_employment_effect",
    "dropout_rate",
    "saving_exchequer",
    "saving_ssp",
    "saving_health",
    "sustained_share",
)


@dataclass(frozen=True)
class Range:
    """A range for one input, with its source ('rand' with a line, or 'kit')."""

    low: float
    high: float
    source: str = "kit"
    note: str = ""

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"Range low must be <= high (got {self.low}, {self.high})")


def _as_range(r: Range | Sequence[float] | Mapping[str, Any]) -> Range:
    if isinstance(r, Range):
        return r
    if isinstance(r, Mapping):
        src = r.get("source", "kit")
        if r.get("line") is not None:
            src = f"{src} (line {r['line']})"
        return Range(float(r["low"]), float(r["high"]), src, r.get("note", ""))
    low, high = r
    return Range(float(low), float(high))


def _clip(name: str, v: float) -> float:
    lo, hi = DOMAINS[name]
    if name in _OPEN_LOW:
        lo = lo + _EPS
    if name in _OPEN_HIGH:
        hi = hi - 1e-6
    return float(min(max(v, lo), hi))


def default_ranges(
    inputs: BCRInputs,
    option: int | None = None,
    relative: float = 0.2,
    parameters: Sequence[str] = DEFAULT_SENSITIVITY_INPUTS,
) -> dict[str, Range]:
    """Ranges for sensitivity analysis: RAND's own where it gives one, else base ± ``relative``.

    With ``option`` (1-4) the ranges RAND states for that option (``rand_bcr_inputs.yaml``)
    replace the kit's ± ``relative`` band (a kit assumption, labelled ``source='kit'``).
    Zero-width ranges (e.g. a drop-out rate of 0, an SSP saving with no SSP outcomes) are
    left out. Ranges are clipped to each input's valid domain.
    """
    out: dict[str, Range] = {}
    for name in parameters:
        base = getattr(inputs, name)
        if base is None:
            continue
        if name == "saving_ssp" and inputs.share_ssp == 0:
            continue
        lo, hi = _clip(name, base * (1 - relative)), _clip(name, base * (1 + relative))
        if hi > lo:
            out[name] = Range(lo, hi, "kit", f"base ± {relative:.0%} (kit assumption)")
    if option is not None:
        from .rand import rand_ranges

        for name, r in rand_ranges(option).items():
            out[name] = _as_range(r)
    return out


def _metric(inputs: BCRInputs, metric: str, **overrides: Any) -> np.ndarray:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)} (got {metric!r})")
    return evaluate_many(inputs, **overrides)[metric]


def _default_target(metric: str) -> float:
    return 1.0 if metric.startswith("bcr") else 0.0


# --------------------------------------------------------------------------------------
# One-way
# --------------------------------------------------------------------------------------
def tornado(
    inputs: BCRInputs,
    ranges: Mapping[str, Range | Sequence[float]] | None = None,
    metric: str = "bcr_government",
) -> pd.DataFrame:
    """One-way sensitivity: ``metric`` at the low and high end of each input's range.

    Returns one row per input, sorted by swing (largest first): parameter, label, base,
    low, high, metric_low, metric_high, swing, source. ``df.attrs`` holds the base value
    of the metric ('base') and the metric name. Default ranges: :func:`default_ranges`.
    """
    ranges = default_ranges(inputs) if ranges is None else ranges
    base = float(_metric(inputs, metric))
    rows = []
    for name, r in ranges.items():
        r = _as_range(r)
        vals = _metric(inputs, metric, **{name: np.array([r.low, r.high])})
        rows.append({
            "parameter": name, "label": INPUT_LABELS.get(name, name), "base": getattr(inputs, name),
            "low": r.low, "high": r.high, "metric_low": float(vals[0]), "metric_high": float(vals[1]),
            "swing": float(abs(vals[1] - vals[0])), "source": r.source,
        })
    df = pd.DataFrame(rows, columns=["parameter", "label", "base", "low", "high", "metric_low", "metric_high",
                                     "swing", "source"])
    df = df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    df.attrs.update(base=base, metric=metric)
    return df


# --------------------------------------------------------------------------------------
# Two-way
# --------------------------------------------------------------------------------------
def two_way(
    inputs: BCRInputs,
    x: str,
    x_values: Sequence[float],
    y: str,
    y_values: Sequence[float],
    metric: str = "bcr_government",
) -> pd.DataFrame:
    """``metric`` on a grid of two inputs: rows are ``y`` values, columns ``x`` values."""
    if x == y:
        raise ValueError("x and y must be different inputs")
    xv, yv = np.asarray(x_values, dtype=float), np.asarray(y_values, dtype=float)
    xx, yy = np.meshgrid(xv, yv)
    vals = _metric(inputs, metric, **{x: xx, y: yy})
    df = pd.DataFrame(np.broadcast_to(vals, xx.shape), index=pd.Index(yv, name=y), columns=pd.Index(xv, name=x))
    df.attrs.update(metric=metric, x=x, y=y)
    return df


# --------------------------------------------------------------------------------------
# Break-even
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BreakEven:
    """The value of ``parameter`` at which ``metric`` equals ``target`` (others held fixed)."""

    parameter: str
    value: float | Undefined
    base: float
    base_metric: float
    target: float
    metric: str = "bcr_government"

    def as_row(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "label": INPUT_LABELS.get(self.parameter, self.parameter),
                "base": self.base, "break_even": self.value, "metric": self.metric, "target": self.target,
                "base_metric": self.base_metric}


def break_even(
    inputs: BCRInputs,
    parameter: str = "net_employment_effect",
    metric: str = "bcr_government",
    target: float | None = None,
) -> BreakEven:
    """Value of ``parameter`` that brings ``metric`` to ``target`` (BCR = 1 by default).

    For ``years`` (the appraisal period) it is the first whole year at which the metric
    crosses the target.

    The BCR is proportional to the net employment effect and inversely proportional to
    the cost, so for those two (and BCR metrics) the closed forms ``effect x target / BCR``
    and ``cost x BCR / target`` are used; other inputs are solved numerically within their
    valid domain. If the target cannot be reached inside the domain (e.g. an effect above
    100 %) the value is :class:`Undefined` with the reason.
    """
    if parameter not in DOMAINS:
        raise ValueError(f"parameter must be one of {list(DOMAINS)} (got {parameter!r})")
    target = _default_target(metric) if target is None else float(target)
    base_val = getattr(inputs, parameter)
    base_metric = float(_metric(inputs, metric))
    lo, hi = DOMAINS[parameter]
    value: float | Undefined
    if parameter == "years":
        t = np.arange(1, int(hi) + 1)
        vals = _metric(inputs, metric, years=t)
        ok = np.nonzero(vals >= target)[0] if base_metric < target else np.nonzero(vals < target)[0]
        if ok.size:
            value = float(t[ok[0]])
        else:
            value = Undefined(f"{metric} does not cross {target:g} within {int(hi)} years")
    elif metric.startswith("bcr") and parameter in ("net_employment_effect", "cost_per_participant"):
        if base_metric <= 0:
            value = Undefined(f"{metric} is {base_metric:g} and does not scale to {target:g}")
        else:
            value = base_val * target / base_metric if parameter == "net_employment_effect" else base_val * base_metric / target
    else:
        a = _clip(parameter, lo)
        b = _clip(parameter, hi) if np.isfinite(hi) else max(10.0 * max(base_val, 1.0), 1e7)

        def f(v: float) -> float:
            return float(_metric(inputs, metric, **{parameter: v})) - target

        fa, fb = f(a), f(b)
        if fa == 0:
            value = a
        elif fb == 0:
            value = b
        elif np.sign(fa) == np.sign(fb):
            side = "above" if fa > 0 else "below"
            value = Undefined(f"{metric} stays {side} {target:g} for {parameter} in [{a:g}, {b:g}]")
        else:
            value = float(brentq(f, a, b, xtol=1e-12, rtol=1e-12))
    if isinstance(value, float) and not (lo <= value <= hi) and not (parameter in _OPEN_LOW and value == lo):
        value = Undefined(f"break-even {parameter} = {value:.4g} is outside its valid range [{lo:g}, {hi:g}]")
    return BreakEven(parameter, value, base_val, base_metric, target, metric)


def break_even_table(
    inputs: BCRInputs,
    parameters: Sequence[str] = ("net_employment_effect", "cost_per_participant", "dropout_rate", "saving_exchequer"),
    metric: str = "bcr_government",
    target: float | None = None,
) -> pd.DataFrame:
    """:func:`break_even` for several inputs as a tidy frame."""
    return pd.DataFrame([break_even(inputs, p, metric, target).as_row() for p in parameters])


# --------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonteCarloResult:
    """Draws of the inputs and the resulting metrics (:func:`monte_carlo`)."""

    draws: pd.DataFrame
    metric: str
    ranges: dict[str, Range] = field(default_factory=dict)
    distribution: str = "uniform"
    seed: int | None = None

    @property
    def values(self) -> np.ndarray:
        return self.draws[self.metric].to_numpy()

    def probability_above(self, threshold: float = 1.0) -> float:
        """Share of draws with ``metric`` above ``threshold`` (P(BCR > 1) by default)."""
        return float(np.mean(self.values > threshold))

    def summary(self, threshold: float | None = None) -> pd.DataFrame:
        """Mean, SD, 5th/50th/95th percentiles and P(metric > threshold) for both BCRs."""
        rows = []
        for m in ("bcr", "bcr_government"):
            v = self.draws[m].to_numpy()
            t = _default_target(m) if threshold is None else threshold
            rows.append({"metric": m, "n": v.size, "mean": v.mean(), "sd": v.std(ddof=1),
                         "p05": np.quantile(v, 0.05), "p50": np.quantile(v, 0.5), "p95": np.quantile(v, 0.95),
                         "threshold": t, "p_above": float(np.mean(v > t))})
        return pd.DataFrame(rows)


def monte_carlo(
    inputs: BCRInputs,
    ranges: Mapping[str, Range | Sequence[float]] | None = None,
    n: int = 10_000,
    seed: int | None = 0,
    distribution: str = "uniform",
    metric: str = "bcr_government",
) -> MonteCarloResult:
    """Monte Carlo over input ranges: the distribution of the BCR and P(BCR > 1).

    Each input in ``ranges`` is drawn independently, uniformly on [low, high]
    (``distribution='uniform'``, the natural reading of a stated range) or triangular with
    its mode at the base value (``'triangular'``); other inputs stay at their base values.
    Default ranges: :func:`default_ranges` (kit ± 20 %). Vectorised: 10,000 draws take a
    few milliseconds.
    """
    if n < 2:
        raise ValueError(f"n must be >= 2 (got {n})")
    if distribution not in ("uniform", "triangular"):
        raise ValueError(f"distribution must be 'uniform' or 'triangular' (got {distribution!r})")
    rr = {k: _as_range(v) for k, v in (default_ranges(inputs) if ranges is None else ranges).items()}
    rng = np.random.default_rng(seed)
    draws: dict[str, np.ndarray] = {}
    for name, r in rr.items():
        if r.high == r.low:
            draws[name] = np.full(n, r.low)
        elif distribution == "uniform":
            draws[name] = rng.uniform(r.low, r.high, n)
        else:
            mode = min(max(getattr(inputs, name), r.low), r.high)
            draws[name] = rng.triangular(r.low, mode, r.high, n)
        if name == "years":
            draws[name] = np.round(draws[name])
    out = evaluate_many(inputs, **draws)
    df = pd.DataFrame(draws)
    for m in METRICS:
        df[m] = np.broadcast_to(out[m], (n,))
    return MonteCarloResult(df, metric, rr, distribution, seed)
