"""RAND Europe (2014) business cases: inputs from data, Tables 1-4 reproduced and audited.

The inputs (``data/rand_bcr_inputs.yaml``) and the printed cells
(``data/rand_bcr_published.yaml``) are transcribed once, with their source line in
``shared/seeds/002_488ea2fdc6b0c8e5.txt``; nothing published is hard-coded here. The model
(:mod:`hlt_replicate.bcr.model`) computes every cell; :func:`reproduce_rand_table` compares
the result, rounded as RAND rounds, with what RAND printed.

RAND's options: 1 IPS in IAPT (Table 1), 2 JOBS II (Table 2), 3 online (no table: no
effect estimate, '?' in Table 4), 4 telephone support (Table 3). Table 4 gathers the
Government BCRs.
"""
from __future__ import annotations

import copy
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .model import (
    DROPOUT_CONVENTIONS,
    BCRInputs,
    BCRResult,
    Undefined,
    evaluate,
    format_printed,
    is_defined,
    round_half_up,
)

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
INPUTS_FILE = DATA_DIR / "rand_bcr_inputs.yaml"
PUBLISHED_FILE = DATA_DIR / "rand_bcr_published.yaml"

#: RAND table -> policy option (Table 3 is Option 4; Option 3 has no table).
TABLE_OPTION: dict[int, int] = {1: 1, 2: 2, 3: 4}
OPTIONS: tuple[int, ...] = (1, 2, 3, 4)


def _number(v: Any) -> float | None:
    """A YAML value as a float; 'a/b' strings are exact fractions (e.g. '50/150')."""
    if v is None:
        return None
    if isinstance(v, str):
        return float(Fraction(v.replace(" ", "")))
    return float(v)


@lru_cache(maxsize=1)
def _inputs_raw() -> dict:
    with open(INPUTS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def _published_raw() -> dict:
    with open(PUBLISHED_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_rand_inputs() -> dict:
    """The transcribed inputs (a deep copy of ``rand_bcr_inputs.yaml``)."""
    return copy.deepcopy(_inputs_raw())


def rand_input_sources() -> pd.DataFrame:
    """Every transcribed input as a tidy frame: option, input, value, printed, line, footnote, source, note."""
    raw = _inputs_raw()
    rows = []
    for opt, spec in raw["options"].items():
        for name, e in spec["inputs"].items():
            rows.append({"option": int(opt), "kind": "input", "input": name, "value": _number(e["value"]),
                         "low": None, "high": None, **{k: e.get(k) for k in ("printed", "line", "footnote", "source", "note")}})
        for name, e in spec.get("ranges", {}).items():
            rows.append({"option": int(opt), "kind": "range", "input": name, "value": None,
                         "low": _number(e["low"]), "high": _number(e["high"]),
                         **{k: e.get(k) for k in ("printed", "line", "footnote", "source", "note")}})
    for name, e in raw.get("summary", {}).items():
        rows.append({"option": None, "kind": "summary", "input": name, "value": _number(e["value"]), "low": None,
                     "high": None, **{k: e.get(k) for k in ("printed", "line", "footnote", "source", "note")}})
    df = pd.DataFrame(rows)
    for col in ("option", "line", "footnote"):
        df[col] = df[col].astype("Int64")
    return df


def rand_input_value(option: int | str, name: str) -> float | None:
    """One transcribed input value (``option`` 1-4, or 'summary')."""
    raw = _inputs_raw()
    if option == "summary":
        return _number(raw["summary"][name]["value"])
    return _number(raw["options"][int(option)]["inputs"][name]["value"])


def load_rand_published() -> pd.DataFrame:
    """The printed cells of Tables 1-4 (and their restatements) as a tidy frame."""
    df = pd.DataFrame(_published_raw()["cells"])
    return df


def rand_option_info(option: int) -> dict:
    """Name, section, table, basis and drop-out convention RAND used for ``option``."""
    spec = _inputs_raw()["options"][_check_option(option)]
    return {k: spec[k] for k in ("name", "section", "table", "basis", "dropout_convention")}


def _check_option(option: int) -> int:
    if option not in OPTIONS:
        raise ValueError(f"option must be one of {OPTIONS} (RAND section 5.2 policy options); got {option!r}")
    return int(option)


def rand_inputs(
    option: int,
    *,
    dropout_convention: str | None = None,
    dropout: str = "rand",
    **overrides: Any,
) -> BCRInputs:
    """:class:`BCRInputs` for RAND's policy ``option`` (1-4), from the transcribed data.

    ``dropout_convention`` defaults to the one RAND's table used (per_starter for Tables 1
    and 3, per_completer for Table 2). ``dropout="printed"`` uses Option 4's rounded
    '33 per cent' (line 2279) instead of 50 of 150 (footnote 51). Option 1's cost per
    participant is the specialist's £75,000 over 100 starters and its drop-out rate
    1 - 70/100 (footnote 27). Option 3 has no effect estimate: pass
    ``net_employment_effect=...`` to supply one. Any other field can be overridden.
    """
    option = _check_option(option)
    if dropout not in ("rand", "printed"):
        raise ValueError(f"dropout must be 'rand' or 'printed' (got {dropout!r})")
    spec = _inputs_raw()["options"][option]
    inp = {k: _number(v["value"]) for k, v in spec["inputs"].items()}
    kw: dict[str, Any] = {
        "label": f"Option {option}: {spec['name']}",
        "dropout_convention": dropout_convention or spec["dropout_convention"],
        "saving_exchequer": inp["saving_exchequer"],
        "saving_health": inp["saving_health"],
        "share_jsa": inp["share_jsa"],
        "share_ssp": inp["share_ssp"],
        "sustained_share": inp["sustained_share"],
        "net_employment_effect": inp["net_employment_effect"],
    }
    if option == 1:
        pps = inp["participants_per_specialist"]
        kw.update(
            cost_per_participant=inp["cost_per_specialist"] / pps,
            participants_per_specialist=pps,
            dropout_rate=1.0 - inp["completers_per_specialist"] / pps,
            saving_ssp=inp["saving_ssp"],
            sustained_share_basis=inp["exchequer_sustained_share"],
        )
    else:
        kw.update(cost_per_participant=inp["cost_per_participant"], dropout_rate=inp["dropout_rate"])
        if option == 4 and dropout == "printed":
            kw["dropout_rate"] = inp["dropout_rate_printed"]
    kw.update(overrides)
    return BCRInputs(**kw)


def rand_result(option: int, **kwargs: Any) -> BCRResult:
    """Evaluate RAND's business case for ``option`` (keyword arguments as :func:`rand_inputs`)."""
    return evaluate(rand_inputs(option, **kwargs))


def option3(
    net_employment_effect: float | None = None,
    cost_per_participant: float | None = None,
    dropout_rate: float = 0.0,
    **overrides: Any,
) -> BCRResult:
    """Option 3 (online assessment and support, section 5.2.3), with a user-supplied effect.

    RAND gives no BCR for Option 3 (Table 4 prints '?'; footnote 57: 'We do not have
    benefit information for the online policy option'): there is no employment-effect
    estimate for an online tool with a vocational element. With the default
    ``net_employment_effect=None`` the BCR is therefore :class:`Undefined`. Supply an
    effect to see the BCR it implies; the cost defaults to £400, the top of RAND's
    £200-£400 (executive summary, line 246), following RAND's 'higher-end costs' rule.
    """
    kw: dict[str, Any] = {"net_employment_effect": net_employment_effect, "dropout_rate": dropout_rate}
    if cost_per_participant is not None:
        kw["cost_per_participant"] = cost_per_participant
    kw.update(overrides)
    return rand_result(3, **kw)


def rand_ranges(option: int) -> dict[str, dict]:
    """Ranges RAND gives for ``option``'s inputs: {input: {low, high, printed, line, source, note}}."""
    spec = _inputs_raw()["options"][_check_option(option)]
    out = {}
    for k, v in spec.get("ranges", {}).items():
        e = dict(v)
        e["low"], e["high"] = _number(v["low"]), _number(v["high"])
        out[k] = e
    return out


# --------------------------------------------------------------------------------------
# Reproduction
# --------------------------------------------------------------------------------------
def _model_value(option: int, quantity: str, basis: str, **kwargs: Any) -> float | Undefined:
    res = rand_result(option, **kwargs)
    return res.value(quantity, "per_outcome" if basis == "none" else basis)


def reproduce_rand_table(table: int | None = None, *, kinds: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Every printed cell of RAND Table ``table`` (1-4; None = all) next to the model's value.

    Columns: table, option, kind, row, quantity, basis, printed_value, decimals, line,
    model (unrounded, or Undefined), reproduced (rounded half up to the printed decimals and
    formatted as RAND prints it), match. Each option is evaluated with the drop-out
    convention RAND used for it. ``kinds`` filters (table, bullet, footnote, prose, summary).
    """
    cells = load_rand_published()
    if table is not None:
        if table not in (1, 2, 3, 4):
            raise ValueError(f"table must be 1, 2, 3 or 4 (got {table!r})")
        cells = cells[cells["table"] == table]
    if kinds is not None:
        cells = cells[cells["kind"].isin(kinds)]
    results = {opt: rand_result(opt) for opt in OPTIONS}
    rows = []
    for c in cells.itertuples(index=False):
        res = results[int(c.option)]
        basis = "per_outcome" if c.basis == "none" else c.basis
        model = res.value(c.quantity, basis)
        rep = format_printed(model, int(c.decimals))
        if is_defined(model):
            match = c.value is not None and round_half_up(model, int(c.decimals)) == float(c.value)
        else:
            match = c.value is None or pd.isna(c.value)
        rows.append({
            "table": c.table, "option": c.option, "kind": c.kind, "row": c.row, "quantity": c.quantity,
            "basis": c.basis, "printed_value": c.value, "decimals": c.decimals, "line": c.line,
            "model": model, "reproduced": rep, "match": bool(match),
        })
    return pd.DataFrame(rows)


def rand_table(table: int) -> pd.DataFrame:
    """RAND Table ``table`` laid out as printed: row, label, printed, reproduced, match."""
    df = reproduce_rand_table(table, kinds=("table",))
    labels = {
        "cost": "Costs", "saving_exchequer": "Savings to the Exchequer", "saving_ssp": "Savings from SSP",
        "saving_health": "Healthcare utilisation", "saving_total": "Total savings",
        "net_benefit": "Net benefit (overall)", "net_benefit_government": "Net benefit (Government)",
        "bcr": "Benefit/cost ratio (overall)", "bcr_government": "Benefit/cost ratio (Government)",
        "participants_per_outcome": "Participants per employment outcome", "outcomes": "Employment outcomes",
        "outcomes_jsa": "Employment outcomes, JSA", "outcomes_ssp": "Employment outcomes, SSP",
    }
    out = pd.DataFrame({
        "row": df["row"],
        "label": df["quantity"].map(labels),
        "printed": [format_printed(v, int(d)) if v is not None and not pd.isna(v) else "?"
                    for v, d in zip(df["printed_value"], df["decimals"])],
        "reproduced": df["reproduced"],
        "match": df["match"],
        "line": df["line"],
    })
    return out.reset_index(drop=True)


def table4() -> pd.DataFrame:
    """RAND Table 4 reproduced: Government BCR by option ('?' for Option 3, undefined)."""
    rows = []
    for opt in OPTIONS:
        res = rand_result(opt)
        rows.append({"option": opt, "name": rand_option_info(opt)["name"],
                     "bcr_government": res.bcr_government, "printed_as": format_printed(res.bcr_government, 2)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The drop-out convention audit
# --------------------------------------------------------------------------------------
def convention_audit() -> pd.DataFrame:
    """Each RAND table under both drop-out conventions (and Table 3 with the rounded 33 %).

    Columns: table, option, convention, dropout_rate, dropout_source, used_by_rand,
    participants_per_outcome, cost_per_outcome, net_benefit_government_per_outcome,
    bcr_government, bcr_government_printed (RAND's printed BCR, for the convention RAND used).
    Table 1's drop-out (30 %) is the kit's reading of footnote 27's counts (70 of 100
    starters complete); RAND never calls it a drop-out rate.
    """
    cells = load_rand_published()
    printed_bcr = {
        int(r.table): r.value for r in cells[(cells.kind == "table") & cells.quantity.isin(["bcr_government", "bcr"])
                                             & cells.table.isin([1, 2, 3])].itertuples()
        if r.quantity == ("bcr_government" if r.table == 1 else "bcr")
    }
    variants = [(1, "rand", "footnote 27: 70 of 100 starters complete"),
                (2, "rand", "footnote 36: 12 per cent"),
                (3, "rand", "footnote 51: 50 of every 150 drop out"),
                (3, "printed", "bullet/footnote 51: 'about 33 per cent'")]
    rows = []
    for table, dropout, src in variants:
        opt = TABLE_OPTION[table]
        rand_conv = rand_option_info(opt)["dropout_convention"]
        for conv in DROPOUT_CONVENTIONS:
            res = rand_result(opt, dropout_convention=conv, dropout=dropout)
            used = conv == rand_conv and dropout == "rand"
            rows.append({
                "table": table, "option": opt, "convention": conv,
                "dropout_rate": res.inputs.dropout_rate, "dropout_source": src, "used_by_rand": used,
                "participants_per_outcome": res.participants_per_outcome,
                "cost_per_outcome": res.cost_per_outcome,
                "net_benefit_government_per_outcome": res.value("net_benefit_government", "per_outcome"),
                "bcr_government": res.bcr_government,
                "bcr_government_rounded": round_half_up(res.bcr_government, 2),
                "bcr_government_printed": printed_bcr.get(table) if used else None,
            })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------
def _f(x: float, d: int = 0) -> str:
    return format_printed(x, d)


def audit_rand_tables() -> pd.DataFrame:
    """Findings on RAND's Tables 1-4: conventions, rounding, consistency, assumptions.

    One row per finding: table, cell, printed, source_line, arithmetic (what the plain
    arithmetic gives, computed here), convention (the named convention under which the
    printed value is reproduced), status and finding. Status is one of:
    ``consistent`` (arithmetic agrees), ``convention`` (reproduced only under a named
    convention that differs from another table's), ``rounding`` (depends on how halves are
    rounded), ``inconsistent`` (printed value disagrees with the stated inputs),
    ``interpretation`` (numbers agree but the wording or assumption does not).
    Every number in ``arithmetic`` is computed from the transcribed inputs.
    """
    cells = load_rand_published()

    def cell(table: int, quantity: str, kind: str = "table", basis: str | None = None):
        sel = cells[(cells.table == table) & (cells.quantity == quantity) & (cells.kind == kind)]
        if basis is not None:
            sel = sel[sel.basis == basis]
        return sel.iloc[0]

    rows: list[dict] = []

    def add(table, cellname, c, arithmetic, convention, status, finding):
        printed = "?" if c.value is None or pd.isna(c.value) else format_printed(float(c.value), int(c.decimals))
        rows.append({"table": table, "cell": cellname, "printed": printed, "source_line": int(c.line),
                     "arithmetic": arithmetic, "convention": convention, "status": status, "finding": finding})

    inp = {opt: {k: _number(v["value"]) for k, v in _inputs_raw()["options"][opt]["inputs"].items()} for opt in OPTIONS}

    # -- Table 2: drop-out as a mark-up on completers
    t2s = rand_result(2, dropout_convention="per_starter")
    t2 = rand_result(2)
    e2, d2 = inp[2]["net_employment_effect"], inp[2]["dropout_rate"]
    add(2, "participants per outcome", cell(2, "participants_per_outcome"),
        f"1/{e2:g} x (1 + {d2:g}) = {_f(t2.participants_per_outcome, 2)}; as a share of starters 1/{e2:g} / (1 - {d2:g}) = "
        f"{_f(t2s.participants_per_outcome, 2)}",
        "per_completer", "convention",
        "Table 2 adds the drop-out rate to the completers (4 x 1.12), treating 12% as drop-outs per completer; "
        "Table 3 (footnote 51) treats the rate as a share of starters. Under Table 3's convention Table 2 would need "
        f"{_f(t2s.participants_per_outcome, 2)} participants per outcome.")
    add(2, "(A) cost per outcome", cell(2, "cost"),
        f"£{_f(t2.inputs.cost_per_participant)} x {_f(t2.participants_per_outcome, 2)} = {_f(t2.cost_per_outcome)}; "
        f"per_starter: {_f(t2s.cost_per_outcome)}",
        "per_completer", "convention", "Follows from the participants-per-outcome convention.")
    add(2, "(D)-(A) net benefit", cell(2, "net_benefit"),
        f"{_f(t2.value('net_benefit'))}; per_starter: {_f(t2s.value('net_benefit'))}",
        "per_completer", "convention", "Follows from the participants-per-outcome convention.")
    add(2, "(D)/(A) BCR", cell(2, "bcr"),
        f"{_f(t2.bcr, 2)}; per_starter: {_f(t2s.bcr, 2)}", "per_completer", "convention",
        "Under the per_starter convention of Table 3 the JOBS II BCR would be "
        f"{_f(t2s.bcr, 2)} rather than {_f(t2.bcr, 2)}.")

    # -- Table 3: 15 participants per outcome needs d = 1/3 exactly, as a share of starters
    t3 = rand_result(4)
    t3p = rand_result(4, dropout="printed")
    t3c = rand_result(4, dropout_convention="per_completer")
    t3pc = rand_result(4, dropout="printed", dropout_convention="per_completer")
    e4 = inp[4]["net_employment_effect"]
    same_rank = all(
        rand_result(4, dropout_convention=c).bcr_government > rand_result(2, dropout_convention=c).bcr_government
        for c in DROPOUT_CONVENTIONS
    )
    ranking = ("Applying one convention to both tables, option 4 still ranks above option 2 in Table 4, but the gap changes."
               if same_rank else "Applying one convention to both tables changes the ranking of options 2 and 4.")
    add(3, "participants per outcome", cell(3, "participants_per_outcome"),
        f"1/{e4:g} / (1 - 50/150) = {_f(t3.participants_per_outcome, 2)}; with the printed 33%: 1/{e4:g} / (1 - 0.33) = "
        f"{_f(t3p.participants_per_outcome, 2)}; as a mark-up 1/{e4:g} x 1.33 = {_f(t3pc.participants_per_outcome, 2)}",
        "per_starter", "convention",
        f"{_f(t3.participants_per_outcome)} is reproduced only with the drop-out as a share of starters and the exact "
        f"50 of 150 (footnote 51); the rounded '33 per cent' printed in the bullet gives {_f(t3p.participants_per_outcome, 2)}, "
        f"and Table 2's mark-up convention gives {_f(t3c.participants_per_outcome, 2)}.")
    add(3, "(A) cost per outcome", cell(3, "cost"),
        f"£{_f(t3.inputs.cost_per_participant)} x 15 = {_f(t3.cost_per_outcome)}; printed 33%: {_f(t3p.cost_per_outcome)}; "
        f"per_completer: {_f(t3c.cost_per_outcome)}",
        "per_starter", "convention", "Follows from the participants-per-outcome convention.")
    add(3, "(D)/(A) BCR", cell(3, "bcr"),
        f"{_f(t3.bcr, 2)}; printed 33%: {_f(t3p.bcr, 2)}; per_completer: {_f(t3c.bcr, 2)} "
        f"(printed 33% and per_completer: {_f(t3pc.bcr, 2)})",
        "per_starter", "convention",
        f"Under Table 2's mark-up convention the telephone option's BCR would be {_f(t3c.bcr, 2)} rather than "
        f"{_f(t3.bcr, 2)}. " + ranking)

    # -- Table 1: rounding of halves
    t1 = rand_result(1)
    c_ssp = t1.value("saving_ssp", "per_specialist")
    add(1, "(C) SSP savings", cell(1, "saving_ssp"),
        f"{_f(t1.value('outcomes_ssp', 'per_specialist'), 1)} x £{_f(inp[1]['saving_ssp'])} = {c_ssp:,.1f}; "
        f"Python round() gives {round(c_ssp):,}",
        "round half up", "rounding",
        f"An exact half: RAND rounds half up; round-half-to-even (Python, numpy, pandas) would print {round(c_ssp):,}.")
    e_tot = t1.value("saving_total", "per_specialist")
    add(1, "(E) total savings", cell(1, "saving_total"),
        f"{_f(t1.value('saving_exchequer', 'per_specialist'))} + {c_ssp:,.1f} + {_f(t1.value('saving_health', 'per_specialist'))} "
        f"= {e_tot:,.1f}; sum of the printed components = "
        f"{_f(round_half_up(t1.value('saving_exchequer', 'per_specialist')) + round_half_up(c_ssp) + round_half_up(t1.value('saving_health', 'per_specialist')))}",
        "round half up", "rounding", "Exact half again; the printed total equals the sum of the printed components.")
    nb = t1.value("net_benefit", "per_specialist")
    add(1, "(E)-(A) net benefit", cell(1, "net_benefit"),
        f"{e_tot:,.1f} - {_f(t1.value('cost', 'per_specialist'))} = {nb:,.1f}; round-half-even gives {round(nb):,}",
        "round half up", "rounding",
        "Exact half; consistent with (E) - (A) of the printed cells.")

    # -- Table 1: footnote 27 arithmetic
    add(1, "outcomes per specialist", cell(1, "outcomes", kind="bullet"),
        f"{_f(inp[1]['gross_outcomes_per_specialist'])} - {_f(inp[1]['deadweight_outcomes_per_specialist'])} = "
        f"{_f(inp[1]['gross_outcomes_per_specialist'] - inp[1]['deadweight_outcomes_per_specialist'])} = "
        f"{_f(inp[1]['completers_per_specialist'])} x {inp[1]['net_employment_effect']:.0%} = {_f(t1.value('outcomes', 'per_specialist'))}",
        "per_starter", "consistent",
        "Footnote 27's counts agree: 40 gross outcomes less 5 deadweight = 35 = 50% of 70 completers; the cost of the "
        "specialist covers all 100 starters, so drop-outs are costed as in Table 3 (per_starter), not Table 2.")
    add(1, "cost per participant (exec. summary)", cell(1, "cost", kind="summary"),
        f"£{_f(inp[1]['cost_per_specialist'])} / {_f(inp[1]['participants_per_specialist'])} starters = "
        f"£{_f(t1.inputs.cost_per_participant)} (per referral £{_f(inp[1]['cost_per_specialist'] / inp[1]['referrals_per_specialist'])}, "
        f"per completer £{_f(inp[1]['cost_per_specialist'] / inp[1]['completers_per_specialist'])})",
        "per starter", "consistent", "The executive summary's 'about £750' is the cost per starter.")
    add(1, "net benefit per outcome (prose)", cell(1, "net_benefit_government", kind="prose", basis="per_outcome"),
        f"{_f(t1.value('net_benefit_government', 'per_specialist'))} / {_f(t1.value('outcomes', 'per_specialist'))} = "
        f"{t1.value('net_benefit_government', 'per_outcome'):,.2f}", "", "consistent",
        "Government net benefit per outcome.")
    add(1, "(E)/(A) BCR overall", cell(1, "bcr"),
        f"{e_tot:,.1f} / {_f(t1.value('cost', 'per_specialist'))} = {t1.bcr:.4f}", "", "interpretation",
        "The overall BCR includes (C), a saving to employers (statutory sick pay), yet the prose (lines 1719-1721) "
        f"reads it as what 'the Government would save'. Only the Government BCR (B+D)/(A) = {_f(t1.bcr_government, 2)} is a saving to "
        "Government, and it is the one carried to Table 4.")

    # -- Table 2: 'higher-end estimates for costs'
    lo, hi = rand_ranges(2)["cost_per_participant"]["low"], rand_ranges(2)["cost_per_participant"]["high"]
    t2hi = rand_result(2, cost_per_participant=hi)
    cost_in = _inputs_raw()["options"][2]["inputs"]["cost_per_participant"]
    cost_cell = pd.Series({"value": cost_in["value"], "decimals": 0, "line": cost_in["line"]})
    add(2, "cost per participant (bullet)", cost_cell,
        f"at £{_f(hi)} (footnote 37): cost per outcome {_f(t2hi.cost_per_outcome)}, BCR {_f(t2hi.bcr, 2)}",
        "", "interpretation",
        f"Section 5.2.2 says it uses 'higher-end estimates for costs' (line 1815), but Table 2 uses £{_f(lo)} "
        f"(footnote 37: 'a truer estimate of average cost') rather than the £{_f(hi)} pilot estimate, at which the BCR "
        f"would be {_f(t2hi.bcr, 2)}" + (" (below 1)." if t2hi.bcr < 1 else "."))

    # -- Table 4
    for opt in OPTIONS:
        c = cells[(cells.table == 4) & (cells.option == opt)].iloc[0]
        res = rand_result(opt)
        if opt == 3:
            add(4, "Option 3", c, str(res.bcr_government), "", "consistent",
                "No effect estimate (footnote 57), so the BCR is undefined; reported as '?'.")
        else:
            add(4, f"Option {opt}", c, f"{res.bcr_government:.4f}", rand_option_info(opt)["dropout_convention"],
                "consistent", "Table 4 carries the Government BCR (B+D)/(A); for options 2 and 4 it equals the overall BCR.")
    return pd.DataFrame(rows)
