"""The benefit-cost model behind RAND Europe's (2014) business cases, made explicit.

RAND (section 5.2) values an intervention by a handful of inputs: a cost per participant
(or per vocational specialist), a net employment effect, a drop-out rate, the share of
employment outcomes that were JSA claimants or statutory-sick-pay (SSP) recipients, and
first-year unit savings to the Exchequer (B), to employers through SSP (C) and to the NHS
through lower healthcare use (D). This module turns those inputs into RAND's outputs: cost
per employment outcome, savings by component, net benefit and the benefit-cost ratio (BCR)
overall and to Government.

The arithmetic (one participant, first year, RAND's conventions):

    participants per completer  k = 1 / (1 - d)   "per_starter"   (Table 3, footnotes 51-52)
                                k = 1 + d         "per_completer" (Table 2, footnote 35)
    outcomes per participant    o = e / k         (e = net employment effect per completer)
    participants per outcome      = 1 / o
    cost per outcome              = c / o
    saving per outcome, Exchequer = share_jsa x B x (s / s0)
                        employers = share_ssp x C
                        NHS       = D x (s / s0)
    BCR (overall)                 = (B + C + D) per outcome / cost per outcome   (Table 1 (E)/(A))
    BCR (Government)              = (B + D) per outcome / cost per outcome       (Table 1 (B+D)/(A), Table 4)

where s is the sustained share of outcomes and s0 = 50 % the share RAND's unit savings
already assume (footnotes 29 and 31); at RAND's defaults s / s0 = 1.

Green Book extension (HM Treasury, *The Green Book*, 2022, ch. 6 and annex A6): benefits may
persist for several years with a drop-off and be discounted at the social time preference
rate (3.5 %). Savings are multiplied by the appraisal factor of :func:`appraisal_factor`;
the defaults (one year, no discounting) reproduce RAND's one-year undiscounted convention.

All functions here are pure and work on numpy arrays (:func:`core`) so that the sensitivity
analyses are vectorised and fast.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

import numpy as np
import pandas as pd

#: Ways of turning a drop-out rate d into participants per completer (see module docstring).
DROPOUT_CONVENTIONS: dict[str, str] = {
    "per_starter": "d is the share of starters who drop out: participants per completer = 1/(1-d) "
    "(RAND Table 3, footnotes 51-52: 'for every 150 participants, 50 will drop out')",
    "per_completer": "d is drop-outs per completer: participants per completer = 1 + d "
    "(RAND Table 2, footnote 35: 4 x 1.12 = 4.48)",
}

#: HM Treasury Green Book social time preference rate for years 0-30 (Green Book 2022, A6).
GREEN_BOOK_DISCOUNT_RATE = 0.035

#: Numeric inputs of :class:`BCRInputs` that sensitivity analyses may vary.
NUMERIC_INPUTS: tuple[str, ...] = (
    "cost_per_participant",
    "net_employment_effect",
    "dropout_rate",
    "share_jsa",
    "share_ssp",
    "saving_exchequer",
    "saving_ssp",
    "saving_health",
    "sustained_share",
    "years",
    "discount_rate",
    "persistence",
)

#: Human-readable labels for inputs (used in tables and charts).
INPUT_LABELS: dict[str, str] = {
    "cost_per_participant": "Cost per participant (£)",
    "net_employment_effect": "Net employment effect (per completer)",
    "dropout_rate": "Drop-out rate",
    "share_jsa": "Share of outcomes off JSA",
    "share_ssp": "Share of outcomes off SSP",
    "saving_exchequer": "Exchequer saving per JSA outcome (£, B)",
    "saving_ssp": "SSP saving per SSP outcome (£, C)",
    "saving_health": "Healthcare saving per outcome (£, D)",
    "sustained_share": "Sustained share of outcomes",
    "years": "Appraisal period (years)",
    "discount_rate": "Discount rate",
    "persistence": "Persistence of benefits (year to year)",
}

#: Metrics the vectorised :func:`core` returns and sensitivity analyses can target.
METRICS: dict[str, str] = {
    "bcr": "BCR (overall: B+C+D over A)",
    "bcr_government": "BCR (Government: B+D over A)",
    "net_benefit_per_participant": "Net benefit per participant (£, overall)",
    "net_benefit_government_per_participant": "Net benefit per participant (£, Government)",
    "net_benefit_per_outcome": "Net benefit per employment outcome (£, overall)",
    "net_benefit_government_per_outcome": "Net benefit per employment outcome (£, Government)",
    "cost_per_outcome": "Cost per employment outcome (£)",
}


# --------------------------------------------------------------------------------------
# Undefined values
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Undefined:
    """A quantity that has no value, with the reason (never reported as inf or NaN).

    Examples: Option 3's BCR (RAND has no employment-effect estimate, Table 4 prints '?'),
    or the cost per employment outcome when an estimated impact is not positive.
    """

    reason: str

    def __str__(self) -> str:
        return f"undefined ({self.reason})"

    def __format__(self, spec: str) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return False


def is_defined(x: Any) -> bool:
    """True unless ``x`` is an :class:`Undefined`."""
    return not isinstance(x, Undefined)


# --------------------------------------------------------------------------------------
# Rounding as RAND prints
# --------------------------------------------------------------------------------------
def round_half_up(x: float, decimals: int = 0) -> float:
    """Round as RAND's tables do: half away from zero, after removing float noise.

    Python's :func:`round` rounds halves to even (``round(12862.5) == 12862``) but RAND
    prints 10.5 x £1,225 = £12,862.5 as 12,863 (Table 1, (C)). Values are first rounded to
    9 decimals so that, e.g., 43,912.4999999 from binary floating point counts as a half.
    """
    if not is_defined(x):
        return x
    d = Decimal(repr(round(float(x), 9)))
    q = Decimal(1).scaleb(-decimals)
    return float(d.quantize(q, rounding=ROUND_HALF_UP))


def format_printed(x: float | Undefined, decimals: int = 0) -> str:
    """Format ``x`` as RAND prints it: half-up rounding, thousands separators; '?' if undefined."""
    if not is_defined(x):
        return "?"
    return f"{round_half_up(x, decimals):,.{decimals}f}"


# --------------------------------------------------------------------------------------
# Appraisal (Green Book)
# --------------------------------------------------------------------------------------
def appraisal_factor(
    years: Any = 1,
    discount_rate: Any = 0.0,
    persistence: Any = 1.0,
    discount_first_year: bool = False,
) -> np.ndarray | float:
    """Present value of a benefit stream whose first-year value is 1.

    ``sum_{t=0}^{years-1} persistence**t / (1 + discount_rate)**(t + delta)``, with
    ``delta = 1`` if ``discount_first_year`` else 0. With the defaults (one year, no
    discounting) the factor is 1: RAND's "savings that initially would occur within one
    year" (section 5.2.1), undiscounted. The Green Book (HM Treasury 2022, A6.5) discounts
    year t by ``1/(1+r)**t`` with year 0 the present: by default the first year of benefits
    is treated as year 0, like the up-front cost. ``persistence`` is the share of a year's
    benefit still present the next year (1 - drop-off). Vectorised over all arguments.
    """
    years_a, r, p = np.broadcast_arrays(
        np.asarray(years, dtype=float), np.asarray(discount_rate, dtype=float), np.asarray(persistence, dtype=float)
    )
    t_max = int(np.max(years_a))
    t = np.arange(t_max, dtype=float).reshape((t_max,) + (1,) * years_a.ndim)
    delta = 1 if discount_first_year else 0
    terms = p[None] ** t / (1.0 + r[None]) ** (t + delta)
    terms = np.where(t < years_a[None], terms, 0.0)
    out = terms.sum(axis=0)
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def _check_range(name: str, value: Any, lo: float, hi: float, lo_open: bool, hi_open: bool, why: str = "") -> None:
    a = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(a)):
        raise ValueError(f"{name} must be a finite number (got {value!r})")
    bad = (a <= lo if lo_open else a < lo) | (a >= hi if hi_open else a > hi)
    if np.any(bad):
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        hi_s = "inf" if hi == np.inf else f"{hi:g}"
        first = a[bad].flat[0] if a.ndim else float(a)
        raise ValueError(f"{name} must be in {lb}{lo:g}, {hi_s}{rb} (got {first:g}){why}")


def validate_numeric(values: Mapping[str, Any]) -> None:
    """Check numeric inputs (scalars or arrays) and raise ``ValueError`` naming the parameter.

    Ranges: cost_per_participant > 0 (zero makes every BCR undefined); net_employment_effect
    in (0, 1]; dropout_rate in [0, 1); shares, sustained share, persistence in [0, 1] with
    share_jsa + share_ssp <= 1; unit savings >= 0; years an integer >= 1; discount_rate in
    [0, 1).
    """
    v = values
    if "cost_per_participant" in v:
        c = np.asarray(v["cost_per_participant"], dtype=float)
        if np.any(c == 0):
            raise ValueError("cost_per_participant must be > 0 (got 0): with zero cost the BCR is undefined")
        _check_range("cost_per_participant", c, 0, np.inf, True, True, " (a cost cannot be negative)")
    if v.get("net_employment_effect") is not None:
        _check_range("net_employment_effect", v["net_employment_effect"], 0, 1, True, False,
                     " (a share of completers achieving an additional job)")
    if "dropout_rate" in v:
        _check_range("dropout_rate", v["dropout_rate"], 0, 1, False, True,
                     " (with a drop-out rate of 1 nobody completes)")
    for name in ("share_jsa", "share_ssp", "sustained_share", "persistence"):
        if name in v:
            _check_range(name, v[name], 0, 1, False, False)
    if "share_jsa" in v and "share_ssp" in v:
        tot = np.asarray(v["share_jsa"], dtype=float) + np.asarray(v["share_ssp"], dtype=float)
        if np.any(tot > 1 + 1e-9):
            raise ValueError(f"share_jsa + share_ssp must be <= 1 (got {np.max(tot):g})")
    for name in ("saving_exchequer", "saving_ssp", "saving_health"):
        if name in v:
            _check_range(name, v[name], 0, np.inf, False, True, " (unit savings are non-negative)")
    if "sustained_share_basis" in v:
        _check_range("sustained_share_basis", v["sustained_share_basis"], 0, 1, True, False)
    if "years" in v:
        y = np.asarray(v["years"], dtype=float)
        if np.any(y < 1) or np.any(y != np.round(y)):
            raise ValueError(f"years must be an integer >= 1 (got {v['years']!r})")
    if "discount_rate" in v:
        _check_range("discount_rate", v["discount_rate"], 0, 1, False, True)
    if v.get("participants_per_specialist") is not None:
        _check_range("participants_per_specialist", v["participants_per_specialist"], 0, np.inf, True, True)


@dataclass(frozen=True)
class BCRInputs:
    """Inputs of one business case, each a plain number (RAND section 5.2).

    Attributes
    ----------
    cost_per_participant : (A) per participant, £ > 0. Table 1 states it per specialist
        (£75,000, footnote 28) for 100 starters (footnote 27), i.e. £750.
    net_employment_effect : additional employment outcomes per *completer*, in (0, 1]; None
        when there is no estimate (Option 3: Table 4 prints '?').
    dropout_rate : in [0, 1); how it is used depends on ``dropout_convention``.
    dropout_convention : "per_starter" (Table 3) or "per_completer" (Table 2); see
        :data:`DROPOUT_CONVENTIONS`.
    share_jsa, share_ssp : shares of outcomes valued at (B) and (C) (Table 1: 70 %/30 %).
    saving_exchequer, saving_ssp, saving_health : unit first-year savings (B), (C), (D) in £
        (footnotes 29-31: £3,900, £1,225, £300).
    sustained_share : share of outcomes sustained; (B) and (D) scale with
        ``sustained_share / sustained_share_basis`` (basis 50 %, footnotes 29 and 31).
    participants_per_specialist : reporting scale for Table 1 (per specialist); None otherwise.
    years, discounting, discount_rate, persistence, discount_first_year : Green Book
        appraisal options (see :func:`appraisal_factor`). Discounting is off by default; when
        switched on the rate defaults to 3.5 %.
    label : a name for tables and charts.
    """

    cost_per_participant: float
    net_employment_effect: float | None
    saving_exchequer: float
    saving_health: float
    saving_ssp: float = 0.0
    dropout_rate: float = 0.0
    dropout_convention: str = "per_starter"
    share_jsa: float = 1.0
    share_ssp: float = 0.0
    sustained_share: float = 0.5
    sustained_share_basis: float = 0.5
    participants_per_specialist: float | None = None
    years: int = 1
    discounting: bool = False
    discount_rate: float = GREEN_BOOK_DISCOUNT_RATE
    persistence: float = 1.0
    discount_first_year: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        if self.dropout_convention not in DROPOUT_CONVENTIONS:
            raise ValueError(
                f"dropout_convention must be one of {sorted(DROPOUT_CONVENTIONS)} (got {self.dropout_convention!r})"
            )
        validate_numeric(self.numeric())

    def numeric(self) -> dict[str, Any]:
        """The numeric fields as a dict (None for a missing effect)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for k in ("dropout_convention", "label", "discounting", "discount_first_year"):
            d.pop(k)
        return d

    def replace(self, **changes: Any) -> "BCRInputs":
        """A copy with some inputs changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def effective_discount_rate(self) -> float:
        """The discount rate applied: ``discount_rate`` if ``discounting`` else 0."""
        return self.discount_rate if self.discounting else 0.0

    def table(self) -> pd.DataFrame:
        """The inputs as a tidy frame (input, label, value)."""
        rows = [
            {"input": k, "label": INPUT_LABELS.get(k, k), "value": getattr(self, k)}
            for k in (
                "cost_per_participant", "net_employment_effect", "dropout_rate", "dropout_convention",
                "share_jsa", "share_ssp", "saving_exchequer", "saving_ssp", "saving_health",
                "sustained_share", "participants_per_specialist", "years", "discounting",
                "discount_rate", "persistence",
            )
        ]
        return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Vectorised arithmetic
# --------------------------------------------------------------------------------------
def core(
    *,
    cost_per_participant: Any,
    net_employment_effect: Any,
    saving_exchequer: Any,
    saving_health: Any,
    saving_ssp: Any = 0.0,
    dropout_rate: Any = 0.0,
    dropout_convention: str = "per_starter",
    share_jsa: Any = 1.0,
    share_ssp: Any = 0.0,
    sustained_share: Any = 0.5,
    sustained_share_basis: Any = 0.5,
    years: Any = 1,
    discount_rate: Any = 0.0,
    persistence: Any = 1.0,
    discount_first_year: bool = False,
    **_ignored: Any,
) -> dict[str, np.ndarray]:
    """The model on numpy arrays (broadcast together); no validation, no Undefined.

    ``discount_rate`` here is the rate actually applied (0 = undiscounted). Returns per
    participant and per outcome quantities and the two BCRs. BCRs are computed per
    participant (benefit per participant / cost per participant), so they are defined for
    any effect, including zero or negative estimated impacts; per-outcome quantities divide
    by outcomes per participant and are only meaningful when it is positive (callers wrap
    them in :class:`Undefined` otherwise).
    """
    c = np.asarray(cost_per_participant, dtype=float)
    e = np.asarray(net_employment_effect, dtype=float)
    d = np.asarray(dropout_rate, dtype=float)
    if dropout_convention == "per_starter":
        opp = e * (1.0 - d)
    elif dropout_convention == "per_completer":
        opp = e / (1.0 + d)
    else:
        raise ValueError(f"dropout_convention must be one of {sorted(DROPOUT_CONVENTIONS)} (got {dropout_convention!r})")
    scale = np.asarray(sustained_share, dtype=float) / np.asarray(sustained_share_basis, dtype=float)
    m = appraisal_factor(years, discount_rate, persistence, discount_first_year)
    ex = m * np.asarray(share_jsa, dtype=float) * np.asarray(saving_exchequer, dtype=float) * scale
    ssp = m * np.asarray(share_ssp, dtype=float) * np.asarray(saving_ssp, dtype=float)
    health = m * np.asarray(saving_health, dtype=float) * scale
    gov = ex + health
    total = gov + ssp
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "outcomes_per_participant": opp,
            "participants_per_outcome": 1.0 / opp,
            "cost_per_outcome": c / opp,
            "appraisal_factor": m * np.ones_like(opp),
            "saving_exchequer_per_outcome": ex * np.ones_like(opp),
            "saving_ssp_per_outcome": ssp * np.ones_like(opp),
            "saving_health_per_outcome": health * np.ones_like(opp),
            "saving_government_per_outcome": gov * np.ones_like(opp),
            "saving_total_per_outcome": total * np.ones_like(opp),
            "bcr": opp * total / c,
            "bcr_government": opp * gov / c,
            "net_benefit_per_participant": opp * total - c,
            "net_benefit_government_per_participant": opp * gov - c,
            "net_benefit_per_outcome": total - c / opp,
            "net_benefit_government_per_outcome": gov - c / opp,
        }
    return out


def core_kwargs(inputs: BCRInputs, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for :func:`core` from ``inputs`` with array ``overrides``.

    The applied discount rate is 0 unless ``inputs.discounting`` (or an override of
    ``discount_rate``, which switches discounting on for that analysis).
    """
    kw = inputs.numeric()
    kw["dropout_convention"] = inputs.dropout_convention
    kw["discount_first_year"] = inputs.discount_first_year
    kw["discount_rate"] = inputs.effective_discount_rate()
    unknown = set(overrides) - set(NUMERIC_INPUTS)
    if unknown:
        raise ValueError(f"cannot vary {sorted(unknown)}; choose from {list(NUMERIC_INPUTS)}")
    kw.update(overrides)
    return kw


def evaluate_many(inputs: BCRInputs, **overrides: Any) -> dict[str, np.ndarray]:
    """Vectorised evaluation: ``inputs`` with some numeric inputs replaced by arrays.

    The overrides are validated like :class:`BCRInputs`; used by the sensitivity analyses.
    """
    validate_numeric(overrides)
    kw = core_kwargs(inputs, **overrides)
    if kw.get("net_employment_effect") is None:
        raise ValueError(
            "net_employment_effect is None: there is no effect estimate, so the BCR is undefined; "
            "supply one (e.g. rand_inputs(3, net_employment_effect=0.05))"
        )
    if "share_jsa" in overrides or "share_ssp" in overrides:
        validate_numeric({"share_jsa": kw["share_jsa"], "share_ssp": kw["share_ssp"]})
    out = core(**kw)
    shape = np.broadcast_shapes(*(np.shape(v) for v in overrides.values())) if overrides else ()
    return {k: np.broadcast_to(v, np.broadcast_shapes(np.shape(v), shape)) for k, v in out.items()}


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------
QUANTITIES: dict[str, str] = {
    "cost": "Cost (A)",
    "saving_exchequer": "Savings to the Exchequer (B)",
    "saving_ssp": "Savings to employers, SSP (C)",
    "saving_health": "Savings to the NHS, healthcare use (D)",
    "saving_government": "Savings to Government (B+D)",
    "saving_total": "Total savings (B+C+D)",
    "net_benefit": "Net benefit (overall)",
    "net_benefit_government": "Net benefit (Government)",
    "outcomes": "Employment outcomes",
    "outcomes_jsa": "Employment outcomes, JSA claimants",
    "outcomes_ssp": "Employment outcomes, SSP recipients",
}
_BASES = ("per_outcome", "per_participant", "per_specialist")


@dataclass(frozen=True)
class BCRResult:
    """Outputs of :func:`evaluate` for one :class:`BCRInputs`.

    Per-outcome savings are present values over the appraisal period (first-year values
    under RAND's defaults). Use :meth:`value` for any quantity on any basis and
    :meth:`summary` for a tidy table. Quantities that cannot be computed are
    :class:`Undefined` with the reason.
    """

    inputs: BCRInputs
    outcomes_per_participant: float | Undefined
    participants_per_outcome: float | Undefined
    cost_per_outcome: float | Undefined
    appraisal_factor: float
    savings_per_outcome: dict[str, float] = field(default_factory=dict)
    bcr: float | Undefined = Undefined("not computed")
    bcr_government: float | Undefined = Undefined("not computed")

    def _outcomes_on(self, basis: str) -> float | Undefined:
        if basis == "per_outcome":
            return 1.0
        if not is_defined(self.outcomes_per_participant):
            return self.outcomes_per_participant
        if basis == "per_participant":
            return self.outcomes_per_participant
        if basis == "per_specialist":
            if self.inputs.participants_per_specialist is None:
                return Undefined("no participants_per_specialist for a per-specialist basis")
            return self.outcomes_per_participant * self.inputs.participants_per_specialist
        raise ValueError(f"basis must be one of {_BASES} or 'none' (got {basis!r})")

    def _cost_on(self, basis: str) -> float | Undefined:
        c = self.inputs.cost_per_participant
        if basis == "per_participant":
            return c
        if basis == "per_specialist":
            if self.inputs.participants_per_specialist is None:
                return Undefined("no participants_per_specialist for a per-specialist basis")
            return c * self.inputs.participants_per_specialist
        if basis == "per_outcome":
            return self.cost_per_outcome
        raise ValueError(f"basis must be one of {_BASES} (got {basis!r})")

    def value(self, quantity: str, basis: str = "per_outcome") -> float | Undefined:
        """One output: ``quantity`` on ``basis`` (per_outcome, per_participant, per_specialist).

        Quantities: cost, saving_exchequer, saving_ssp, saving_health, saving_government,
        saving_total, net_benefit, net_benefit_government, outcomes, outcomes_jsa,
        outcomes_ssp; and, basis-free, bcr, bcr_government, participants_per_outcome,
        outcomes_per_participant, cost_per_outcome.
        """
        if quantity in ("bcr", "bcr_government", "participants_per_outcome", "outcomes_per_participant",
                        "cost_per_outcome"):
            return getattr(self, quantity)
        if quantity == "cost":
            return self._cost_on(basis)
        n = self._outcomes_on(basis)
        if not is_defined(n):
            return n
        if quantity == "outcomes":
            return n
        if quantity == "outcomes_jsa":
            return n * self.inputs.share_jsa
        if quantity == "outcomes_ssp":
            return n * self.inputs.share_ssp
        if quantity in ("net_benefit", "net_benefit_government"):
            sav = self.value("saving_total" if quantity == "net_benefit" else "saving_government", basis)
            cost = self._cost_on(basis)
            if not is_defined(cost):
                return cost
            return sav - cost
        if quantity in self.savings_per_outcome:
            return n * self.savings_per_outcome[quantity]
        raise ValueError(f"unknown quantity {quantity!r}; choose from {sorted(QUANTITIES)} or a BCR")

    def summary(self, basis: str = "per_outcome") -> pd.DataFrame:
        """Tidy table of the outputs on ``basis``: quantity, label, value (float or Undefined)."""
        rows = [
            ("participants_per_outcome", "Participants per employment outcome", self.participants_per_outcome),
            ("cost_per_outcome", "Cost per employment outcome (£)", self.cost_per_outcome),
        ]
        for q in ("outcomes", "cost", "saving_exchequer", "saving_ssp", "saving_health", "saving_government",
                  "saving_total", "net_benefit", "net_benefit_government"):
            rows.append((q, f"{QUANTITIES[q]} {basis.replace('_', ' ')}", self.value(q, basis)))
        rows += [("bcr", "BCR (overall)", self.bcr), ("bcr_government", "BCR (Government)", self.bcr_government)]
        return pd.DataFrame(rows, columns=["quantity", "label", "value"])


def evaluate(inputs: BCRInputs) -> BCRResult:
    """Evaluate the business case for ``inputs`` (pure, microseconds).

    With no effect estimate (``net_employment_effect=None``, RAND's Option 3) every
    effect-dependent output, including the BCR, is :class:`Undefined`.
    """
    m = float(appraisal_factor(inputs.years, inputs.effective_discount_rate(), inputs.persistence,
                               inputs.discount_first_year))
    if inputs.net_employment_effect is None:
        why = Undefined("no net employment effect estimate")
        kw = core_kwargs(inputs)
        kw["net_employment_effect"] = 1.0  # savings per outcome do not depend on the effect
        r = core(**kw)
        sav = {k.replace("_per_outcome", ""): float(r[k]) for k in r if k.startswith("saving_")}
        return BCRResult(inputs, why, why, why, m, sav, why, why)
    r = core(**core_kwargs(inputs))
    sav = {k.replace("_per_outcome", ""): float(r[k]) for k in r if k.startswith("saving_")}
    opp = float(r["outcomes_per_participant"])
    return BCRResult(
        inputs=inputs,
        outcomes_per_participant=opp,
        participants_per_outcome=float(r["participants_per_outcome"]),
        cost_per_outcome=float(r["cost_per_outcome"]),
        appraisal_factor=m,
        savings_per_outcome=sav,
        bcr=float(r["bcr"]),
        bcr_government=float(r["bcr_government"]),
    )
