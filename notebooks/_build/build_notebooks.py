"""Build notebooks 00-03 and 06 from this file, execute them, and keep only the checked outputs.

Usage (from the repository root)::

    .venv/bin/python notebooks/_build/build_notebooks.py            # build, execute, strip
    .venv/bin/python notebooks/_build/build_notebooks.py 01 03      # only some notebooks
    .venv/bin/python notebooks/_build/build_notebooks.py --no-execute

Each notebook is a list of markdown and code cells below. After executing a notebook with
nbclient (in ``notebooks/``, a fresh kernel each), the script strips every output except those
of cells whose first line is ``# NBVAL_CHECK_OUTPUT`` (``pytest --nbval-lax`` compares them;
they keep a deterministic execution count, without which nbval skips them), removes widget
state (``metadata.widgets``) and all other execution counts, gives cells stable ids,
and prints each notebook's run time and stored size.

Notebooks 04 and 05 are written by hand; after a change to the synthetic trial refresh their
checked outputs with ``notebooks/_build/refresh_checked.py``.

The notebooks are thin: narrative, a few calls into :mod:`hlt_replicate`, charts and a widget
whose callback lives in :mod:`hlt_replicate.lessons`. Published numbers are never typed in:
cells that compare read them from ``data_synth``'s targets file.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from textwrap import dedent

import nbformat as nbf

NB_DIR = Path(__file__).resolve().parents[1]
CHECK = "# NBVAL_CHECK_OUTPUT"
IGNORE = "# NBVAL_IGNORE_OUTPUT"


def md(text: str):
    return nbf.v4.new_markdown_cell(dedent(text).strip("\n"))


def code(text: str, tags: tuple[str, ...] = ()):
    cell = nbf.v4.new_code_cell(dedent(text).strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def exercise(key: str, question: str, placeholder: str) -> list:
    """The three cells of an exercise: the question, the self-check, the hidden solution."""
    return [
        md(question),
        code(f'answer_{key} = None  # {placeholder}\ncheck("{key}", answer_{key})'),
        code(f'show_solution("{key}")'),
    ]


def widget_cell(body: str) -> object:
    return code(IGNORE + "\n" + dedent(body).strip("\n"))


# =========================================================================================
# 00 · Start here
# =========================================================================================
def nb00() -> list:
    return [
        md("""
        # 00 · Start here: the trials, the data and this kit

        The **Health-led Employment Trials** (HLT) tested *Individual Placement and Support* (IPS), an intensive
        employment service, for people with mental or physical health conditions, in two places: the Sheffield City
        Region (**SCR**) and the West Midlands Combined Authority (**WMCA**). Recruits were randomly assigned to IPS
        (treatment) or to the usual support (control) and surveyed about four months later. In SCR the trial took
        people who were in work but struggling (**SCR IW**) and people out of work (**SCR OOW**). WMCA took people out
        of work (**WMCA OOW**). These three *trial groups* are the columns of every table in chapter 4 of the 4-month
        report (DWP research report 1033, `shared/seeds/004_…`). Outcomes at 12 months came later from administrative
        records (IES blog, May 2023, `shared/seeds/001_…`).

        This kit redoes the chapter 4 analysis on a **synthetic trial**: one row per recruit, generated so that the
        published tables come out of the kit's own estimators, with known true effects underneath.

        **Learning objectives.** By the end of this notebook you should be able to
        1. describe the design of the HLT (sites, trial groups, arms, survey, outcomes) and find any column of the data;
        2. say which numbers are *published*, which are *derived* or *assumed*, and which are *synthetic*, and where each lives;
        3. generate and check the synthetic trial, from Python or from the command line;
        4. read the calibration report, and find the cells where the report itself is inconsistent.

        **Report tables covered:** Table 4-1 (numbers randomised and surveyed) and, through the calibration report, an
        overview of Tables 4-2 to 4-15 and the IES blog's Table 1. The later notebooks reproduce them one by one:

        | notebook | lesson | report tables |
        |---|---|---|
        | **00 · start here** | the trial, the data, the calibration | Table 4-1, overview |
        | **01 · randomisation** | complete and blocked assignment, balance, randomisation inference | Tables 4-1 to 4-4 |
        | **02 · non-response and weighting** | response gap, propensity weights, trimming, raking, diagnostics | Tables 4-1 to 4-5 |
        | **03 · impact estimation** | ITT by weighted OLS, effect sizes, pooled groups, subgroups, participation (IV), 12-month truth | Figures 4-2 to 4-4, Tables 4-8 to 4-15, blog Table 1 |
        | 04 · multiple testing | Westfall–Young, the SAP decision rule, the stars | Table 4-5, stars of Tables 4-8 to 4-15 |
        | 05 · benefit-cost ratios | RAND's business cases and the HLT | RAND Tables 1 to 4 |
        """),
        code("""
        %matplotlib inline
        import sys
        import tempfile
        from pathlib import Path

        import pandas as pd

        from data_synth.io import read_trial, write_trial
        from hlt_replicate.teaching import load_trial, published, wire
        from hlt_replicate.lessons import ch00 as lesson
        from hlt_replicate.lessons.ch00 import check, show_solution

        pd.set_option("display.width", 140)
        pd.set_option("display.max_colwidth", 80)
        """),
        md("""
        ## 1 · The synthetic trial

        `load_trial()` generates the trial once (seed 0, *exact* mode) and hands out a copy. It returns three things:

        * `trial.data`: one row per recruit, with the columns of `data_synth/DATA_DICTIONARY.md` plus `weight`, the
          survey weights that the report's estimates use (lesson 02 builds them);
        * `trial.truth`: what a real trial never reveals, namely the true effect of IPS on each outcome in each group
          and each recruit's true probability of answering the survey;
        * `trial.manifest`: the seed, the mode, a fingerprint of the targets file and the package versions.

        The first call takes a few seconds. After that the trial comes from a cache, in this notebook and in the others.
        """),
        code("""
        trial = load_trial(seed=0)
        data = trial.data
        data.head(3).T
        """),
        md("""
        The counts by trial group and arm are Table 4-1's first two rows. The cell below prints them from the data, and
        the published totals from the targets file. Its output is stored in the notebook and checked in CI.
        """),
        code(f"""
        {CHECK}
        print(lesson.arms_and_response(data).to_string())
        pub = published(table="Table 4-1", group="all").set_index("statistic")["printed"]
        print(f"data: {{len(data):,}} randomised, {{data.responded.sum():,}} respondents")
        print(f"published: {{pub['randomised']}} randomised, {{pub['respondents']}} respondents")
        """),
        md("""
        ## 2 · What is published, what is synthetic

        Every number the generator aims at is transcribed **once**, in `data_synth/targets/hlt_4month.yaml`. Each one
        carries its source line in the report, and the kit's tests check that the value is printed on that line. Each
        cell has a *kind*:

        * **published**: printed in the report or the blog (most cells);
        * **derived**: computed from printed numbers. The primary-outcome figures were lost in the text extraction, so
          their means are derived from other tables;
        * **assumed**: a modelling choice where the reports say nothing (for example baseline wellbeing), with the reason
          recorded beside it.

        Some published cells are *calibration targets*: the generator makes the synthetic data reproduce them. Others
        are only *compared*: the analysis notebooks estimate them and show how close they come (p-values, stars, pooled
        tables). `published(...)` reads any of them. Notebooks never type a published number in.
        """),
        code("lesson.target_kinds()"),
        code("""
        published(table="Table 4-8", group="SCR_IW", statistic="impact")[["variable", "printed", "kind", "doc", "line"]]
        """),
        md("""
        The **truth** is what makes a synthetic trial useful for teaching. Each group has a true average effect `tau` for
        every outcome (the same for every recruit in the group), a true response model, and each recruit's true
        probability of responding. Lesson 02 compares the estimated response propensities with the true ones. Lesson 03
        compares the impact estimates with `tau`.
        """),
        code("""
        pd.DataFrame({g: v["tau"] for g, v in trial.truth["groups"].items()}).round(3)
        """),
        md("""
        ## 3 · Browse the data dictionary

        Pick a column to see its entry in `DATA_DICTIONARY.md`, a summary and a chart, split by trial group, arm or survey
        response. Things to try:

        * `rand_date`: recruitment by month, the report's Figure 4-1 (lost in extraction), with the surge in the final month;
        * `eq5d` split by *survey response*: 4-month outcomes exist only for respondents;
        * `ips_sessions` split by *arm*: management information exists only for the treatment group;
        * `work_history` by trial group: what "in work" and "out of work" at randomisation mean.

        The callback `lesson.column_view` is an ordinary function in the package, and the cell only wires it to the dropdowns
        (`wire` from `hlt_replicate.teaching`: the controls, and an output that calls the function again when one changes).
        """),
        widget_cell("""
        wire(lesson.column_view, lesson.column_controls(data), data, row=True)
        """),
        md("""
        The same function works without the widget. Here is recruitment by month (Figure 4-1):
        """),
        code('lesson.column_view(data, "rand_date", "group").figure'),
        md("""
        ## 4 · Generate, save and check: the command line

        The same trial can be written to disk and checked from a terminal:

        ```bash
        python -m data_synth generate --out trial/          # recruits.csv, truth.json, manifest.json
        python -m data_synth generate --out big/ --scale 100 # ~1 million rows, same marginals
        python -m data_synth generate --out draw/ --mode sampled --seed 7   # the process without calibration
        python -m data_synth check --data trial/             # every target beside its achieved value
        ```

        `generate` calls the same `data_synth.generate_trial` as `load_trial`, and `data_synth.io.write_trial` writes the
        files. Writing our cached copy takes a moment, and the files are the ones the command line would write:
        """),
        code("""
        !{sys.executable} -m data_synth --help
        """),
        code("""
        out = Path(tempfile.mkdtemp())
        write_trial(trial, out)
        print(sorted(p.name for p in out.iterdir()))
        read_trial(out)[0].shape
        """),
        md("""
        `check` prints the **calibration report**: every cell of the targets file beside the value the synthetic data
        achieve, computed with the kit's own estimators, as a student would compute it. The statuses:

        * **met**: a calibration target reproduced to the printed precision;
        * **missed**: a calibration target not reproduced (CI fails on these);
        * **not a target: matches / differs**: a published cell that is only compared, for example a p-value;
        * **published inconsistency**: a cell that no dataset could produce, because it contradicts other printed
          cells. The targets file records the arithmetic that shows it.
        """),
        code("""
        report = lesson.calibration(seed=0)
        lesson.calibration_summary(report)
        """),
        md("""
        Filter the report by table and status. For example, look at Table 4-12's published inconsistencies: the pooled
        SCR table prints numbers that do not agree with Tables 4-8 and 4-10.
        """),
        widget_cell("""
        wire(lesson.calibration_view, lesson.calibration_controls(report), report, row=True)
        """),
        md("""
        ## 5 · How to use the kit

        * **Notebooks** (this folder) are the lessons. Run them top to bottom; each starts from `load_trial()`.
        * **Widgets** call pure functions in `hlt_replicate.lessons` (for example `lesson.column_view`). You can call the
          same functions in a cell, or test them, without any widget.
        * **Exercises** end each notebook. Replace `None` with your answer and run the cell: `check(...)` says right or
          wrong and gives a hint. `show_solution("ex1")` shows a worked solution, folded until you click it.
        * **The analysis modules** (`hlt_replicate.randomisation`, `.weighting`, `.impact`, `.charts`, …) take a DataFrame
          and column names. They know nothing about the synthetic data, so they work on any trial with these columns.

        ## 6 · Exercises
        """),
        *exercise("ex1", """
        **Exercise 1 (Table 4-1).** How many recruits in the SCR OOW *control* group answered the 4-month survey?
        """, "a whole number of people"),
        *exercise("ex2", """
        **Exercise 2 (Table 4-6).** Among WMCA OOW treatment-group recruits who answered the survey, what is the mean
        number of IPS sessions (`ips_sessions`)? Compare your answer with the published value, read with
        `published(table="Table 4-6", group="WMCA_OOW")`.
        """, "a number of sessions"),
        *exercise("ex3", """
        **Exercise 3 (the data).** Which of these columns is observed for people who did *not* answer the survey:
        `"paid_work"`, `"eq5d"`, `"jsse"` or `"sustained_emp_12m"`?
        """, "one of the four names, as a string"),
        *exercise("ex4", """
        **Exercise 4 (missing baseline answers).** Under Table 4-2 the report prints the sample's base as
        "1,444-1,463": some baseline answers are missing. How many SCR IW survey respondents have no recorded
        qualification (`qual`) in the synthetic data?
        """, "a whole number"),
        md("""
        ## Summary

        * The HLT randomised nearly ten thousand recruits in three trial groups: SCR IW, SCR OOW and WMCA OOW. Outcomes come from a
          4-month survey, answered by respondents only, and from 12-month administrative data, available for everyone.
        * The synthetic trial reproduces the report's published marginals with the kit's own estimators. Its
          `truth` holds the true effects and response probabilities, which no real trial reveals.
        * Published numbers live once, with their source lines, in the targets file. `published(...)` reads them, so a
          notebook can put "published" beside "reproduced" without typing a number in.
        * `python -m data_synth generate/check` does from a terminal what `load_trial` and the calibration report do here.
          Cells marked *published inconsistency* are places where the report contradicts itself.

        Next: **01 · randomisation**.
        """),
    ]


# =========================================================================================
# 01 · Randomisation
# =========================================================================================
def nb01() -> list:
    return [
        md("""
        # 01 · Randomisation: assignment, balance and randomisation inference

        Everything in the HLT's impact estimates rests on one act: a computer tool assigned each recruit to IPS or to
        usual support at random, 50/50 within each trial group (§4.2.1). This notebook takes that act apart. It covers
        how random assignment can be done, what the HLT's tool did, how to check that the arms look alike (the balance
        tables), and how to test an effect using nothing but the randomisation itself.

        **Learning objectives.** By the end you should be able to
        1. tell simple (coin-flip), complete (fixed-number) and blocked (stratified) assignment apart, and count the assignments a design allows;
        2. reproduce the HLT's 50/50 design, and judge from the arm sizes what blocking the real tool may have used;
        3. build and read a baseline balance table (Tables 4-2 to 4-4), including why a few small p-values are expected;
        4. compute randomisation-inference p-values for a baseline difference and for a regression-adjusted impact.

        **Report tables covered:** Table 4-1 (arm sizes), Tables 4-2, 4-3 and 4-4 (baseline characteristics and
        tests). Randomisation inference is not in the report. It is the design-based check of its t-tests.
        """),
        code("""
        %matplotlib inline
        import os

        import numpy as np
        import pandas as pd

        from hlt_replicate import impact as im
        from hlt_replicate import randomisation as ra
        from hlt_replicate import vocab
        from hlt_replicate.teaching import load_trial, respondents, wire
        from hlt_replicate.lessons import ch01 as lesson
        from hlt_replicate.lessons.ch01 import check, show_solution

        pd.set_option("display.width", 140)
        data = load_trial().data
        """),
        md("""
        The number of re-randomisations used for randomisation inference is a parameter. It is set high for teaching,
        and CI can lower it with an environment variable.
        """),
        code("""
        N_PERM = int(os.environ.get("HLT_CI_PERM", 2000))      # re-randomisations for RI p-values
        N_WIDGET_PERM = int(os.environ.get("HLT_CI_WIDGET_PERM", 500))  # per widget update (kept fast)
        """, tags=("parameters",)),
        md("""
        ## 1 · Coin flips or a fixed number?

        With **simple** assignment every unit flips its own coin, so the number treated varies from draw to draw. With
        **complete** assignment exactly *m* of *n* are treated (`ra.complete_ra`). Every unit still has probability
        *m/n* of treatment, but the arms always have the planned sizes. The kit's verbs follow R's `randomizr`:
        """),
        code("""
        print("simple:  ", ra.simple_ra(10, seed=1))
        print("complete:", ra.complete_ra(10, m=5, seed=1))
        print("possible complete assignments of 5 out of 10:", ra.declare_ra(10, m=5).num_permutations)
        """),
        code("lesson.arm_size_spread(n=100, draws=2000, seed=0)"),
        md("""
        ## 2 · The HLT's tool: 50/50 within trial group

        The report says the 50/50 split "was hard-wired into the software used to conduct the allocation". The kit's
        `ra.hlt_design` declares that design: complete assignment, half of each trial group. The arm sizes in the data
        are Table 4-1's (the cell below is checked in CI):
        """),
        code(f"""
        {CHECK}
        print(lesson.assignment_check(data).to_string())
        """),
        md("""
        Complete assignment within a group leaves a gap of at most one, when the group has an odd number of recruits.
        SCR OOW's published gap is larger, so the real tool cannot have been a single 50/50 lottery over the whole
        group. It may have balanced within finer **blocks** (area, intake period) or as recruits arrived. Every odd-sized
        block can add one to the gap:
        """),
        code("""
        pd.concat([lesson.block_summary(data, strata, "SCR_OOW") for strata in list(lesson.STRATA.values())[1:]])
        """),
        md("""
        Blocking also removes assignments: the more blocks, the fewer possible assignments (the last column is log₁₀ of
        their number). Blocking removes only the assignments that put most of a block in one arm, which are the
        unbalanced ones. A fresh assignment with the HLT's design, blocked by area as well:
        """),
        code("""
        z = ra.assign_hlt(data, seed=2024, strata=("group", "area"))
        pd.crosstab([data.group, data.area], z).head(6)
        """),
        md("""
        ## 3 · Balance tables (Tables 4-2 to 4-4)

        Randomisation makes the arms alike *in expectation*. A balance table checks one realisation. The report's tables
        show each characteristic in the full randomised population, in the 4-month respondent sample, and in the
        sample's two arms (weighted, see lesson 02), with a test of the treatment–control difference. For a block such
        as qualification, a joint test covers all its levels. `lesson.formatted_balance` lays out
        `hlt_replicate.balance.balance_table` as printed, for SCR IW (Table 4-2):
        """),
        code('lesson.formatted_balance(data, "SCR_IW")'),
        md("""
        The synthetic data reproduce the published *population* column exactly: it is a calibration target. The test
        column comes from one random draw of the synthetic trial, so it cannot match the real trial's draw. Placed side
        by side, both columns look like what they are, p-values from a fair lottery:
        """),
        code('lesson.balance_vs_published(data, "SCR_IW")'),
        md("""
        The report found a "notable" difference in qualifications in two groups and rightly added that with many
        comparisons, "a small proportion would be expected to register as statistically significant purely by chance".
        Under randomisation a p-value is uniformly distributed, so with ten rows per table and three tables, one or two
        p-values below 0.05 are what a fair lottery produces.

        ## 4 · Randomisation inference

        A t-test relies on a sampling model. **Randomisation inference** (RI) uses only the design. Under Fisher's *sharp
        null hypothesis* (assignment changed nobody's outcome), re-running the lottery would leave every outcome as it
        is, so we can recompute the statistic under thousands of alternative assignments drawn from the same design. The
        p-value is the share of them at least as extreme as the one observed. For a baseline characteristic the sharp
        null is true by construction, so the p-value is a balance check:
        """),
        code("""
        ri_age = lesson.ri_covariate(data, "age", "WMCA_OOW", n_perm=N_PERM, seed=0)
        lesson.ri_figure(ri_age, title="WMCA OOW: difference in mean age", xlabel="Treatment − control (years)")
        """),
        md("""
        RI works for any statistic, including the report's regression-adjusted impact. `ra.ri_impact` permutes the
        assignment among respondents within trial group and recomputes the weighted regression coefficient. It uses
        the Frisch–Waugh–Lovell theorem, so a thousand permutations cost two matrix products. Here it is beside the
        robust t-test for SCR IW's primary outcomes:
        """),
        code("""
        resp = respondents(data)
        pd.DataFrame({
            o: {"impact": im.estimate_itt(resp, o, "SCR_IW").impact,
                "p (robust t-test)": im.estimate_itt(resp, o, "SCR_IW").p,
                "p (randomisation)": ra.ri_impact(resp, o, "SCR_IW", n_perm=N_PERM, seed=1).p}
            for o in vocab.PRIMARY_OUTCOMES
        }).T.round(4)
        """),
        md("""
        With samples this size the two agree closely. RI has Monte Carlo error (about √(p(1−p)/N_PERM)) and cannot go
        below 1/(N_PERM+1). It needs no assumption about the outcome's distribution. It tests the *sharp* null of no
        effect for anyone, while the t-test tests no *average* effect.

        ## 5 · Try it: re-randomise

        Draw a fresh assignment of every recruit with a seed and a blocking scheme. The widget shows the arm
        sizes in one trial group, the balance of that draw across all its randomised recruits (no non-response here),
        and the randomisation distribution of one covariate's difference in means under your design. The outline is the
        HLT's own design, for comparison. Things to try:

        * *Blocks: none*: arm sizes in a group now vary, because only the total is fixed;
        * *group × area* with the covariate *lives in the group's largest area*: the distribution collapses to zero, because
          blocking on a variable balances it exactly;
        * the same blocking with *age*: almost no change, because blocking helps only with what it blocks on, or with what
          is correlated with it;
        * change the seed a few times and watch the balance p-values move around.
        """),
        widget_cell("""
        wire(lesson.rerandomise_view, lesson.rerandomise_controls(), data, n_perm=N_WIDGET_PERM, row=True)
        """),
        md("## 6 · Exercises"),
        *exercise("ex1", """
        **Exercise 1 (counting assignments).** Twelve units form two blocks of six, and three are treated in each block.
        How many different assignments can this design produce?
        """, "a whole number"),
        *exercise("ex2", """
        **Exercise 2 (the SCR OOW gap).** Suppose the tool had balanced 50/50 within blocks of *area × cohort* inside SCR OOW.
        What is the largest treatment–control gap |T − C| that design could produce in SCR OOW? Is the published gap
        consistent with it?
        """, "a whole number of recruits"),
        *exercise("ex3", """
        **Exercise 3 (RI for a baseline difference).** Among *all* randomised WMCA OOW recruits, compute the two-sided
        randomisation-inference p-value of the treatment–control difference in mean age (2,000 re-randomisations with
        the observed arm sizes, seed 0).
        """, "a p-value between 0 and 1"),
        md("""
        ## Summary

        * Complete assignment fixes the arm sizes. Blocking fixes them within each block and rules out the unbalanced
          assignments. `ra.declare_ra` counts and draws the possible assignments, and `ra.hlt_design` is the HLT's 50/50
          design.
        * Table 4-1's arm sizes fit complete assignment within group except in SCR OOW, whose gap needs finer blocks (or
          sequential allocation). The number of odd-sized blocks bounds the gap.
        * Balance tables compare the arms on baseline characteristics. Under randomisation their p-values are uniform,
          so an occasional small one is expected, as the report notes.
        * Randomisation inference re-runs the lottery under the sharp null. For baseline covariates it is a balance
          check. For impacts (`ra.ri_impact`) it agrees with the robust t-tests here, without their assumptions.

        Next: **02 · non-response and weighting**. Only just over half of the recruits answered the survey, so the
        respondents are no longer a randomised comparison.
        """),
    ]


# =========================================================================================
# 02 · Non-response and weighting
# =========================================================================================
def nb02() -> list:
    return [
        md("""
        # 02 · Non-response and weighting

        Randomisation makes the two arms comparable, but the 4-month outcomes come from a survey that only some
        recruits answered, and the treatment group answered more often (Table 4-1). The respondents in the two arms are
        therefore not two random halves of one population. The report weights the respondents "to be observationally
        similar" to the randomised population, without saying how. This notebook builds such weights step by step, checks
        them, and compares them with the truth that only a synthetic trial can reveal.

        **Learning objectives.** By the end you should be able to
        1. reproduce Table 4-1 and test the treatment–control gap in response rates;
        2. model response with a logit and turn it into inverse-propensity weights;
        3. trim extreme weights and rake weights to population margins, and say what each does;
        4. diagnose weights with standardised differences (a love plot), Kish's design effect and the effective sample size;
        5. reproduce the weighted sample columns of Tables 4-2 to 4-4 and Table 4-5's check in the SAP decision rule;
        6. compare estimated response propensities with the true ones, and explain why weights cannot fix everything.

        **Report tables covered:** Table 4-1 (numbers randomised and surveyed), Tables 4-2 to 4-4 ("4-month sample,
        weighted" columns), Table 4-5 (treatment–control differences in baseline outcomes).
        """),
        code("""
        %matplotlib inline
        import os

        import numpy as np
        import pandas as pd

        from hlt_replicate import charts, vocab
        from hlt_replicate import weighting as wt
        from hlt_replicate.multiple_testing import sap_decision_rule
        from hlt_replicate.teaching import load_trial, wire
        from hlt_replicate.lessons import ch02 as lesson
        from hlt_replicate.lessons.ch02 import check, show_solution

        pd.set_option("display.width", 150)
        trial = load_trial()
        data = trial.data
        """),
        code("""
        N_WY = int(os.environ.get("HLT_CI_WY", 2000))   # Westfall-Young permutations for Table 4-5
        """, tags=("parameters",)),
        md("""
        ## 1 · Table 4-1: the response gap

        Reproduced counts and response rates beside the published ones. The published values are read from the targets
        file, and the cell is checked in CI:
        """),
        code(f"""
        {CHECK}
        print(lesson.table_4_1(data).to_string())
        """),
        md("""
        The report says the treatment group's higher response rate is "in all cases … statistically significant".
        `wt.response_rates` adds the difference and a χ² test of it (equivalently, a two-sample test of proportions):
        """),
        code("wt.format_response_table(wt.response_rates(data))"),
        md("""
        ## 2 · Who responds? A response-propensity model

        If response depended only on characteristics recorded at randomisation, we could model it and reweight. The
        standard model is a logistic regression of `responded` on baseline characteristics and the arm, fitted separately
        in each trial group. Each respondent's weight is then 1 / (estimated probability of responding). Respondents who
        resemble many non-respondents count for more. The kit then scales each arm's weights so that the two arms keep
        the split of the randomised recruits (about 50:50), and the weights have mean 1 within the group. The report's
        weighted "sample" columns imply that step: each one lies between its control and treatment columns at the point
        the randomised split puts it (`normalise="group"` skips it).

        One more choice: the first intake period (May-Jun 2018, 4 % of recruits) shares the second's indicator in the
        model (`wt.RESPONSE_POOLED_LEVELS`; `pooled={}` gives it its own). The report's weighted columns leave a quarter
        to a half of that cohort out in every group, which weights with its own indicator would not do: they pull a
        level's weighted share back towards its population share.
        """),
        code("""
        p_hat = wt.response_propensity(data)          # logit on SAP controls + work history + arm, per group
        w_ipw = wt.ipw_weights(data)                   # 1 / p_hat, arms kept at their randomised split, mean 1 per group
        print("same as the weights load_trial attaches:", np.allclose(w_ipw.dropna(), data.weight.dropna()))
        data.assign(p_hat=p_hat).groupby(["group", "treat", "responded"])["p_hat"].mean().unstack().round(3)
        """),
        md("""
        ## 3 · Diagnostics: do the weights work?

        Weights are judged by what they do. There are three standard checks:

        * **Balance against the population**: the absolute standardised difference (ASMD) between respondents and all
          randomised recruits, for each characteristic, before and after weighting. A common rule of thumb calls an
          ASMD below 0.1 negligible. The **love plot** shows them all;
        * **Balance between the arms** among respondents: the arms should look alike again once weighted;
        * **the cost**: unequal weights inflate variance. Kish's design effect n Σw² / (Σw)² says by how much, and the
          effective sample size n / deff says how many unweighted respondents the weighted sample is worth.
        """),
        code("""
        asmd = wt.asmd_table(data, "SCR_IW", lesson.ASMD_VARIABLES, compare="population")
        charts.love_plot(asmd, title="SCR IW: respondents against all randomised recruits")
        """),
        code("lesson.diagnostics(data, data.weight)"),
        md("""
        ## 4 · Trimming and raking

        **Trimming** caps extreme weights (here at *k* times the group's mean weight) and hands the excess to the other
        weights, so each group's total is kept (`wt.trim_weights`). It trades a little bias for less variance. **Raking**
        (iterative proportional fitting) rescales the weights until their margins of chosen characteristics match the
        randomised population exactly (`wt.rake_to_population`, within group × arm). `lesson.make_weights` chains the
        steps as `wt.survey_weights` does:
        """),
        code("""
        variants = {
            "IPW": data.weight,
            "IPW, cap 1.5 × mean": lesson.make_weights(data, trim="cap", k=1.5),
            "IPW, raked": lesson.make_weights(data, rake=True),
        }
        pd.concat({name: lesson.diagnostics(data, w) for name, w in variants.items()}).round(3)
        """),
        md("""
        Raking makes its margins exact. Here is the share of women among SCR IW treatment-group respondents before and
        after, against the share among all recruits randomised to treatment in SCR IW:
        """),
        code("""
        r = data[(data.group == "SCR_IW") & (data.treat == 1) & (data.responded == 1)]
        pop = data[(data.group == "SCR_IW") & (data.treat == 1)]
        pd.Series({"population": pop.female.mean(), "respondents, unweighted": r.female.mean(),
                   **{name: np.average(r.female, weights=w[r.index]) for name, w in variants.items()}}).round(4)
        """),
        md("""
        ## 5 · The weighted baseline tables (Tables 4-2 to 4-4)

        With weights, the "4-month sample, weighted" columns should come close to the full population. Reproduced beside
        published, for SCR OOW (Table 4-3). The population column is a calibration target. The sample columns and tests
        are only compared, since they depend on who happened to respond and on the report's undocumented weights:
        """),
        code('lesson.baseline_comparison(data, "SCR_OOW")'),
        md("""
        ## 6 · The SAP decision rule and Table 4-5

        The statistical analysis plan (SAP) has a rule for exactly this risk. **If** response rates differ by more than
        5 points between the arms **and** baseline job-search efficacy, employment, health or wellbeing differ
        significantly between responding arms (weighted regressions on the controls, Westfall–Young adjusted), **then**
        the survey outcomes are demoted and the administrative outcomes become primary. The gap exceeds 5 points in SCR,
        so Table 4-5 applies the second test. The differences and standard errors are calibration targets. The
        Westfall–Young p-values (adjusted over the five outcomes of each group, `hlt_replicate.multiple_testing`) are
        only compared:
        """),
        code("lesson.table_4_5(data, reps=N_WY)"),
        md("""
        `hlt_replicate.multiple_testing.sap_decision_rule` applies the whole rule to one group (response gap, then the
        adjusted tests) and says why it does or does not trigger:
        """),
        code("""
        for g in vocab.GROUPS:
            print(sap_decision_rule(data, g, reps=N_WY).summary())
        """),
        md("""
        An unadjusted p-value can dip close to or below 0.05 (look at the EQ5D5L rows). The rule uses adjusted p-values,
        and after the adjustment none is significant, so the primary outcomes stand, as the report concludes. The
        SWEMWBS row of the published table repeats the "looking for work" row digit for digit, so the targets file flags
        it as a published inconsistency and does not aim at it.

        ## 7 · The truth: estimated against true propensities

        The synthetic trial records every recruit's **true** probability of responding. The estimated propensities track
        them, but far from perfectly:
        """),
        code("lesson.propensity_view(trial)"),
        md("""
        The true response model (`trial.truth["groups"][g]["response_effects"]`) includes an unobserved health factor,
        which no baseline column records. Weights can only balance what the response model sees. Whatever response
        depends on beyond that stays in the respondent sample after weighting. Lesson 03 measures the consequences with
        the 12-month outcome, which is observed for everyone.
        """),
        code('pd.Series(trial.truth["groups"]["SCR_IW"]["response_effects"])'),
        md("""
        ## 8 · Try it: build your own weights

        Choose the covariates of the response model, a trimming rule and whether to rake. The diagnostics, the love plot,
        the distribution of the weights and the weighted Table 4-2, 4-3 or 4-4 update. Things to try:

        * drop every covariate (an *arm-only* model): the weights only fix the arm's response rate, and the population
          ASMDs stay where they were;
        * drop `work_history`: which imbalance comes back?
        * a tight cap (k = 1.2): the design effect falls and the largest ASMD rises;
        * raking: the raked margins (gender, qualification, area, cohort) match the population exactly.

        (The trimming parameters apply only to their own rule: *cap k* to the cap, *percentile* to winsorising.)
        """),
        widget_cell("""
        wire(lesson.weights_view, lesson.weights_controls(), data, row=True)
        """),
        md("## 9 · Exercises"),
        *exercise("ex1", """
        **Exercise 1 (Table 4-1).** What is the treatment-minus-control difference in response rates in SCR IW, in
        percentage points?
        """, "percentage points, e.g. 5.0"),
        *exercise("ex2", """
        **Exercise 2 (design effect).** What is Kish's design effect of the default survey weights (`data.weight`)
        among WMCA OOW respondents?
        """, "a number, a little above 1"),
        *exercise("ex3", """
        **Exercise 3 (raking).** Rake the weights to the population margins (`lesson.make_weights(data, rake=True)`). What
        is the weighted share of women among SCR IW *treatment-group* respondents? Compare it with the share among all
        recruits randomised to treatment in SCR IW.
        """, "a share between 0 and 1"),
        *exercise("ex4", """
        **Exercise 4 (the truth).** Within SCR IW, what is the correlation between the estimated response propensities
        (`wt.response_propensity(data)`) and the true ones (`lesson.true_propensity(trial)`)?
        """, "a correlation between -1 and 1"),
        md("""
        ## Summary

        * The treatment arm answered the survey more often in every group, and the gap is largest in SCR IW.
          Respondents are no longer a randomised comparison.
        * Inverse-propensity weights from a logit on baseline characteristics and arm move respondents back towards the
          randomised population. Trimming caps extreme weights at a small cost in bias. Raking makes chosen margins match
          the population exactly.
        * Diagnose weights by their balance (ASMD, love plot) and their cost (Kish's design effect, effective n). The
          HLT's weights vary little: the design effect is close to 1.
        * The SAP decision rule's second test (Table 4-5) finds no significant baseline difference, so the primary
          outcomes stand. The printed SWEMWBS row of Table 4-5 is a copy of another row.
        * The true propensities show the limit of weighting: response that depends on unobserved health is invisible to
          the model. Lesson 03 measures what that does to the impact estimates.
        """),
    ]


# =========================================================================================
# 03 · Impact estimation
# =========================================================================================
def nb03() -> list:
    return [
        md("""
        # 03 · Impact estimation

        Chapter 4's results are regression estimates. For each outcome, the report regresses the outcome on a treatment
        dummy and the SAP's control variables, weighted by the survey weights, among survey respondents ("all impacts
        were estimated using linear regression, as described in the SAP"). This notebook reproduces them all: primary
        and secondary outcomes, pooled groups, subgroups, and the impact of actually receiving IPS. It then asks the
        question a real evaluation cannot answer: how close are the estimates to the truth?

        **Learning objectives.** By the end you should be able to
        1. estimate an intention-to-treat (ITT) impact by weighted OLS with robust standard errors, and read it as the report does (ppt, units, standard deviations);
        2. reproduce the secondary-outcome tables, including pooled groups, and explain the stars (multiple-testing adjustment);
        3. estimate and interpret subgroup impacts and their interaction tests;
        4. turn the ITT into the impact of participation by instrumental variables (the Bloom ratio);
        5. compare estimates with the synthetic truth, and use the 12-month outcome (observed for everyone) to measure what non-response does.

        **Report tables covered:** the primary-outcome Figures 4-2 to 4-4 (and their siblings for the other groups),
        secondary outcomes in Tables 4-8 (SCR IW), 4-10 (SCR OOW), 4-12 (SCR pooled), 4-14 (WMCA OOW) and 4-15 (OOW pooled),
        participation in Tables 4-9, 4-11 and 4-13, the subgroup Figures 4-5 to 4-8, and the 12-month impacts of the IES
        blog's Table 1.
        """),
        code("""
        %matplotlib inline
        import os

        import pandas as pd

        from hlt_replicate import impact as im
        from hlt_replicate import vocab
        from hlt_replicate.teaching import load_trial, respondents, wire
        from hlt_replicate.lessons import ch03 as lesson
        from hlt_replicate.lessons.ch03 import check, show_solution

        pd.set_option("display.width", 160)
        trial = load_trial()
        data = trial.data
        resp = respondents(data)
        """),
        code("""
        N_WY = int(os.environ.get("HLT_CI_WY", 10000))     # Westfall-Young resamples for the adjusted p-values
        N_SIM = int(os.environ.get("HLT_CI_REPS", 1000))   # simulated surveys in section 8
        """, tags=("parameters",)),
        md(r"""
        ## 1 · The ITT regression

        For respondent *i* in a trial group,

        $$y_i = \alpha + \beta\,T_i + \gamma' x_i + \delta\, y^{\text{baseline}}_i + \varepsilon_i,$$

        estimated by weighted least squares with the survey weights. *T* is random assignment. *x* holds the SAP's
        controls: age, gender, ethnicity, partner, children, qualification, health condition, area and cohort (as
        dummies). The baseline value of the outcome is added where one exists. **β is the intention-to-treat impact**,
        the effect of being *offered* IPS. Standard errors are heteroskedasticity-robust (HC1, as Stata's `robust`).
        Continuous outcomes are also shown as an **effect size**, the impact divided by the outcome's standard deviation
        among control respondents. A few recruits have no recorded qualification (the "Base" ranges under Tables
        4-2..4-4): they stay in, with a dummy for the missing value (the missing-indicator method; see
        `missing_controls` in `im.build_design`).
        """),
        code("""
        res = im.estimate_itt(resp, "swemwbs", "SCR_IW")
        print(f"impact {res.impact:.3f} (SE {res.se:.3f}, p = {res.p:.4f}), effect size {res.effect_size:.2f} SD, base {res.nobs:,}")
        print("regressors:", ", ".join(res.fit.names[:6]), "…", f"({len(res.fit.names)} in all)")
        """),
        md("""
        ## 2 · Primary outcomes (Figures 4-2 to 4-4)

        The report draws the raw control and treatment means as bars, "with the estimated impact shown in a box above",
        in percentage points for employment and in units and standard deviations for health and wellbeing. The
        figures themselves were lost when the report was converted to text. The kit redraws them:
        """),
        code('lesson.primary_figures(data, "SCR_IW")'),
        md("""
        ## 3 · Secondary outcomes (Tables 4-8, 4-10, 4-14)

        The same regression for nine secondary outcomes. Table 4-8 (SCR IW), reproduced beside the published cells.
        Binary outcomes are shares, as the tables print them. This cell is checked in CI:
        """),
        code(f"""
        {CHECK}
        t48 = lesson.secondary_comparison(data, "SCR_IW")
        print(t48[["Impact", "published Impact", "S.E.", "published S.E.", "Base", "published Base"]].to_string())
        """),
        md("""
        The report's stars come from p-values "adjusted to take account of multiple testing" (algorithm 2.8 of Westfall
        and Young, 1993). This is a resampling step-down procedure that controls the chance of any false positive across
        the table's outcomes while respecting their correlation. The report gives two different sets of thresholds:
        §4.3 says 90/95/99% significance, and footnote 15 says p<0.05/0.01/0.001. `im.STAR_CONVENTIONS` holds both, and
        the kit's default is the one printed below. With adjusted p-values:
        """),
        code("print(lesson.stars_rule())"),
        code("""
        lesson.secondary_comparison(data, "SCR_IW", p_adjust="wy", reps=N_WY)[["Impact", "S.E.", "stars", "published stars"]]
        """),
        md("""
        The impacts and standard errors are calibration targets; the stars are only aimed at (each S.E. sits where,
        inside its rounding, the printed stars are most likely), so they can differ. Once the p-values are adjusted,
        the stars mostly agree with the printed ones. Unadjusted, more outcomes would earn a star (the widget in section 9
        shows unadjusted stars). WMCA OOW, Table 4-14:
        """),
        code('lesson.secondary_comparison(data, "WMCA_OOW")'),
        md("""
        ## 4 · Pooled groups (Tables 4-12 and 4-15)

        Tables 4-12 (SCR IW and OOW together) and 4-15 (the two out-of-work groups) pool groups. The regression gains
        trial-group dummies, so each group keeps its own level, and the impact becomes a precision-weighted mix of the
        group impacts. The pooled tables are *not* calibration targets: the synthetic pooled estimates follow from the
        group-level data. Where they differ from the report, the note column shows whether the targets file has found
        the printed row inconsistent with Tables 4-8 and 4-10 (for example a base larger than the two groups' bases
        combined):
        """),
        code('lesson.secondary_comparison(data, "SCR")'),
        code('lesson.secondary_comparison(data, "OOW_pooled")'),
        md("""
        ## 5 · Subgroups

        The report explores whether impacts differ by gender, age, work history in the two years before randomisation,
        and health severity (EQ-VAS). One fully interacted regression gives the impact in each subgroup, and a robust
        Wald test asks whether they differ (`im.subgroup_impacts`). The report's own verdict is that this is exploratory:
        there is no multiple-testing adjustment. For SCR OOW's employment the report found variation by work history:
        """),
        code('lesson.subgroup_view(data, "SCR_OOW", "paid_work")'),
        md("""
        In the synthetic trial every recruit in a group has the **same** true effect, so any subgroup difference you see
        here is chance. That is worth remembering when reading the real report's subgroup findings.

        ## 6 · Participation: the impact of receiving IPS (Tables 4-9, 4-11, 4-13)

        Not everyone offered IPS attended a session. The impact on those who participated is estimated by two-stage
        least squares, with random assignment as the instrument for attending at least one session. With one-sided
        non-compliance (controls cannot get IPS) this is the **Bloom ratio**: ITT ÷ (difference in participation rates).
        Participation among respondents is high, so the participation impacts "merely scale up" the ITT. WMCA has no
        participation table because almost everyone offered IPS attended.
        """),
        code('lesson.participation_comparison(data, "SCR_IW")'),
        code("""
        b = im.bloom_check(resp, "swemwbs", "SCR_IW")
        print(f"ITT {b.itt:.4f} / first stage {b.first_stage:.4f} = {b.bloom:.4f}; 2SLS {b.iv:.4f}")
        """),
        md("""
        Compare the sd.s columns for SCR OOW (`lesson.participation_comparison(data, "SCR_OOW")`): the printed "effect
        size" for wellbeing is several times the impact itself, on a scale whose standard deviation is well above 1. It
        cannot be an effect size, and the targets file records it as a published inconsistency.

        ## 7 · Estimates against the truth

        The synthetic trial knows each group's true effect τ. In **exact** mode the data are calibrated so that the
        report's estimator returns the published impacts, and τ is set to those same values. Estimate and truth
        therefore agree by construction:
        """),
        code('lesson.truth_comparison(trial, "SCR_IW")'),
        md("""
        The **sampled** mode runs the same data-generating process without the final calibration. It is an honest
        random draw, so the estimates scatter around τ, and about 95% of the confidence intervals should cover it:
        """),
        code("""
        sampled = load_trial(mode="sampled")
        truth_sampled = pd.concat({g: lesson.truth_comparison(sampled, g) for g in vocab.GROUPS})
        print(f"95% CIs covering τ: {truth_sampled['covers τ'].sum()} of {len(truth_sampled)}")
        truth_sampled.loc["SCR_IW"]
        """),
        md("""
        ## 8 · Twelve months: what non-response does

        All the 4-month estimates use survey respondents only. The 12-month outcome, sustained employment, comes from
        administrative records and exists for **every** recruit. It therefore lets us compare estimates from everyone
        with estimates from respondents only, and both with the truth. The respondent-only estimates are computed three
        ways: unweighted, with the survey weights, and with weights from the true response propensities, which no real
        survey has.
        """),
        code("lesson.sustained_comparison(trial)"),
        md("""
        A single trial mixes two kinds of error. **Bias** means respondents differ systematically. **Noise** means that
        only about half of the recruits are used. The truth lets us separate them. Re-draw who responds many times from
        each recruit's true propensity, and recompute the respondent-only difference in means each time:
        """),
        code('lesson.response_simulation(trial, "SCR_IW", reps=N_SIM, seed=0)'),
        md("""
        The average over simulated surveys minus the all-recruit value is the non-response **bias**, and the spread is
        the extra **noise**. Weighting by the true propensities removes the bias but not the noise. Weights estimated
        from baseline characteristics can do no better than the true ones. This is the logic of the SAP's decision rule,
        and of the final report's reliance on administrative outcomes.

        ## 9 · Try it: the report's charts and tables

        Pick a trial or pooled group, an outcome, the controls and whether to weight, and the ITT or the participation
        impact. The report-style chart and the table update: this estimate, the published cells (with their kind and any
        inconsistency) and, for trial groups, the synthetic truth. Things to try:

        * *Controls: none*: the impact barely moves (randomisation) but the standard error grows (less precision);
        * weights off for SCR IW: how much do the weights matter?
        * *Sustained employment, 12 months*: the table adds the estimate from all recruits;
        * *participation (IV)* for SCR OOW: the impact grows by the inverse of the participation rate.
        """),
        widget_cell("""
        wire(lesson.impact_view, lesson.impact_controls(), trial, row=True)
        """),
        md("## 10 · Exercises"),
        *exercise("ex1", """
        **Exercise 1 (effect size).** What is the effect size, in standard deviations, of the ITT impact on wellbeing
        (`swemwbs`) in SCR IW?
        """, "standard deviations"),
        *exercise("ex2", """
        **Exercise 2 (participation).** What is the impact of *participating* in IPS (attending at least one session) on
        health (`eq5d`) in SCR IW, with the report's controls and weights?
        """, "EQ5D5L units"),
        *exercise("ex3", """
        **Exercise 3 (12 months).** Estimate the ITT on `sustained_emp_12m` in SCR IW from survey **respondents only**,
        unweighted, with the SAP controls (and no baseline outcome). By how many percentage points does it differ from
        the true effect, `trial.truth["groups"]["SCR_IW"]["tau_sustained_emp_12m"]` (estimate − truth)?
        """, "percentage points"),
        *exercise("ex4", """
        **Exercise 4 (subgroups).** For employment (`paid_work`) in SCR OOW, which subgroup dimension has the smallest
        interaction p-value in the synthetic data: `"female"`, `"age_band"`, `"work_history"` or `"eqvas_band"`?
        """, "one of the four names, as a string"),
        md("""
        ## Summary

        * Every impact in chapter 4 is the coefficient on assignment in a weighted OLS regression on the SAP's controls
          (plus the baseline outcome), among respondents. Binary outcomes are reported in ppt. Continuous outcomes are
          reported in units and in control-group standard deviations.
        * The kit reproduces the group tables (4-8, 4-10, 4-14) to the printed digit. The pooled tables follow from the
          group data, and where they do not match, the report's printed rows are often inconsistent with its group tables.
        * The stars use Westfall–Young adjusted p-values. The report states two star conventions. Subgroup analysis is exploratory.
          In the synthetic trial all subgroup variation is chance.
        * Participation impacts are ITT ÷ first stage (2SLS = Bloom ratio). They are close to the ITT because almost
          everyone offered IPS took it up.
        * Exact-mode estimates equal the truth by construction. Sampled mode shows honest sampling error. The 12-month
          outcome, observed for all, separates non-response bias from noise: weighting can remove only the part of
          the bias that the response model sees.

        Next: **04 · multiple testing** takes the stars apart, and **05 · benefit-cost ratios** puts a value on these impacts.
        """),
    ]


# =========================================================================================
# 06 · The replication scorecard
# =========================================================================================
def nb06() -> list:
    return [
        md("""
        # 06 · The replication scorecard: every published number beside the kit's

        The lessons so far reproduced the report's tables one at a time. This notebook puts **every published number the
        kit can speak to** in one table, the *scorecard*: each printed cell of the 4-month report (DWP research report
        1033), of the IES blog's 12-month table and of RAND's business cases, beside the value the kit computes from the
        synthetic trial with its own estimators. It is what `hlt-replicate run` writes to `scorecard.csv`.

        A scorecard also makes you read the report critically. Some printed cells could not come out of *any* dataset:
        they contradict other printed cells. The kit's **audit** finds them from the printed numbers alone.

        **Learning objectives.** By the end of this notebook you should be able to
        1. build the scorecard of a trial and read its match rate over the reproducible cells;
        2. say what *match*, *close*, *miss* and *published-inconsistent* mean, and why the last are not scored;
        3. read a published table critically: duplicated rows, impossible bases, impossible means, effect sizes that
           contradict their impacts, and two star conventions;
        4. explain why a real replication, one random draw, cannot expect exact matches, using the kit's sampled mode.

        **Report tables covered:** all of chapter 4 (Tables 4-1 to 4-15) and its prose, with a closer look at Tables 4-5,
        4-6, 4-11, 4-12 and 4-13 and the star conventions of §4.3 and footnote 15; chapter 3's bases; the IES blog's
        Table 1; RAND Tables 1 to 4.
        """),
        code("""
        %matplotlib inline
        import os

        import pandas as pd

        from hlt_replicate.lessons import ch06 as lesson
        from hlt_replicate.lessons.ch06 import check, show_solution
        from hlt_replicate.teaching import published, wire

        pd.set_option("display.width", 160)
        pd.set_option("display.max_colwidth", 120)
        """),
        code("""
        REPS = int(os.environ.get("HLT_REPS", 1000))          # Westfall-Young resamples (hlt-replicate run --reps)
        SEED = int(os.environ.get("HLT_SEED", 0))             # the trial's seed (--seed)
        MODE = os.environ.get("HLT_MODE", "exact")            # exact or sampled (--mode)
        DATA = os.environ.get("HLT_DATA")                     # the run's generated trial, when run by hlt-replicate
        N_SEEDS = int(os.environ.get("HLT_CI_SEEDS", 3))      # sampled-mode seeds in section 3
        SAMPLED_REPS = int(os.environ.get("HLT_CI_SAMPLED_REPS", 200))  # resamples per sampled seed (kept fast)
        """, tags=("parameters",)),
        md("""
        ## 1 · The scorecard

        `lesson.scorecard()` calls `hlt_replicate.scorecard.build_scorecard` on the synthetic trial (seed 0, exact mode
        unless `hlt-replicate run` says otherwise). For each published cell it reads the printed value from the project's
        one transcription of the reports (the targets file and `published_extra.yaml`, each cell with its source line)
        and recomputes the value from the data: response rates, balance tables, Westfall–Young adjusted p-values, impact
        tables, participation impacts, prose claims and RAND's ratios. Each cell gets a **status**:

        * **match**: the reproduced value rounds to the printed one (a label such as stars or "weak evidence" is equal);
        * **close**: within one published standard error of the same row (impacts) or one unit of the last printed
          digit; for stars and significance bands, one step away;
        * **miss**: anything else;
        * **published-inconsistent**: no dataset could print this value, because it contradicts other printed cells.
          The audit (section 2) or the targets file says why. These cells are **not scored**.

        The **match rate** is the share of *reproducible* cells (match, close or miss) that match.
        """),
        code("""
        card = lesson.scorecard(seed=SEED, mode=MODE, reps=REPS, data_dir=DATA)
        lesson.match_summary(card)
        """),
        md("""
        One cell of each status. Read the `note` column: it names the estimator behind the value, or, for a close or
        missed cell, the group of cells the generator does not calibrate or aims at only as best effort (the
        Westfall-Young significance stars, the baseline tables' joint p-values, for example). For a
        published-inconsistent cell, the note gives the arithmetic.
        """),
        code("lesson.status_examples(card)"),
        md("""
        The key result, stored in the notebook and checked in CI: Table 4-1 (numbers randomised and surveyed) and
        Table 4-8 (SCR IW impacts), the two tables the calibration aims at most directly, match cell for cell. Table
        4-8's significance stars are left out: they come from Westfall-Young adjusted p-values, which depend on all
        nine outcomes jointly. The generator only aims at them (it places each S.E. inside its rounding where a
        simple approximation says the printed stars need it), so they can fall either side of a threshold.
        """),
        code(f"""
        {CHECK}
        estimates = card[card["statistic"] != "stars"]
        print(lesson.status_counts(estimates, ["Table 4-1", "Table 4-8"]).to_string())
        print("published-inconsistent cells in all:", int((card["status"] == "published-inconsistent").sum()))
        """),
        md("""
        By table, in reading order. In the baseline tables (4-2 to 4-4) the population column and the treatment-control
        differences are calibration targets; the weighted sample and arm columns are aimed at as best effort (a few
        stay out) and so are the joint p-values of the categorical blocks; the base rows are targets too (qualification
        is missing for as many recruits as the lowest base implies). The pooled-SCR tables (4-12, 4-13, 4-15)
        follow from the group data, so where a pooled cell misses, check whether the report's own group tables agree
        with it.
        """),
        code("lesson.status_counts(card)"),
        md("""
        Filter the scorecard by table and status. Things to try: Table 4-12 with status *published-inconsistent*; the
        *miss* cells of Table 4-2; the *close* cells of every table (the few there are: a weighted level, a star, a
        pooled S.E.); the RAND tables.
        """),
        widget_cell("""
        wire(lesson.scorecard_view, lesson.scorecard_controls(card), card, row=True)
        """),
        md("""
        ## 2 · The audit: reading a published table critically

        `hlt_replicate.audit.audit_reports()` needs no data at all. It checks the arithmetic every printed cell must
        obey, allowing for rounding: totals add up, shares sum to one, a pooled base is the sum of its groups' bases, a
        mean lies within what its own distribution allows, an effect size agrees with its impact and a plausible
        standard deviation, stars agree with impact/S.E. Each check is *consistent*, *inconsistent* (no dataset could
        print it), *convention* (holds under one stated convention only) or *notable*.
        """),
        code("""
        aud = lesson.audit()
        lesson.audit_summary(aud)
        """),
        md("""
        ### A duplicated row (Table 4-5)

        Table 4-5 compares baseline measures of the two arms among respondents. One row is a cell-for-cell copy of
        another. The copy could still be a coincidence, so the audit asks whether the copied numbers could belong to
        the row they sit in: a standard error implies a standard deviation, given the number of respondents, and the
        implied one fits a 0/1 variable, not a wellbeing scale.
        """),
        code('lesson.finding_view(aud, card, "duplicated row")'),
        md("""
        ### An impossible base (Table 4-12)

        Table 4-12 pools SCR's two groups. A pooled base counts each respondent once, so it can be at most the number of
        respondents (Table 4-1) and should equal the sum of the groups' bases in Tables 4-8 and 4-10. The
        life-satisfaction row fails both tests, and its numbers repeat Table 4-15's row: another copy. The kit still
        reproduces the row from the pooled data (look at the `reproduced` column), but does not score it.
        """),
        code('lesson.finding_view(aud, card, "impossible base")'),
        md("""
        ### Effect sizes that contradict their impacts (Tables 4-11 and 4-13)

        An effect size is the impact divided by the outcome's standard deviation, so the two printed numbers imply a
        standard deviation. For health (EQ5D5L), a non-zero impact printed as zero standard deviations would need a
        standard deviation larger than the scale allows. For wellbeing, the printed effect size would need a standard
        deviation far smaller than the residual spread that the row's own S.E. implies. The summary prose gives yet
        another value.
        """),
        code('lesson.finding_view(aud, card, "effect size")'),
        md("""
        ### Means below their distribution's minimum (Table 4-6)

        Table 4-6 gives the distribution of IPS sessions in bins and the mean. Put every recruit at the lowest count of
        their bin and you get the smallest mean the distribution allows. The printed means of the *all treatment-group
        recruits* column fall below that bound in every trial group, so they cannot be means of the printed
        distributions. (Exercise 3 asks you to compute the bound.)
        """),
        code('lesson.finding_view(aud, card, "impossible mean")'),
        md("""
        ### Two star conventions (§4.3 and footnote 15)

        The report states two rules for its stars: §4.3 says one, two or three asterisks mark significance at 90, 95 and
        99%, and a footnote gives p < .05/.01/.001. Almost every printed star fits both. The audit lists the cells that
        fit only one, and the prose calling a one-star result "weak evidence" follows §4.3. The scorecard reproduces stars
        under §4.3 and notes the footnote's in each cell.
        """),
        code('lesson.finding_view(aud, card, "stars")'),
        md("""
        ## 3 · Sampling variation: why a real replication cannot expect exact matches

        The exact trial is calibrated so that the kit's estimators return the published marginals. A real replication
        with the real microdata would also match, up to differences in method. But the true job of a replication is
        different: a *new* trial, or a new survey, is one random draw. The kit's **sampled** mode runs the same
        data-generating process without the final calibration. Here are a few sampled seeds (CI-sized: few seeds and
        few Westfall–Young resamples) beside the exact trial. `hlt-replicate run --mode sampled` scores twenty.
        """),
        code("""
        exact = card if MODE == "exact" else lesson.scorecard(seed=SEED, mode="exact", reps=REPS)
        cards = lesson.sampled_cards(seeds=range(SEED + 1, SEED + 1 + N_SEEDS), reps=SAMPLED_REPS)
        lesson.sampling_view(exact, cards)
        """),
        md("""
        The match rate collapses, yet nothing is wrong: the impacts scatter around the published values by about one
        published standard error, which is what a standard error means. Compare the spread over seeds with the
        published S.E. of each SCR IW impact:
        """),
        code('lesson.cell_spread(exact, cards, table="Table 4-8", statistic="impact")'),
        md("""
        So judge a replication by *close* (within a standard error) and by whether the conclusions hold (signs,
        significance bands), not by exact matches. Exact matches are what you expect from the same data and the same
        code; a different draw gives close ones.

        ## 4 · Exercises

        Exercises 1 to 3 use the exact trial (seed 0), exercise 4 the sampled seeds 1 to 3.
        """),
        *exercise("ex1", """
        **Exercise 1 (the match rate).** What share of the *reproducible* cells of the exact trial's scorecard match
        (a number between 0 and 1)?
        """, "a share between 0 and 1"),
        *exercise("ex2", """
        **Exercise 2 (Table 4-12).** By how many respondents does Table 4-12's printed base for life satisfaction
        exceed the sum of the same row's bases in Tables 4-8 (SCR IW) and 4-10 (SCR OOW)? Read the printed cells with
        `published(...)`.
        """, "a whole number of respondents"),
        *exercise("ex3", """
        **Exercise 3 (Table 4-6).** Put every WMCA OOW treatment-group recruit at the lowest number of IPS sessions of
        their bin (the *all* column, `statistic="pct_all"`). What mean number of sessions does that give? Compare it with
        the printed mean.
        """, "a number of sessions"),
        *exercise("ex4", """
        **Exercise 4 (sampling).** Which Table 4-1 statistic matches in every sampled seed: `"randomised"`,
        `"respondents"` or `"response_pct"`? Why?
        """, "one of the three names, as a string"),
        md("""
        ## Summary

        * The scorecard sets every published number beside the kit's. The match rate counts only reproducible cells:
          published-inconsistent cells, which no dataset could print, are listed with their reason and not scored.
        * The exact synthetic trial matches Table 4-1 and the group impact tables cell for cell. Its misses sit in what
          the generator does not calibrate: the baseline tables' weighted columns and p-values, some pooled cells.
        * Reading a table critically means checking its arithmetic: rows copied in typesetting (Tables 4-5, 4-12),
          bases larger than the sample, means outside their distribution (Table 4-6), effect sizes that contradict
          their impacts (Tables 4-11, 4-13), and two star conventions. The audit finds all of these from the printed
          numbers alone.
        * One random draw of the same process matches far fewer cells, but lands within about a standard error. A real
          replication should be judged by *close* and by its conclusions, not by exact matches.
        """),
    ]


NOTEBOOKS = {
    "00_start_here.ipynb": nb00,
    "01_randomisation.ipynb": nb01,
    "02_nonresponse_weighting.ipynb": nb02,
    "03_impact_estimation.ipynb": nb03,
    "06_replication_scorecard.ipynb": nb06,
}


def build(name: str) -> nbf.NotebookNode:
    cells = NOTEBOOKS[name]()
    stem = name.split("_")[0]
    for i, cell in enumerate(cells):
        cell["id"] = f"nb{stem}-{i:03d}"
    nb = nbf.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbf.validate(nb)
    return nb


def strip(nb: nbf.NotebookNode) -> nbf.NotebookNode:
    """Keep outputs of NBVAL_CHECK_OUTPUT cells only; no execution counts, timings or widget state."""
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}  # not the executing Python's version
    n_code = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        n_code += 1
        cell.execution_count = None
        if cell.source.splitlines()[0].strip() == CHECK:
            # nbval skips a cell with outputs but no execution count ("unrun reference cell"):
            # number checked cells by their position, which is deterministic.
            cell.execution_count = n_code
            cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "execute_result", "display_data")]
            for o in cell.outputs:
                if "execution_count" in o:
                    o["execution_count"] = n_code
        else:
            cell.outputs = []
    return nb


def execute(nb: nbf.NotebookNode, timeout: int = 600) -> float:
    from nbclient import NotebookClient

    t0 = time.perf_counter()
    from hlt_replicate.run import SlicedShellWait

    with SlicedShellWait():  # nbclient can miss a reply after a widget cell (jupyter/nbclient#312)
        NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(NB_DIR)}}).execute()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("only", nargs="*", help="notebook prefixes to build (e.g. 01 03); default all")
    ap.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = ap.parse_args(argv)
    names = [n for n in NOTEBOOKS if not args.only or any(n.startswith(p) for p in args.only)]
    for name in names:
        nb = build(name)
        seconds = None if args.no_execute else execute(nb)
        path = NB_DIR / name
        nbf.write(strip(nb), path)
        kept = sum(1 for c in nb.cells if c.cell_type == "code" and c.outputs)
        took = "" if seconds is None else f"{seconds:5.1f} s, "
        print(f"{name:34s} {took}{path.stat().st_size / 1024:5.1f} kB, {kept} checked cell(s) with output")
    return 0


if __name__ == "__main__":
    sys.exit(main())
