"""Lesson 00 (``notebooks/00_start_here.ipynb``): the trial, the data and the calibration.

Widget callbacks (pure functions returning a :class:`~hlt_replicate.teaching.View`):

* :func:`column_view` — one column of the synthetic data: its data-dictionary entry, a
  summary by trial group (or arm, or response) and a chart (histogram, shares, or monthly
  recruitment for the randomisation date, as in Figure 4-1);
* :func:`calibration_view` — the calibration report filtered by report table and status,
  with the status counts per table and published against achieved values.

Exercises ``ex1``-``ex3``: :func:`check`, :func:`show_solution`, :func:`solution`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import vocab
from ..charts import CONTROL_COLOUR, TREATMENT_COLOUR
from ..teaching import Exercise, ExerciseSet, View, disk_cached, load_trial, published

GROUP_COLOURS = {"SCR_IW": "#1f4e79", "SCR_OOW": "#9fb7cf", "WMCA_OOW": "#c55a11"}
BY_OPTIONS = {"trial group": vocab.GROUP, "arm (treat)": vocab.TREAT, "survey response": vocab.RESPONDED, "nobody (all recruits)": None}
ALL_TABLES = "All tables"
ALL_STATUSES = "All"


# =========================================================================================
# The data dictionary
# =========================================================================================
def _dictionary_path() -> Path:
    from data_synth import generator  # a module file: works however data_synth was installed

    return Path(generator.__file__).with_name("DATA_DICTIONARY.md")


@lru_cache(maxsize=1)
def _dictionary() -> pd.DataFrame:
    rows, section = [], ""
    for line in _dictionary_path().read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            for name in re.findall(r"`([^`]+)`", cells[0]):
                rows.append(dict(column=name, section=section, type=cells[1], values=cells[2].replace("`", ""),
                                 notes=cells[3].replace("`", "") if len(cells) > 3 else ""))
    return pd.DataFrame(rows)


def data_dictionary() -> pd.DataFrame:
    """``data_synth/DATA_DICTIONARY.md`` as a table: column, section, type, values, notes."""
    return _dictionary().copy()


def _is_categorical(x: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_datetime64_any_dtype(x)


def _is_binary(x: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(x) and set(pd.unique(x.dropna())) <= {0, 1}


def _by_levels(data: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [("All recruits", data)]
    if by == vocab.GROUP:
        return [(g, data[data[by] == g]) for g in vocab.GROUPS if (data[by] == g).any()]
    names = {vocab.TREAT: {0: "Control", 1: "Treatment"}, vocab.RESPONDED: {0: "Non-respondent", 1: "Respondent"}}.get(by, {})
    return [(names.get(v, str(v)), data[data[by] == v]) for v in sorted(pd.unique(data[by]))]


def describe_column(data: pd.DataFrame, column: str, by: str | None = vocab.GROUP) -> pd.DataFrame:
    """Summary of ``column`` within each level of ``by``: recruits, observed, % missing and
    mean/SD/min/max (numbers), share = 1 (0/1 columns) or the commonest level (text)."""
    x_all = data[column]
    rows = []
    for label, part in _by_levels(data, by):
        x = part[column]
        obs = x.dropna()
        r = {"": label, "recruits": len(x), "observed": len(obs), "% missing": round(100 * (1 - len(obs) / max(len(x), 1)), 1)}
        if pd.api.types.is_datetime64_any_dtype(x_all):
            r.update(first=str(obs.min().date()) if len(obs) else "", last=str(obs.max().date()) if len(obs) else "")
        elif _is_categorical(x_all):
            vc = obs.value_counts()
            r.update(levels=int(obs.nunique()), commonest=str(vc.index[0]) if len(vc) else "",
                     share=round(float(vc.iloc[0] / len(obs)), 3) if len(vc) else np.nan)
        elif _is_binary(x_all):
            r.update(share_1=round(float(obs.mean()), 3) if len(obs) else np.nan)
        else:
            r.update({k: round(float(getattr(obs, k)()), 3) if len(obs) else np.nan for k in ("mean", "std", "min", "max")})
        rows.append(r)
    return pd.DataFrame(rows).set_index("")


def _column_figure(data: pd.DataFrame, column: str, by: str | None) -> Figure:
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax = fig.add_subplot()
    x_all = data[column]
    parts = _by_levels(data, by)
    colours = [GROUP_COLOURS.get(lab, c) for (lab, _), c in zip(parts, [TREATMENT_COLOUR, CONTROL_COLOUR, "#c55a11", "0.5"])]
    if pd.api.types.is_datetime64_any_dtype(x_all):
        months = pd.period_range(x_all.min(), x_all.max(), freq="M")
        bottom = np.zeros(len(months))
        for (lab, part), col in zip(parts, colours):
            counts = part[column].dt.to_period("M").value_counts().reindex(months, fill_value=0).to_numpy()
            ax.bar(np.arange(len(months)), counts, bottom=bottom, color=col, label=lab, width=0.8)
            bottom += counts
        step = max(1, len(months) // 9)
        ax.set_xticks(np.arange(len(months))[::step], [m.strftime("%b %y") for m in months[::step]], fontsize=8)
        ax.set_ylabel("Recruits randomised per month")
    elif _is_categorical(x_all) or (_is_binary(x_all)):
        levels = sorted(pd.unique(x_all.dropna()), key=str)
        known = vocab.CATEGORICAL_BASELINE.get(column) or (vocab.WORK_HISTORY_LEVELS if column == "work_history" else None)
        if known:
            levels = [lv for lv in known if lv in set(levels)]
        if len(levels) > 12:
            levels = list(x_all.value_counts().index[:12])
        width = 0.8 / len(parts)
        pos = np.arange(len(levels))
        for i, ((lab, part), col) in enumerate(zip(parts, colours)):
            obs = part[column].dropna()
            shares = [float((obs == lv).mean()) if len(obs) else 0.0 for lv in levels]
            ax.barh(pos + i * width, shares, height=width, color=col, label=lab)
        ax.set_yticks(pos + width * (len(parts) - 1) / 2, [str(lv) for lv in levels], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("Share of recruits with the column observed")
    else:
        obs_all = x_all.dropna()
        bins = np.histogram_bin_edges(obs_all, bins=min(30, max(5, obs_all.nunique()))) if len(obs_all) else 10
        for (lab, part), col in zip(parts, colours):
            obs = part[column].dropna()
            if len(obs):
                ax.hist(obs, bins=bins, density=True, histtype="step", lw=1.8, color=col, label=f"{lab} (mean {obs.mean():.2f})")
        ax.set_ylabel("Density")
        ax.set_xlabel(column)
    ax.spines[["top", "right"]].set_visible(False)
    if len(parts) > 1 or not pd.api.types.is_datetime64_any_dtype(x_all):
        ax.legend(fontsize=8, frameon=False)
    ax.set_title(column, fontsize=10)
    return fig


def column_view(data: pd.DataFrame, column: str = "age", by: str | None = vocab.GROUP) -> View:
    """Widget callback: the data-dictionary entry of ``column``, a summary within each level
    of ``by`` (``"group"``, ``"treat"``, ``"responded"`` or None) and a chart."""
    if column not in data:
        raise ValueError(f"no column {column!r} in the data; choose one of {list(data.columns)}")
    dd = _dictionary()
    entry = dd[dd["column"] == column]
    desc = entry.set_index("column")[["section", "type", "values", "notes"]].T if len(entry) else pd.DataFrame({column: ["not in the data dictionary"]})
    return View(
        title=f"{column}",
        tables={"Data dictionary": desc, "Summary": describe_column(data, column, by)},
        figure=_column_figure(data, column, by),
    )


def column_controls(data: pd.DataFrame | None = None) -> dict:
    """Widgets for :func:`column_view`: a column dropdown and a "split by" dropdown."""
    import ipywidgets as w

    cols = list(data.columns) if data is not None else list(_dictionary()["column"])
    return {
        "column": w.Dropdown(options=cols, value="age" if "age" in cols else cols[0], description="Column"),
        "by": w.Dropdown(options=list(BY_OPTIONS.items()), value=vocab.GROUP, description="Split by"),
    }


def arms_and_response(data: pd.DataFrame) -> pd.DataFrame:
    """Recruits randomised and responding by trial group and arm (Table 4-1's counts)."""
    g = data.groupby([vocab.GROUP, vocab.TREAT])
    out = pd.DataFrame({"randomised": g.size(), "respondents": g[vocab.RESPONDED].sum()}).reset_index()
    out[vocab.TREAT] = out[vocab.TREAT].map({1: "T", 0: "C"})
    out = out.set_index([vocab.GROUP, vocab.TREAT]).T
    return out.reindex(columns=[(gr, a) for gr in vocab.GROUPS for a in ("T", "C")])


# =========================================================================================
# The calibration report
# =========================================================================================
@lru_cache(maxsize=2)
def _calibration(seed: int) -> pd.DataFrame:
    from data_synth.check import calibration_report

    return disk_cached(f"calibration-exact-seed{seed}", lambda: calibration_report(load_trial(seed).data.drop(columns=vocab.WEIGHT)))


def calibration(seed: int = 0) -> pd.DataFrame:
    """``data_synth.check.calibration_report`` of the seed's trial (cached; a copy)."""
    return _calibration(int(seed)).copy()


def _table_order(report: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(report["table"]))


def calibration_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Counts of each status per report table (rows in the report's order), with totals."""
    tab = pd.crosstab(report["table"], report["status"]).reindex(_table_order(report))
    tab.loc["Total"] = tab.sum()
    return tab


def calibration_view(report: pd.DataFrame, table: str = ALL_TABLES, status: str = ALL_STATUSES, max_rows: int = 20) -> View:
    """Widget callback: the calibration report rows of one ``table`` (or all) with one
    ``status`` (or all): up to ``max_rows`` rows, the status counts per table, and a chart of
    the counts beside published-vs-achieved values of the selected rows."""
    rows = report
    if table != ALL_TABLES:
        rows = rows[rows["table"] == table]
    if status != ALL_STATUSES:
        rows = rows[rows["status"] == status]
    shown = rows[["id", "group", "statistic", "value", "achieved", "status", "kind", "line"]].head(max_rows).copy()
    shown["achieved"] = [a if isinstance(a, str) else (np.nan if a is None else round(float(a), 4)) for a in shown["achieved"]]
    fig = Figure(figsize=(9.5, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.25, 1])
    summ = calibration_summary(report).drop(index="Total")
    order = ["met", "not a target: matches", "not a target", "not a target: differs", "published inconsistency", "missed"]
    colours = {"met": "#1a7f37", "not a target: matches": "#7fbf8f", "not a target": "0.8", "not a target: differs": "#e0a040",
               "published inconsistency": "#9467bd", "missed": "#b42318"}
    left = np.zeros(len(summ))
    y = np.arange(len(summ))
    for st in [s for s in order if s in summ.columns] + [s for s in summ.columns if s not in order]:
        vals = summ[st].to_numpy()
        ax1.barh(y, vals, left=left, color=colours.get(st, "0.5"), label=st,
                 alpha=1.0 if status in (ALL_STATUSES, st) else 0.3)
        left += vals
    ax1.set_yticks(y, summ.index, fontsize=7)
    for lab in ax1.get_yticklabels():
        lab.set_fontweight("bold" if lab.get_text() == table else "normal")
    ax1.invert_yaxis()
    ax1.set_xlabel("Cells of the targets file")
    ax1.legend(fontsize=6.5, frameon=False, loc="lower right")
    ax1.spines[["top", "right"]].set_visible(False)
    num = rows.loc[np.array([not isinstance(v, str) and not isinstance(a, str) for v, a in zip(rows["value"], rows["achieved"])], bool)]
    v = pd.to_numeric(num["value"], errors="coerce")
    a = pd.to_numeric(num["achieved"], errors="coerce")
    ok = (v.notna() & a.notna()).to_numpy()
    if ok.any():
        # distance from the printed value in half-units of its last printed digit: |z| <= 1 rounds to the print
        half = 0.5 * 10.0 ** -num["decimals"].astype(float)
        z = ((a - v) / half).clip(-5, 5)[ok]
        ax2.axhspan(-1, 1, color="#1a7f37", alpha=0.12, lw=0)
        ax2.scatter(np.arange(len(z)), z, s=12, c=[colours.get(st, "0.5") for st in num.loc[ok, "status"]])
        ax2.set_ylim(-5.5, 5.5)
        ax2.set_xlabel("Cells selected (in the report's order)")
        ax2.set_ylabel("Achieved − published\n(half-units of the last printed digit)")
    else:
        ax2.text(0.5, 0.5, "no numeric cells selected", ha="center", va="center", transform=ax2.transAxes)
    ax2.set_title(f"{table}, {status.lower() if status != ALL_STATUSES else 'all statuses'}: {len(rows)} cells", fontsize=9)
    ax2.spines[["top", "right"]].set_visible(False)
    note = f"Showing {len(shown)} of {len(rows)} cells." if len(rows) > len(shown) else ""
    return View(title="Calibration report", tables={"Selected cells": shown.set_index("id")}, figure=fig, note=note)


def calibration_controls(report: pd.DataFrame) -> dict:
    """Widgets for :func:`calibration_view`: table and status dropdowns, a row limit."""
    import ipywidgets as w

    return {
        "table": w.Dropdown(options=[ALL_TABLES, *_table_order(report)], value="Table 4-1", description="Table"),
        "status": w.Dropdown(options=[ALL_STATUSES, *sorted(report["status"].unique())], value=ALL_STATUSES, description="Status"),
        "max_rows": w.IntSlider(value=20, min=5, max=100, step=5, description="Rows"),
    }


def target_kinds() -> pd.DataFrame:
    """How many cells of the targets file are published, derived or assumed, and how many of
    them the generator aims at (``target``) or the analysis only compares."""
    flat = published()
    tab = pd.crosstab(flat["kind"], flat["target"].map({True: "calibration target", False: "compared only"}))
    tab.loc["Total"] = tab.sum()
    return tab


# =========================================================================================
# Exercises
# =========================================================================================
NON_RESPONDENT_CHOICES = ("paid_work", "eq5d", "jsse", "sustained_emp_12m")


def _data() -> pd.DataFrame:
    return load_trial().data


def _expected_ex1() -> int:
    d = _data()
    return int(((d[vocab.GROUP] == "SCR_OOW") & (d[vocab.TREAT] == 0) & (d[vocab.RESPONDED] == 1)).sum())


def _n_randomised(group: str, arm: int) -> int:
    d = _data()
    return int(((d[vocab.GROUP] == group) & (d[vocab.TREAT] == arm)).sum())


def _sessions(respondents_only: bool, nan_as_zero: bool = False) -> float:
    d = _data()
    rows = d[(d[vocab.GROUP] == "WMCA_OOW") & (d[vocab.TREAT] == 1)]
    if respondents_only:
        rows = rows[rows[vocab.RESPONDED] == 1]
    x = rows[vocab.SESSIONS]
    return float(x.fillna(0).mean() if nan_as_zero else x.mean())


def _expected_ex3() -> str:
    d = _data()
    non = d[d[vocab.RESPONDED] == 0]
    observed = [c for c in NON_RESPONDENT_CHOICES if non[c].notna().all()]
    if len(observed) != 1:
        raise RuntimeError(f"expected exactly one column observed for non-respondents, found {observed}")
    return observed[0]


def _missing_qual(group: str = "SCR_IW", respondents_only: bool = True) -> int:
    """Recruits of ``group`` (respondents only, or all) with no recorded qualification."""
    d = _data()
    rows = d[d[vocab.GROUP] == group]
    if respondents_only:
        rows = rows[rows[vocab.RESPONDED] == 1]
    return int(rows["qual"].isna().sum())


def _namespace() -> dict:
    from .. import teaching

    return {"np": np, "pd": pd, "vocab": vocab, "load_trial": load_trial, "published": published, "teaching": teaching}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="Table 4-1 from the data",
            expected=_expected_ex1,
            kind="integer",
            hints=(
                (lambda a, x: float(a) == _n_randomised("SCR_OOW", 0), "That is everyone randomised to control; count only those with responded == 1."),
                (lambda a, x: 0 < float(a) < 100, "Give a number of people, not a percentage."),
                (lambda a, x: float(a) == _expected_ex1_treatment(), "That is the treatment arm: the control arm has treat == 0."),
            ),
            default_hint="Filter data on group == 'SCR_OOW', treat == 0 and responded == 1, and count the rows.",
            solution_code=(
                "data = load_trial().data\n"
                "rows = data[(data.group == 'SCR_OOW') & (data.treat == 0)]\n"
                "answer = int(rows.responded.sum())\n"
                "print(f'{answer:,} of {len(rows):,} SCR OOW controls responded ({answer / len(rows):.1%})')"
            ),
            explanation=(
                "The synthetic trial reproduces Table 4-1 to the person: the same numbers randomised and responding in "
                "every group and arm. Who responds is drawn from a response model (older, female, better-qualified, "
                "work-attached and healthier recruits answer more often, and the treatment arm more than the control arm)."
            ),
        ),
        Exercise(
            key="ex2",
            title="IPS sessions of WMCA respondents (Table 4-6)",
            expected=lambda: _sessions(True),
            tol=0.05,
            hints=(
                (lambda a, x: abs(float(a) - _sessions(False)) < 0.05, "That is the mean over every treated recruit; "
                 "Table 4-6's 'Resp.' column is survey respondents only (responded == 1)."),
                (lambda a, x: abs(float(a) - _sessions(True, True)) < 0.05, "Recruits without an MI record have no session "
                 "count (NaN); leave them out rather than counting them as 0."),
            ),
            default_hint="Select WMCA_OOW, treat == 1 and responded == 1, then take the mean of ips_sessions.",
            solution_code=(
                "data = load_trial().data\n"
                "rows = data[(data.group == 'WMCA_OOW') & (data.treat == 1) & (data.responded == 1)]\n"
                "answer = rows.ips_sessions.mean()\n"
                "pub = published(table='Table 4-6', group='WMCA_OOW', statistic='mean_resp')\n"
                "print(f'reproduced {answer:.2f}; published {pub.printed.iloc[0]}')"
            ),
            explanation=(
                "Respondents had more sessions than the treatment group as a whole (Table 4-6 prints both columns): the "
                "more engaged recruits were more likely to answer the survey, which is why the report worries about "
                "the representativeness of the 4-month sample (§4.2.2). The report's respondent columns are "
                "survey-weighted (its percentages are 'based on the weighted data'; notebook 02 builds the weights), so "
                "this plain mean lands near, not necessarily on, the printed one."
            ),
        ),
        Exercise(
            key="ex3",
            title="Which outcome is observed for non-respondents?",
            expected=_expected_ex3,
            kind="choice",
            choices=NON_RESPONDENT_CHOICES,
            hints=(
                (lambda a, x: a in ("paid_work", "eq5d", "jsse"), "That is a 4-month survey outcome: it is missing (NaN) "
                 "for everyone with responded == 0."),
            ),
            default_hint="Count missing values of each column among rows with responded == 0.",
            solution_code=(
                "data = load_trial().data\n"
                "non = data[data.responded == 0]\n"
                "missing = non[['paid_work', 'eq5d', 'jsse', 'sustained_emp_12m']].isna().mean()\n"
                "print(missing)\n"
                "answer = missing.idxmin()"
            ),
            explanation=(
                "sustained_emp_12m comes from administrative records (the 12-month IES summary), so it exists for every "
                "recruit. Lesson 03 uses it to see how far estimates from survey respondents alone can drift from the "
                "truth."
            ),
        ),
        Exercise(
            key="ex4",
            title="Baseline item non-response: the 'Base' ranges",
            expected=_missing_qual,
            tol=0,
            hints=(
                (lambda a, x: int(a) == _missing_qual(respondents_only=False) and int(a) != x, "That counts every SCR IW "
                 "recruit. The question is about survey respondents (responded == 1)."),
                (lambda a, x: int(a) > 1000, "That is how many respondents have a qualification recorded (Table 4-2's "
                 "lowest base). Count the missing ones."),
            ),
            default_hint="Among SCR IW rows with responded == 1, count qual.isna().",
            solution_code=(
                "data = load_trial().data\n"
                "iw = data[(data.group == 'SCR_IW') & (data.responded == 1)]\n"
                "answer = int(iw.qual.isna().sum())\n"
                "print(f'{answer} of {len(iw):,} SCR IW respondents: Table 4-2 base {len(iw) - answer:,}-{len(iw):,}')"
            ),
            explanation=(
                "Under Tables 4-2..4-4 the report prints each column's base as a range ('1,444-1,463' for SCR IW's "
                "sample): some baseline answers are missing. The kit reads the lowest base as the qualification row "
                "(chapter 3's item bases point there) and leaves the qualification of exactly that many recruits "
                "unrecorded. They stay in every analysis: a balance table uses the recorded values, and the response "
                "model and the impact regressions of notebooks 02 and 03 give a missing qualification a dummy of its own "
                "(im.build_design's missing_controls='indicator'), as the report's own regression bases suggest it did."
            ),
        ),
    ],
    namespace=_namespace,
)


def _expected_ex1_treatment() -> int:
    d = _data()
    return int(((d[vocab.GROUP] == "SCR_OOW") & (d[vocab.TREAT] == 1) & (d[vocab.RESPONDED] == 1)).sum())


check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
