"""Lesson 05 (``notebooks/05_benefit_cost_ratios.ipynb``): RAND's business cases and a
benefit-cost ratio (BCR) for IPS from the kit's own impact estimates.

The BCR model itself is :mod:`hlt_replicate.bcr`; this module holds what the notebook adds:

* :func:`business_case_view` (widget callback) — RAND's business case for one option with
  the values of :func:`hlt_replicate.bcr.widget_controls` (a View of
  :func:`hlt_replicate.bcr.dashboard`'s table and chart);
* :func:`kit_employment_impacts` — the employment impacts of the HLT application, estimated
  from a trial's data with the kit's own estimator (4-month survey outcome and 12-month
  administrative outcome, per trial group), beside the published 12-month impacts;
* :func:`bcr_impacts` — those impacts as the ``{label: (impact, se)}`` mapping of
  :func:`hlt_replicate.bcr.hlt_bcr_table`; :func:`ips_cost_per_participant` — RAND's IPS cost.

The exercises' expected answers are computed from RAND's transcribed inputs and the kit's own
impact estimates by plain arithmetic (a route independent of :mod:`hlt_replicate.bcr.model`),
never typed in.

Exercises ``ex1``-``ex4``: :func:`check`, :func:`show_solution`, :func:`solution`,
:func:`expected`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from .. import vocab
from ..bcr.rand import rand_input_value
from ..teaching import Exercise, ExerciseSet, View, load_trial, published


# =========================================================================================
# The business-case widget
# =========================================================================================
def business_case_view(option: int = 2, relative: float = 0.2, **values: Any) -> View:
    """Widget callback: RAND's business case for ``option`` with the slider ``values`` (any
    :class:`hlt_replicate.bcr.BCRInputs` fields, as :func:`hlt_replicate.bcr.widget_controls`
    gives them): the table of :func:`hlt_replicate.bcr.dashboard` (BCRs, net benefit, break-even
    values; an error row instead of an exception for invalid values) indexed by quantity, and
    its chart (cost against savings, a tornado of ± ``relative`` around the inputs)."""
    from .. import bcr

    d = bcr.dashboard(option, relative, **values)
    info = bcr.rand_option_info(option)
    return View(title=f"Option {option}: {info['name']} (RAND 2014, §{info['section']})",
                tables={"": d.table.set_index("quantity")}, figure=d.figure)


# =========================================================================================
# The kit's own employment impacts for the HLT application
# =========================================================================================
#: The 4-month survey outcome and the 12-month administrative outcome used for the BCR.
OUTCOME_4M = "paid_work"
OUTCOME_12M = vocab.SUSTAINED_EMP_12M
HORIZON_LABELS = {"12m": "12 months (admin., sustained employment)", "4m": "4 months (survey, in paid work)"}


def kit_employment_impacts(data: pd.DataFrame, groups: Sequence[str] = vocab.GROUPS) -> pd.DataFrame:
    """Employment impacts of offering IPS, estimated by the kit, one row per trial group.

    * 4 months: ITT on ``paid_work`` among survey respondents, weighted (survey weights from
      :func:`hlt_replicate.weighting.ipw_weights` if ``data`` has no ``weight`` column), SAP
      controls, robust SE (:func:`hlt_replicate.impact.estimate_itt`, the report's
      specification);
    * 12 months: ITT on ``sustained_emp_12m`` (administrative data) among **all** recruits,
      unweighted, SAP controls, no baseline counterpart.

    Beside them: the published 12-month impact and stars (IES blog Table 1; SCR OOW's impact
    is not printed and the targets file assumes one, ``kind_12m_published``), the kit's stars
    under the blog's convention (* 90 %, ** 95 %, *** 99 %), and the 4-month impact derived
    from the report's figures. Impacts are shares (0.04 = 4 percentage points).
    """
    from ..impact import estimate_itt, significance_stars

    if vocab.WEIGHT not in data:
        from ..weighting import ipw_weights

        data = data.assign(**{vocab.WEIGHT: ipw_weights(data)})
    resp = data[data[vocab.RESPONDED] == 1]
    adm = published(section="admin_12m", statistic=["impact", "stars"])
    prim = published(section="primary_outcomes", variable=OUTCOME_4M, statistic="impact")
    rows = []
    for g in groups:
        r4 = estimate_itt(resp, OUTCOME_4M, g)
        r12 = estimate_itt(data, OUTCOME_12M, g, weights=None, baseline=False)
        a = adm[adm["group"] == g].set_index("statistic")
        p4 = prim[prim["group"] == g]
        rows.append({
            "group": g,
            "impact_4m": r4.impact, "se_4m": r4.se, "p_4m": r4.p, "base_4m": r4.nobs,
            "impact_4m_published": float(p4["value"].iloc[0]) if len(p4) else float("nan"),
            "kind_4m_published": p4["kind"].iloc[0] if len(p4) else "",
            "impact_12m": r12.impact, "se_12m": r12.se, "p_12m": r12.p, "base_12m": r12.nobs,
            "stars_12m": significance_stars(r12.p, "section_4_3"),
            "impact_12m_published": float(a.loc["impact", "value"]) if "impact" in a.index else float("nan"),
            "stars_12m_published": (a.loc["stars", "value"] if "stars" in a.index else "").replace("none", ""),
            "kind_12m_published": a.loc["impact", "kind"] if "impact" in a.index else "",
        })
    order = ["impact_12m", "se_12m", "p_12m", "stars_12m", "impact_12m_published", "stars_12m_published",
             "kind_12m_published", "base_12m", "impact_4m", "se_4m", "p_4m", "impact_4m_published", "kind_4m_published",
             "base_4m"]
    out = pd.DataFrame(rows).set_index("group")[order]
    out.attrs["note"] = ("impacts are shares; 4 months: ITT among weighted respondents (paid_work); "
                         "12 months: ITT among all recruits, unweighted (sustained_emp_12m)")
    return out


def bcr_impacts(impacts: pd.DataFrame, horizons: Sequence[str] = ("12m", "4m")) -> dict[str, tuple[float, float]]:
    """``{label: (impact, se)}`` for :func:`hlt_replicate.bcr.hlt_bcr_table` from
    :func:`kit_employment_impacts`, one entry per group and horizon (``"12m"``, ``"4m"``)."""
    out = {}
    for h in horizons:
        if h not in HORIZON_LABELS:
            raise ValueError(f"horizon must be one of {list(HORIZON_LABELS)}, got {h!r}")
        for g, row in impacts.iterrows():
            out[f"{vocab.GROUP_LABELS.get(g, g)}, {HORIZON_LABELS[h]}"] = (float(row[f"impact_{h}"]), float(row[f"se_{h}"]))
    return out


def ips_cost_per_participant() -> float:
    """RAND's IPS cost per participant (executive summary), from the transcribed inputs."""
    return float(rand_input_value("summary", "ips_cost_per_participant"))


def _kit_wmca_12m() -> tuple[float, float]:
    """The kit's WMCA 12-month impact and SE on the default synthetic trial (exact, seed 0)."""
    row = kit_employment_impacts(load_trial(0).data, groups=("WMCA_OOW",)).loc["WMCA_OOW"]
    return float(row["impact_12m"]), float(row["se_12m"])


# =========================================================================================
# Exercises (expected answers: independent arithmetic on the transcribed inputs)
# =========================================================================================
def _savings_per_outcome(option: int) -> float:
    return rand_input_value(option, "saving_exchequer") + rand_input_value(option, "saving_health")


def _expected_1() -> float:
    # Table 3 (option 4) with Table 2's mark-up: participants per outcome = (1/e) x (1 + d)
    e, d = rand_input_value(4, "net_employment_effect"), rand_input_value(4, "dropout_rate")
    return rand_input_value(4, "cost_per_participant") * (1 / e) * (1 + d)


def _expected_2() -> float:
    # JOBS II: BCR = e/(1+d) x (B+D) / c = 1  =>  e = c (1+d) / (B+D)
    c, d = rand_input_value(2, "cost_per_participant"), rand_input_value(2, "dropout_rate")
    return c * (1 + d) / _savings_per_outcome(2)


def _expected_3() -> float:
    # Online option at RAND's upper cost, no drop-out: e = c / (B+D)
    return rand_input_value(3, "cost_per_participant") / _savings_per_outcome(3)


HLT_EX4_RATE = 0.035   # Green Book discount rate


def _expected_4() -> int:
    # Smallest T with impact x (B+D) x sum_{t<T} 1.035^-t / cost >= 1 (full persistence),
    # impact = the kit's WMCA 12-month estimate
    c = ips_cost_per_participant()
    v = _kit_wmca_12m()[0] * _savings_per_outcome(2) / c
    total, t = 0.0, 0
    while total * v < 1:
        total += (1 + HLT_EX4_RATE) ** -t
        t += 1
        if t > 200:
            raise RuntimeError("no break-even within 200 years")
    return t


def _explanation_4() -> str:
    from .. import bcr

    imp, se = _kit_wmca_12m()
    c = ips_cost_per_participant()
    v = _savings_per_outcome(2)
    T = _expected_4()
    r = bcr.hlt_bcr(imp, se, c, years=T, discounting=True)
    lim = bcr.hlt_bcr(imp, se, c, years=500, discounting=True, persistence=0.8).bcr_government
    tail = (f"it tends to {lim:.2f} however long the appraisal period, so it never pays back" if lim < 1 else
            f"it still reaches 1 eventually, since it tends to {lim:.2f}, but only after "
            f"{next(t for t in range(1, 501) if bcr.hlt_bcr(imp, se, c, years=t, discounting=True, persistence=0.8).bcr_government >= 1)} years")
    return (
        f"The kit estimates a WMCA 12-month impact of {imp:.3f} (s.e. {se:.3f}). At £{c:,.0f} per participant it returns "
        f"{imp:.3f} x £{v:,.0f} = £{imp * v:,.0f} a year per participant. Discounted at 3.5% with full persistence, the "
        f"cumulative return first exceeds the cost in year {T} (BCR {r.bcr_government:.2f}, 95% CI "
        f"{r.ci_bcr_government_delta[0]:.2f}-{r.ci_bcr_government_delta[1]:.2f}: the interval still includes values "
        f"below 1). With a 20% annual drop-off of benefits (persistence 0.8) {tail}."
    )


def _namespace() -> dict:
    from .. import bcr

    return {"bcr": bcr, "load_trial": load_trial, "kit_employment_impacts": kit_employment_impacts}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="Table 3 under Table 2's drop-out convention",
            expected=_expected_1,
            tol=0.5,
            hints=(
                (lambda a, x: abs(a - 3750) < 1, "That is RAND's printed £3,750 (drop-outs as a share of starters). "
                 "Switch the convention to 'per_completer'."),
                (lambda a, x: abs(a - 3325) < 1, "Close: you used the rounded 33%. Footnote 51 says 50 of every 150 "
                 "drop out: keep RAND's drop-out rate (dropout='rand')."),
                (lambda a, x: abs(a - x / 250) < 0.1, "That looks like participants per outcome; multiply by the £250 cost."),
            ),
            default_hint="Use bcr.rand_result(4, dropout_convention='per_completer').cost_per_outcome.",
            solution_code=(
                "res = bcr.rand_result(4, dropout_convention='per_completer')\n"
                "print(f'participants per outcome: {res.participants_per_outcome:.2f}')\n"
                "answer = res.cost_per_outcome\n"
                "print(f'cost per outcome: £{answer:,.0f}; Government BCR {res.bcr_government:.2f}')"
            ),
            explanation=(
                "With drop-outs counted as a mark-up on completers (Table 2's reading), 10 participants per "
                "outcome become 10 x (1 + 1/3) = 13.33, not 10 / (1 - 1/3) = 15, so the cost per outcome falls from "
                "£3,750 to £3,333 and the BCR rises from 1.12 to 1.26."
            ),
        ),
        Exercise(
            key="ex2",
            title="Break-even net employment effect for JOBS II",
            expected=_expected_2,
            tol=0.0005,
            hints=(
                (lambda a, x: abs(a / 100 - x) < 0.0005, "Give the effect as a share (0.23), not a percentage."),
                (lambda a, x: abs(a - 875 / 4200) < 0.0005, "You ignored the 12% drop-out: Table 2 multiplies "
                 "participants per outcome by 1.12."),
                (lambda a, x: abs(a - 875 * 1.12 / 4200 / 1.12 ** 2) < 0.0005, "Check the direction of the drop-out adjustment."),
            ),
            default_hint="The BCR is proportional to the effect: effect* = 0.25 / BCR. Or use bcr.break_even(...).",
            solution_code=(
                "be = bcr.break_even(bcr.rand_inputs(2), 'net_employment_effect')\n"
                "answer = be.value\n"
                "print(f'break-even effect {answer:.2%} against RAND\\'s 25-30%')"
            ),
            explanation=(
                "The Government BCR is proportional to the net employment effect, so the break-even effect is "
                "0.25 / 1.0714 = 23.3%: just 1.7 points below RAND's lower-end 25%. The JOBS II case is thin."
            ),
        ),
        Exercise(
            key="ex3",
            title="What effect would the online option (Option 3) need?",
            expected=_expected_3,
            tol=0.0005,
            hints=(
                (lambda a, x: abs(a / 100 - x) < 0.0005, "Give the effect as a share, not a percentage."),
                (lambda a, x: abs(a - 200 / 4200) < 0.0005, "That is at the lower cost of £200; the question asks for £400."),
            ),
            default_hint="Supply an effect to bcr.rand_inputs(3, net_employment_effect=...) and use bcr.break_even.",
            solution_code=(
                "inp = bcr.rand_inputs(3, net_employment_effect=0.05)  # any effect: the break-even does not depend on it\n"
                "answer = bcr.break_even(inp, 'net_employment_effect').value\n"
                "print(f'Option 3 breaks even at a net employment effect of {answer:.1%} at £{inp.cost_per_participant:,.0f}')"
            ),
            explanation=(
                "With no drop-out, BCR = effect x £4,200 / £400, so the break-even effect is 400 / 4,200 = 9.5%: more "
                "than twice the four percentage points reported for Beating the Blues (a different outcome, staying "
                "in work). At £200 it would be 4.8%."
            ),
        ),
        Exercise(
            key="ex4",
            title="How long must the HLT benefits last?",
            expected=_expected_4,
            tol=0.0,
            kind="integer",
            hints=(
                (lambda a, x: a == x - 1, "One year short: check the BCR at that period is at least 1."),
                (lambda a, x: a > x, "Too long: find the *smallest* period with BCR >= 1."),
            ),
            default_hint=("Loop over years = 1, 2, ... with bcr.hlt_bcr(impact, se, years=T, discounting=True), the "
                          "impact and se from the kit's WMCA 12-month estimate."),
            solution_code=(
                "impacts = kit_employment_impacts(load_trial(0).data)\n"
                "imp, se = impacts.loc['WMCA_OOW', ['impact_12m', 'se_12m']]\n"
                "answer = next(T for T in range(1, 51)\n"
                "              if bcr.hlt_bcr(imp, se, years=T, discounting=True).bcr_government >= 1)\n"
                "r = bcr.hlt_bcr(imp, se, years=answer, discounting=True)\n"
                "print(f'{answer} years: BCR {r.bcr_government:.2f}, 95% CI {r.ci_bcr_government_delta[0]:.2f}-'\n"
                "      f'{r.ci_bcr_government_delta[1]:.2f}')"
            ),
            explanation=_explanation_4,
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
