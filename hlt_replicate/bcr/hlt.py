"""A benefit-cost ratio for IPS in the Health-led Employment Trials, from an estimated impact.

RAND (2014) built the business case for IPS in primary care on assumed effects. The HLT
estimate the employment impact of *offering* IPS (intention to treat): the difference in
the employment rate between the treatment and control groups, per person randomised. That
impact is already net of deadweight (the control group is the counterfactual) and of
drop-out (non-starters and drop-outs stay in the treatment group), so it plays the role
of RAND's 'outcomes per participant' directly, with no drop-out adjustment, and the cost
must be per person *offered* IPS.

    BCR (Government) = impact x PV(B + D per outcome) / cost per participant

The BCR is linear in the impact, so the delta-method standard error is exact:
se(BCR) = se(impact) x PV(B + D) / cost, and the normal interval for the impact maps
straight into an interval for the BCR. The cost per employment outcome, cost / impact, is
not linear; its interval is the image of the impact's interval (Fieller-type) and is
undefined when that interval includes zero. A simulation from Normal(impact, se), with an
optional uniform range for the cost, gives the same interval when the cost is fixed and a
wider one when it is not.

The function takes plain numbers: the kit's own impact estimates (4-month survey, 12-month
administrative outcome) are wired in by the replication runner. Defaults: RAND's ~£750
per participant for IPS (executive summary, line 199: £75,000 per specialist over 100
starters) and RAND's unit savings (footnotes 29-31).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .model import GREEN_BOOK_DISCOUNT_RATE, Undefined, appraisal_factor, is_defined


@dataclass(frozen=True)
class HLTBCRResult:
    """BCR for an estimated employment impact, with intervals (:func:`hlt_bcr`).

    Intervals are ``(low, high)`` tuples at ``level``. ``bcr_government`` counts savings to
    the Exchequer and NHS (B + D), as RAND's Table 4; ``bcr`` adds employers' SSP savings
    (C) for the share of outcomes that were on sick pay (``share_ssp``).
    """

    label: str
    impact: float
    se: float
    cost_per_participant: float
    level: float
    value_per_outcome_government: float
    value_per_outcome_total: float
    bcr_government: float
    bcr: float
    se_bcr_government: float
    ci_bcr_government_delta: tuple[float, float]
    ci_bcr_government_sim: tuple[float, float]
    p_bcr_government_above_1: float
    p_bcr_government_above_1_sim: float
    net_benefit_government_per_participant: float
    ci_net_benefit_government_per_participant: tuple[float, float]
    break_even_impact: float
    break_even_cost: float | Undefined
    cost_per_outcome: float | Undefined
    ci_cost_per_outcome: tuple[float, float] | Undefined
    n_sim: int
    cost_range: tuple[float, float] | None

    def summary(self) -> pd.DataFrame:
        """Tidy table: quantity, estimate, low, high (interval at ``level``), note."""
        z = f"{self.level:.0%}"
        cpo_ci = self.ci_cost_per_outcome
        rows = [
            ("impact", self.impact, self.impact - norm.ppf(0.5 + self.level / 2) * self.se,
             self.impact + norm.ppf(0.5 + self.level / 2) * self.se, f"employment impact per participant, {z} normal CI"),
            ("cost_per_participant", self.cost_per_participant, *(self.cost_range or (None, None)), "input"),
            ("bcr_government", self.bcr_government, *self.ci_bcr_government_delta, f"{z} CI (delta method, exact: linear)"),
            ("bcr_government_sim", self.bcr_government, *self.ci_bcr_government_sim,
             f"{z} simulation interval, {self.n_sim:,} draws" + (" with cost uncertainty" if self.cost_range else "")),
            ("bcr", self.bcr, None, None, "overall, incl. employers' SSP savings"),
            ("net_benefit_government_per_participant", self.net_benefit_government_per_participant,
             *self.ci_net_benefit_government_per_participant, f"£, {z} CI"),
            ("p_bcr_government_above_1", self.p_bcr_government_above_1, None, None, "P(BCR > 1) under Normal(impact, se)"),
            ("p_bcr_government_above_1_sim", self.p_bcr_government_above_1_sim, None, None, "by simulation"),
            ("break_even_impact", self.break_even_impact, None, None, "impact at which BCR = 1"),
            ("break_even_cost", self.break_even_cost, None, None, "cost per participant at which BCR = 1"),
            ("cost_per_outcome", self.cost_per_outcome,
             *(cpo_ci if is_defined(cpo_ci) else (cpo_ci, cpo_ci)), "£ per additional employment outcome"),
        ]
        df = pd.DataFrame(rows, columns=["quantity", "estimate", "low", "high", "note"])
        df.insert(0, "label", self.label)
        return df


def _check_hlt(impact: float, se: float, cost: float, level: float, n_sim: int) -> None:
    if not np.isfinite(impact) or not -1 <= impact <= 1:
        raise ValueError(f"impact must be a share in [-1, 1] (got {impact!r}); pass 0.04 for 4 percentage points")
    if not np.isfinite(se) or se < 0:
        raise ValueError(f"se must be >= 0 (got {se!r})")
    if not np.isfinite(cost) or cost <= 0:
        raise ValueError(f"cost_per_participant must be > 0 (got {cost!r}): with zero cost the BCR is undefined")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1) (got {level!r})")
    if n_sim < 100:
        raise ValueError(f"n_sim must be >= 100 (got {n_sim})")


def hlt_bcr(
    impact: float,
    se: float,
    cost_per_participant: float = 750.0,
    *,
    saving_exchequer: float = 3900.0,
    saving_health: float = 300.0,
    saving_ssp: float = 1225.0,
    share_jsa: float = 1.0,
    share_ssp: float = 0.0,
    sustained_share: float = 0.5,
    sustained_share_basis: float = 0.5,
    years: int = 1,
    discounting: bool = False,
    discount_rate: float = GREEN_BOOK_DISCOUNT_RATE,
    persistence: float = 1.0,
    cost_range: tuple[float, float] | None = None,
    level: float = 0.95,
    n_sim: int = 20_000,
    seed: int | None = 0,
    label: str = "",
) -> HLTBCRResult:
    """BCR of IPS from an estimated employment impact and its standard error.

    Parameters
    ----------
    impact : employment impact per participant (ITT) as a share, e.g. 0.04 for 4 ppt.
    se : its standard error (share).
    cost_per_participant : £ per person offered IPS; default £750, RAND's IPS cost per
        participant (executive summary; £75,000 per specialist / 100 starters).
    saving_exchequer, saving_health, saving_ssp : RAND's unit first-year savings (B), (D),
        (C) per employment outcome (footnotes 29, 31, 30), which assume 50 % of outcomes are
        sustained (``sustained_share_basis``); (B) and (D) scale with
        ``sustained_share / sustained_share_basis``.
    share_jsa, share_ssp : shares of outcomes valued at (B) and (C). For the out-of-work
        groups every outcome is off benefit (default 1, 0); for an in-work group, moving
        people off sick pay, (C) is the relevant saving.
    years, discounting, discount_rate, persistence : Green Book appraisal options
        (:func:`hlt_replicate.bcr.model.appraisal_factor`); defaults: RAND's one year.
    cost_range : optional (low, high) for the cost per participant, drawn uniformly in the
        simulation.
    level : interval coverage; n_sim, seed : simulation size and seed.
    """
    _check_hlt(impact, se, cost_per_participant, level, n_sim)
    for name, v in (("saving_exchequer", saving_exchequer), ("saving_health", saving_health),
                    ("saving_ssp", saving_ssp)):
        if v < 0:
            raise ValueError(f"{name} must be >= 0 (got {v!r})")
    for name, v in (("share_jsa", share_jsa), ("share_ssp", share_ssp), ("sustained_share", sustained_share),
                    ("persistence", persistence)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1] (got {v!r})")
    if share_jsa + share_ssp > 1 + 1e-9:
        raise ValueError(f"share_jsa + share_ssp must be <= 1 (got {share_jsa + share_ssp:g})")
    if cost_range is not None and not 0 < cost_range[0] <= cost_range[1]:
        raise ValueError(f"cost_range must be (low, high) with 0 < low <= high (got {cost_range!r})")

    m = float(appraisal_factor(years, discount_rate if discounting else 0.0, persistence))
    scale = sustained_share / sustained_share_basis
    v_gov = m * (share_jsa * saving_exchequer * scale + saving_health * scale)
    v_tot = v_gov + m * share_ssp * saving_ssp
    c = float(cost_per_participant)
    z = float(norm.ppf(0.5 + level / 2))

    bcr_g = impact * v_gov / c
    se_b = se * v_gov / c
    ci_delta = (bcr_g - z * se_b, bcr_g + z * se_b)
    be_impact = c / v_gov if v_gov > 0 else float("inf")
    if se > 0:
        p_norm = float(norm.sf((be_impact - impact) / se))
    else:
        p_norm = float(impact > be_impact)

    rng = np.random.default_rng(seed)
    imp_draws = rng.normal(impact, se, n_sim) if se > 0 else np.full(n_sim, impact)
    cost_draws = rng.uniform(cost_range[0], cost_range[1], n_sim) if cost_range is not None else np.full(n_sim, c)
    bcr_draws = imp_draws * v_gov / cost_draws
    a = (1 - level) / 2
    ci_sim = (float(np.quantile(bcr_draws, a)), float(np.quantile(bcr_draws, 1 - a)))

    net = impact * v_gov - c
    ci_net = (net - z * se * v_gov, net + z * se * v_gov)

    lo_imp, hi_imp = impact - z * se, impact + z * se
    if impact > 0:
        cpo: float | Undefined = c / impact
    else:
        cpo = Undefined("impact is not positive: no additional employment outcomes to cost")
    if lo_imp > 0:
        cpo_ci: tuple[float, float] | Undefined = (c / hi_imp, c / lo_imp)
    else:
        cpo_ci = Undefined(f"the {level:.0%} interval of the impact includes zero or less")
    be_cost: float | Undefined = impact * v_gov if impact > 0 else Undefined("impact is not positive")

    return HLTBCRResult(
        label=label, impact=float(impact), se=float(se), cost_per_participant=c, level=level,
        value_per_outcome_government=v_gov, value_per_outcome_total=v_tot,
        bcr_government=bcr_g, bcr=impact * v_tot / c, se_bcr_government=se_b,
        ci_bcr_government_delta=ci_delta, ci_bcr_government_sim=ci_sim,
        p_bcr_government_above_1=p_norm, p_bcr_government_above_1_sim=float(np.mean(bcr_draws > 1)),
        net_benefit_government_per_participant=net, ci_net_benefit_government_per_participant=ci_net,
        break_even_impact=be_impact, break_even_cost=be_cost, cost_per_outcome=cpo, ci_cost_per_outcome=cpo_ci,
        n_sim=n_sim, cost_range=tuple(cost_range) if cost_range is not None else None,
    )


def hlt_bcr_table(
    impacts: Mapping[str, tuple[float, float]] | Sequence[tuple[str, float, float]],
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`hlt_bcr` for several (label, impact, se), one row each.

    Columns: label, impact, se, cost_per_participant, bcr_government, ci_low, ci_high
    (delta method), sim_low, sim_high, p_bcr_gt_1, break_even_impact, cost_per_outcome.
    """
    items = impacts.items() if isinstance(impacts, Mapping) else [(lab, (i, s)) for lab, i, s in impacts]
    rows = []
    for lab, (imp, se) in items:
        r = hlt_bcr(imp, se, label=lab, **kwargs)
        rows.append({
            "label": lab, "impact": r.impact, "se": r.se, "cost_per_participant": r.cost_per_participant,
            "bcr_government": r.bcr_government, "ci_low": r.ci_bcr_government_delta[0],
            "ci_high": r.ci_bcr_government_delta[1], "sim_low": r.ci_bcr_government_sim[0],
            "sim_high": r.ci_bcr_government_sim[1], "p_bcr_gt_1": r.p_bcr_government_above_1,
            "break_even_impact": r.break_even_impact, "cost_per_outcome": r.cost_per_outcome,
        })
    return pd.DataFrame(rows)
