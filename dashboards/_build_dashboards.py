"""Write the dashboard notebooks of this folder (outputs cleared, stable cell ids).

Usage, from the repository root::

    .venv/bin/python dashboards/_build_dashboards.py

Each dashboard is three cells: a short markdown page for the room (what to try), the
imports and data, and one widget cell (first line ``# NBVAL_IGNORE_OUTPUT``) that calls
:func:`hlt_replicate.dashboards.app` over a pure callback of :mod:`hlt_replicate.dashboards`.
Edit the text here, not in the notebooks, and re-run.
"""
from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import nbformat as nbf

HERE = Path(__file__).resolve().parent
IGNORE = "# NBVAL_IGNORE_OUTPUT"

SETUP = """
%matplotlib inline
from IPython.display import display

from hlt_replicate import dashboards as db
"""
SETUP_DATA = SETUP + """
data = db.load_data()  # $HLT_DATA (a generated folder) or the synthetic trial of seed $HLT_SEED (default 0)
"""

NOTEBOOKS: dict[str, tuple[str, str, str]] = {
    "randomisation": (
        """
        # Re-randomise the HLT

        Draw a fresh 50/50 assignment of all 9,785 recruits with a **seed** and a **blocking** scheme. For one trial
        group, the dashboard shows the arm sizes, how balanced this draw is, and where its treatment–control
        difference in a covariate falls among 500 other draws of the same design.

        *Try:* move the seed a few times: the difference moves about, and about one draw in twenty has p < 0.05.
        Set blocks to *none*: the arm sizes are no longer equal. Set *group × area × cohort*: the distribution is
        narrower for characteristics linked to area and cohort.
        """,
        SETUP_DATA,
        """
        display(db.app(lambda **values: db.randomisation(data, **values), db.randomisation_controls()))
        """,
    ),
    "weighting": (
        """
        # Non-response weights

        Only 55% of recruits answered the 4-month survey. Weights from a model of who responds make the respondents
        look like everyone who was randomised. Choose the **response model** (ctrl/cmd-click to select several) and a
        **trimming** rule. Watch the largest standardised difference (ASMD) between respondents and all randomised
        recruits, and the **design effect**: the price of unequal weights.

        *Try:* remove every covariate (arm only): the ASMD after weighting barely moves. Cap the weights at k = 1.5:
        the design effect falls and some imbalance comes back.
        """,
        SETUP_DATA,
        """
        display(db.app(lambda **values: db.weighting(data, **values), db.weighting_controls()))
        """,
    ),
    "impact_explorer": (
        """
        # Impact explorer

        The intention-to-treat impact on one outcome in one group, estimated as the report does: respondents,
        the SAP's controls plus the outcome at baseline, robust standard errors. Switch the **survey weights** on
        and off and compare the two rows of the table.

        *Try:* in-work (SCR IW) against out-of-work groups on *In paid work*; the pooled groups; an outcome whose
        impact is significant without weights but not with them.
        """,
        SETUP_DATA,
        """
        display(db.app(lambda **values: db.impact(data, **values), db.impact_controls()))
        """,
    ),
    "fwer_simulator": (
        """
        # How often does *something* come out significant?

        Simulated trials in which the treatment does **nothing** to any of **K** outcomes. Each is tested at 5%.
        The bars show in what share of trials at least one test rejects (the family-wise error rate) under each
        correction. Each change re-runs the simulation (a second or two).

        *Try:* K = 1, 5, 10 with ρ = 0: the unadjusted rate follows 1 − 0.95^K. Then raise the correlation ρ:
        Bonferroni becomes conservative and Westfall–Young stays near 5%.
        """,
        SETUP,
        """
        display(db.app(db.fwer, db.fwer_controls()))
        """,
    ),
    "bcr_calculator": (
        """
        # Benefit-cost calculator

        RAND Europe's (2014) business cases: a cost per participant, a net employment effect, a drop-out rate and
        unit savings give a cost per employment outcome and a benefit-cost ratio (BCR). Move the sliders; the
        tornado chart shows which inputs matter most around the current values.

        *Try:* find the net employment effect at which JOBS II breaks even (BCR = 1); switch the drop-out
        convention; spread the savings over several years with discounting.
        """,
        SETUP,
        """
        display(db.bcr_app(option=2))
        """,
    ),
}


def build(name: str, text: str, setup: str, widget: str) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    cells = [
        nbf.v4.new_markdown_cell(dedent(text).strip("\n")),
        nbf.v4.new_code_cell(dedent(setup).strip("\n")),
        nbf.v4.new_code_cell(IGNORE + "\n" + dedent(widget).strip("\n")),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"{name}-{i}"
    nb.cells = cells
    nbf.validate(nb)
    return nb


def main() -> None:
    for name, parts in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        nbf.write(build(name, *parts), path)
        print(f"wrote {path.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
