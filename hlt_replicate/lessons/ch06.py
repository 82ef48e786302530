"""Lesson 06 (``notebooks/06_replication_scorecard.ipynb``): every published number beside the
kit's, and a critical reading of the published tables.

* :func:`scorecard` — the replication scorecard of a trial (:func:`hlt_replicate.scorecard.build_scorecard`,
  cached per seed, mode, resamples and data folder); :func:`audit` — the audit of the reports
  (:func:`hlt_replicate.audit.audit_reports`, cached);
* :func:`match_summary`, :func:`status_counts`, :func:`status_examples` — the match rate, the
  counts of cells by table and status, one example cell of each status;
* :func:`scorecard_view` (widget callback) and :func:`scorecard_controls` — filter the
  scorecard by table and status;
* :func:`finding_view` — one audit finding (:data:`TOPICS`), the findings related to it and the
  scorecard cells they cover;
* :func:`sampled_cards`, :func:`sampling_view`, :func:`cell_spread` — exact against sampled mode:
  why a real replication cannot expect exact matches.

Every published value shown comes from the scorecard, which reads the project's one
transcription of the reports; nothing here types a published number in.

Exercises ``ex1``-``ex4``: :func:`check`, :func:`show_solution`, :func:`solution`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import scorecard as sc
from ..audit import audit_reports, findings
from ..teaching import Exercise, ExerciseSet, View, load_trial, published

STATUS_COLOURS = {"match": "#1a7f37", "close": "#bf8700", "miss": "#b42318", "published-inconsistent": "#6e7781"}
ALL_TABLES = "all tables"
ALL_STATUSES = "all"
VIEW_COLUMNS = ("source", "table", "row", "group", "arm", "statistic", "published", "reproduced", "status", "note")
#: Default sampled-mode seeds and Westfall-Young resamples of section 4 (kept CI-sized).
SAMPLED_SEEDS = (1, 2, 3)
SAMPLED_REPS = 200
#: Audit findings the lesson walks through: topic -> the finding's check and table, the
#: checks of related findings and the tables they must mention.
TOPICS: dict[str, dict] = {
    "duplicated row": dict(check="duplicated row", table="Table 4-5", related=("duplicated row",), tables=("Table 4-5",)),
    "impossible base": dict(check="base vs group size", table="Table 4-12",
                            related=("pooled base = sum of groups", "duplicated row"), tables=("Table 4-12",)),
    "effect size": dict(check="effect size vs impact and S.D.", table="Table 4-11",
                        related=("effect size vs impact and S.D.", "prose restates a table"), tables=("Table 4-11", "Table 4-13")),
    "impossible mean": dict(check="impossible mean", table="Table 4-6", related=("impossible mean",), tables=("Table 4-6",)),
    "stars": dict(check="star conventions", table="§4.3", related=("stars vs impact/S.E.", "prose significance vs printed stars",
                                                                    "star conventions"), tables=("Table 4-", "Blog")),
}


# =========================================================================================
# The scorecard and the audit
# =========================================================================================
@lru_cache(maxsize=1)
def _audit() -> pd.DataFrame:
    return audit_reports()


def audit() -> pd.DataFrame:
    """Every check of the published tables (:func:`hlt_replicate.audit.audit_reports`), a copy."""
    return _audit().copy()


def trial_data(seed: int = 0, mode: str = "exact", data_dir: str | Path | None = None) -> pd.DataFrame:
    """The recruits of a trial: read from ``data_dir`` (a generated trial's folder, as
    ``hlt-replicate run`` passes in ``HLT_DATA``) when given, else the cached synthetic trial."""
    if data_dir:
        from data_synth.io import read_trial

        return read_trial(data_dir)[0]
    return load_trial(seed=seed, mode=mode).data


@lru_cache(maxsize=8)
def _scorecard(seed: int, mode: str, reps: int, data_dir: str | None) -> pd.DataFrame:
    if mode == "sampled" and not data_dir:
        import data_synth  # as hlt-replicate run does for its sampled seeds (no disk cache)

        data = data_synth.generate(seed=seed, mode="sampled")
    else:
        data = trial_data(seed, mode, data_dir)
    return sc.build_scorecard(data, reps=reps, seed=seed, audit=_audit())


def scorecard(seed: int = 0, mode: str = "exact", reps: int = 1000, data_dir: str | Path | None = None) -> pd.DataFrame:
    """The scorecard of one trial (:func:`hlt_replicate.scorecard.build_scorecard`): every
    published cell beside the reproduced value and its status. Cached; returns a copy."""
    if mode not in ("exact", "sampled"):
        raise ValueError(f"mode must be 'exact' or 'sampled', got {mode!r}")
    card = _scorecard(int(seed), str(mode), int(reps), str(data_dir) if data_dir else None)
    out = card.copy()
    out.attrs.update(card.attrs)
    return out


def match_summary(card: pd.DataFrame) -> pd.DataFrame:
    """:func:`hlt_replicate.scorecard.match_rate` as a one-column table (counts and rates)."""
    mr = sc.match_rate(card)
    rows = {
        "published cells": mr["cells"], "published-inconsistent (not scored)": mr["published_inconsistent"],
        "reproducible cells": mr["reproducible"], "match": mr["match"], "close": mr["close"], "miss": mr["miss"],
        "match rate": f"{100 * mr['match_rate']:.1f}%", "match or close": f"{100 * mr['match_or_close_rate']:.1f}%",
    }
    return pd.DataFrame({"scorecard": rows})


def status_counts(card: pd.DataFrame, tables=None) -> pd.DataFrame:
    """Cells by table (reading order) and status; ``tables`` keeps only those tables."""
    tab = sc.summary_by_table(card).drop(columns=["doc"])
    if tables is not None:
        tab = tab.loc[[t for t in tables if t in tab.index]]
    tab.columns.name = None
    return tab


def status_examples(card: pd.DataFrame) -> pd.DataFrame:
    """The first cell of each status in reading order: what match, close, miss and
    published-inconsistent look like."""
    order = {t: i for i, t in enumerate(sc.table_order(card["table"], card["doc"]))}
    c = card.assign(_o=card["table"].map(order)).sort_values("_o", kind="stable")
    ex = c.drop_duplicates("status").set_index("status").reindex(list(sc.STATUSES)).dropna(how="all")
    ex["note"] = ex["note"].map(lambda s: _short(s, 110))
    return ex[["table", "row", "group", "statistic", "published", "reproduced", "note"]]


def _short(text, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


# =========================================================================================
# Widget: filter the scorecard
# =========================================================================================
def tables_of(card: pd.DataFrame) -> list[str]:
    return sc.table_order(card["table"], card["doc"])


def scorecard_view(card: pd.DataFrame, table: str = ALL_TABLES, status: str = ALL_STATUSES, max_rows: int = 15) -> View:
    """The widget's callback: the scorecard's cells of one table (or all) with one status
    (or all), at most ``max_rows`` of them, and a chart of the selection's statuses by table."""
    if table != ALL_TABLES and table not in set(card["table"]):
        raise ValueError(f"table must be {ALL_TABLES!r} or one of the scorecard's tables, got {table!r}")
    if status != ALL_STATUSES and status not in sc.STATUSES:
        raise ValueError(f"status must be {ALL_STATUSES!r} or one of {sc.STATUSES}, got {status!r}")
    sel = card if table == ALL_TABLES else card[card["table"] == table]
    counts = status_counts(sel)
    if status != ALL_STATUSES:
        sel = sel[sel["status"] == status]
    shown = sel.loc[:, list(VIEW_COLUMNS)].head(int(max_rows)).copy()
    shown["note"] = shown["note"].map(lambda s: _short(s, 90))
    fig = _status_chart(counts)
    mr = sc.match_rate(card if table == ALL_TABLES else card[card["table"] == table])
    rate = "no reproducible cells" if not mr["reproducible"] else f"match rate {100 * mr['match_rate']:.1f}% of {mr['reproducible']} reproducible cells"
    title = f"{table}, status {status}: {len(sel)} cell(s)" + (f", first {len(shown)} shown" if len(sel) > len(shown) else "")
    tables = {"": shown} if len(shown) else {"": pd.DataFrame({"note": ["no cell has this status here"]})}
    return View(title=title, tables=tables, figure=fig, note=f"{table}: {rate}.")


def _status_chart(counts: pd.DataFrame) -> Figure:
    tab = counts[list(sc.STATUSES)].iloc[::-1]
    fig = Figure(figsize=(7, max(1.6, 0.22 * len(tab) + 0.9)))
    ax = fig.subplots()
    left = np.zeros(len(tab))
    for s in sc.STATUSES:
        ax.barh(tab.index, tab[s], left=left, color=STATUS_COLOURS[s], label=s)
        left += tab[s].to_numpy()
    ax.set_xlabel("published cells")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def scorecard_controls(card: pd.DataFrame) -> dict:
    """The widgets of :func:`scorecard_view`: keys are its parameter names."""
    import ipywidgets as widgets

    return {
        "table": widgets.Dropdown(options=[ALL_TABLES, *tables_of(card)], value=ALL_TABLES, description="table"),
        "status": widgets.Dropdown(options=[ALL_STATUSES, *sc.STATUSES], value=ALL_STATUSES, description="status"),
        "max_rows": widgets.IntSlider(value=15, min=5, max=60, step=5, description="rows"),
    }


# =========================================================================================
# The audit: reading a published table critically
# =========================================================================================
def audit_summary(aud: pd.DataFrame) -> pd.DataFrame:
    """Checks by document and status."""
    tab = pd.crosstab(aud["doc"], aud["status"]).reindex(columns=["consistent", "convention", "notable", "inconsistent"], fill_value=0)
    tab.loc["all"] = tab.sum()
    tab.columns.name = None
    return tab


def _main_finding(aud: pd.DataFrame, topic: str) -> pd.Series:
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {list(TOPICS)}, got {topic!r}")
    t = TOPICS[topic]
    f = findings(aud)
    hit = f[(f["check"] == t["check"]) & f["table"].str.startswith(t["table"])]
    if hit.empty:
        raise LookupError(f"the audit has no finding {t['check']!r} in {t['table']}")
    return hit.iloc[0]


def _covered(card: pd.DataFrame, cells) -> pd.DataFrame:
    cells = tuple(cells)
    keep = [any(i == c or i.startswith(c + ".") for c in cells) for i in card["id"]]
    return card[keep]


def finding_view(aud: pd.DataFrame, card: pd.DataFrame, topic: str, max_cells: int = 12) -> View:
    """One audit finding (a key of :data:`TOPICS`): what is printed, what the arithmetic says
    and how the kit treats it; the related findings; the scorecard cells they cover."""
    main = _main_finding(aud, topic)
    t = TOPICS[topic]
    f = findings(aud)
    rel = f[f["check"].isin(t["related"]) & f["table"].map(lambda s: any(x in s for x in t["tables"])) & (f["id"] != main["id"])]
    detail = pd.DataFrame({"": {"table": main["table"], "source line": f"{main['doc']} line {main['line']}" if pd.notna(main["line"]) else main["doc"],
                                "cell": main["cell"], "printed": main["printed"], "arithmetic": main["arithmetic"],
                                "audit status": main["status"], "treatment": main["treatment"]}})
    tables = {"the finding": detail}
    if len(rel):
        tables["related findings"] = rel[["id", "table", "cell", "printed", "arithmetic", "status"]].assign(
            arithmetic=lambda d: d["arithmetic"].map(lambda s: _short(s, 120))).reset_index(drop=True)
    cells = [*main["cells"], *(c for cs in rel["cells"] for c in cs)]
    cov = _covered(card, cells)
    if len(cov):
        tables["scorecard cells concerned"] = cov[["table", "row", "group", "statistic", "published", "reproduced", "status"]].head(max_cells)
    return View(title=f"{topic}: {main['check']} ({main['table']})", tables=tables,
                note=f"{len(cov)} scorecard cell(s) concerned" + (f", first {max_cells} shown" if len(cov) > max_cells else ""))


# =========================================================================================
# Sampling variation: exact against sampled mode
# =========================================================================================
def sampled_cards(seeds=SAMPLED_SEEDS, reps: int = SAMPLED_REPS) -> dict[int, pd.DataFrame]:
    """Scorecards of sampled-mode trials (the generating process without calibration)."""
    return {int(s): scorecard(seed=int(s), mode="sampled", reps=reps) for s in seeds}


def sampling_view(exact: pd.DataFrame, cards: dict[int, pd.DataFrame]) -> View:
    """Match rates of the exact trial and of each sampled seed, and by table: exact against
    the mean over the sampled seeds."""
    per_seed, _ = sc.sampled_spread(cards)
    ex = sc.match_rate(exact)
    rows = [{"trial": f"exact, seed {exact.attrs.get('seed', 0)}", **ex}] + [
        {"trial": f"sampled, seed {int(r.seed)}", **{k: getattr(r, k) for k in ex}} for r in per_seed.itertuples()]
    rates = pd.DataFrame(rows).set_index("trial")[["reproducible", "match", "close", "miss", "match_rate", "match_or_close_rate"]]
    rates[["match_rate", "match_or_close_rate"]] = (100 * rates[["match_rate", "match_or_close_rate"]]).round(1)
    rates = rates.rename(columns={"match_rate": "match %", "match_or_close_rate": "match or close %"})
    by_table = pd.DataFrame({"exact": sc.summary_by_table(exact)["match rate"]})
    by_table["sampled (mean)"] = pd.concat({s: sc.summary_by_table(c)["match rate"] for s, c in cards.items()}, axis=1).mean(axis=1)
    by_table = by_table.loc[[t for t in by_table.index if t.startswith("Table 4-")]]
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    x = np.arange(len(by_table))
    ax.bar(x - 0.2, by_table["exact"], 0.4, label="exact", color="#0969da")
    ax.bar(x + 0.2, by_table["sampled (mean)"], 0.4, label=f"sampled (mean of {len(cards)} seeds)", color="#bf8700")
    ax.set_xticks(x, [t.replace("Table ", "") for t in by_table.index], fontsize=8)
    ax.set_ylabel("match rate")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title("Chapter 4 tables: share of reproducible cells matching", fontsize=9)
    fig.tight_layout()
    return View(title="Exact against sampled mode", tables={"match rate by trial": rates, "match rate by table": by_table.round(3)},
                figure=fig, note="Exact mode is calibrated to the published marginals; sampled mode is one honest draw of the same process.")


def cell_spread(exact: pd.DataFrame, cards: dict[int, pd.DataFrame], table: str = "Table 4-8", statistic: str = "impact") -> pd.DataFrame:
    """One statistic of one table: published (with the published S.E. of the same row), the
    exact trial's value and each sampled seed's, and their SD over seeds."""
    sel = exact[(exact["table"] == table) & (exact["statistic"] == statistic)]
    se = exact[(exact["table"] == table) & (exact["statistic"] == "se")].set_index(["group", "row"])["published"]
    out = sel[["group", "row", "published"]].copy()
    out["published S.E."] = [se.get((g, r), "") for g, r in zip(out["group"], out["row"])]
    out["exact"] = sel["value"].to_numpy()
    for s, c in cards.items():
        out[f"seed {s}"] = c.set_index("id").loc[sel["id"], "value"].to_numpy()
    seeds = [f"seed {s}" for s in cards]
    out["SD over seeds"] = out[seeds].astype(float).std(axis=1, ddof=1)
    return out.set_index(["group", "row"]).round(3)


# =========================================================================================
# Exercises
# =========================================================================================
def _rate(kind: str = "match") -> float:
    mr = sc.match_rate(scorecard())
    if kind == "all cells":
        return mr["match"] / mr["cells"]
    return mr["match_or_close_rate"] if kind == "match or close" else mr["match_rate"]


def _pooled_base_excess(against: str = "tables") -> int:
    """Table 4-12's life-satisfaction base minus the sum of the groups' bases (Tables 4-8 and
    4-10) or, with ``against="respondents"``, minus SCR's respondents in Table 4-1."""
    base = int(published(table="Table 4-12", group="SCR", variable="lifesat", statistic="base")["value"].iloc[0])
    if against == "respondents":
        return base - int(published(table="Table 4-1", group=["SCR_IW", "SCR_OOW"], statistic="respondents")["value"].sum())
    parts = published(table=["Table 4-8", "Table 4-10"], group=["SCR_IW", "SCR_OOW"], variable="lifesat", statistic="base")
    return base - int(parts["value"].sum())


def _lower_bound(label: str, how: str = "lower") -> float:
    """A bin's lower bound (``how="mid"``: its midpoint) from a label such as ``ips_sessions[6-10]``."""
    inner = label[label.index("[") + 1 : -1]
    nums = [float(x) for x in re.findall(r"\d+", inner)]
    if how == "mid" and len(nums) == 2:
        return sum(nums) / 2
    return nums[0]


def _smallest_mean(group: str = "WMCA_OOW", how: str = "lower") -> float:
    rows = published(table="Table 4-6", group=group, statistic="pct_all")
    return float(sum(v * _lower_bound(lab, how) for v, lab in zip(rows["value"], rows["variable"])) / 100)


def _always_matching(seeds=SAMPLED_SEEDS, reps: int = SAMPLED_REPS) -> str:
    """The Table 4-1 statistic whose cells match in every sampled seed."""
    cards = sampled_cards(seeds, reps)
    t41 = pd.concat([c[c["table"] == "Table 4-1"] for c in cards.values()])
    ok = t41.groupby("statistic")["status"].apply(lambda s: bool((s == "match").all()))
    hits = [s for s in ok.index if ok[s]]
    return hits[0] if len(hits) == 1 else ",".join(hits)


def _namespace() -> dict:
    import sys

    return {"np": np, "pd": pd, "sc": sc, "published": published, "lesson": sys.modules[__name__]}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="The match rate of the exact trial",
            expected=_rate,
            tol=0.0005,
            hints=(
                (lambda a, x: 1 < float(a) <= 100, "Give a share between 0 and 1, not a percentage."),
                (lambda a, x: abs(float(a) - _rate("all cells")) < 0.0005, "That divides by every published cell. "
                 "Published-inconsistent cells cannot be reproduced by any dataset: leave them out of the denominator."),
                (lambda a, x: abs(float(a) - _rate("match or close")) < 0.0005, "That counts close cells too; the match "
                 "rate counts only cells that round to the printed value."),
            ),
            default_hint="card = lesson.scorecard(); (card.status == 'match').sum() / (card.status != 'published-inconsistent').sum()",
            solution_code=(
                "card = lesson.scorecard(seed=0, mode='exact', reps=1000)\n"
                "n = card['status'].value_counts()\n"
                "answer = n['match'] / (n['match'] + n['close'] + n['miss'])\n"
                "print(n.to_string())\n"
                "print(f'match rate {answer:.3f}; sc.match_rate agrees: {sc.match_rate(card)[\"match_rate\"]:.3f}')"
            ),
            explanation=(
                "The match rate is over reproducible cells: match + close + miss. Published-inconsistent cells are left "
                "out because no dataset could print them, so counting them as misses would blame the replication for the "
                "report's typesetting. The exact trial matches most of chapter 4's impact tables; the cells it misses are "
                "mostly ones the generator does not calibrate or only aims at: Westfall-Young adjusted p-values, a "
                "few p-values and weighted levels of the baseline tables (most listed as untargeted, with their "
                "arithmetic, in the targets file; the scorecard's reason column names the entry) and Table 4-12's "
                "pooled S.E. of weeks in work."
            ),
        ),
        Exercise(
            key="ex2",
            title="Table 4-12's impossible base",
            expected=_pooled_base_excess,
            kind="integer",
            hints=(
                (lambda a, x: int(float(a)) == _pooled_base_excess("respondents"), "That compares the base with Table 4-1's "
                 "respondents. The question asks for the sum of the same row's bases in Tables 4-8 (SCR IW) and 4-10 (SCR OOW)."),
                (lambda a, x: int(float(a)) == -x, "Printed pooled base minus the sum of the two groups' bases, not the reverse."),
            ),
            default_hint="published(table='Table 4-12', variable='lifesat', statistic='base') minus the 'base' cells of "
                         "lifesat in Tables 4-8 and 4-10.",
            solution_code=(
                "pooled = published(table='Table 4-12', group='SCR', variable='lifesat', statistic='base')\n"
                "parts = published(table=['Table 4-8', 'Table 4-10'], variable='lifesat', statistic='base')\n"
                "print(pd.concat([pooled, parts])[['table', 'group', 'printed', 'line']].to_string(index=False))\n"
                "answer = int(pooled['value'].iloc[0]) - int(parts['value'].sum())"
            ),
            explanation=(
                "A pooled base counts each respondent of the pooled groups once, so it equals the sum of the groups' "
                "bases for the same outcome. Table 4-12 prints more than that, and more than SCR has respondents at all "
                "(Table 4-1). Its life-satisfaction row is, cell for cell, the row of Table 4-15: copied in typesetting. The "
                "audit finds this from the printed numbers alone, and the scorecard marks the row published-inconsistent."
            ),
        ),
        Exercise(
            key="ex3",
            title="The smallest mean a distribution allows",
            expected=_smallest_mean,
            tol=0.08,
            hints=(
                (lambda a, x: abs(float(a) - _smallest_mean(how="mid")) < 0.1, "That uses the bins' midpoints: an estimate "
                 "of the mean, not its lower bound. Put every recruit at the lowest number of sessions of their bin."),
                (lambda a, x: abs(float(a) - 100 * x) < 8, "Divide by 100: the shares are percentages."),
            ),
            default_hint="rows = published(table='Table 4-6', group='WMCA_OOW', statistic='pct_all'); sum of share × lower "
                         "bound of its bin (0, 1, 6, 11, ... from the labels), divided by 100.",
            solution_code=(
                "rows = published(table='Table 4-6', group='WMCA_OOW', statistic='pct_all')\n"
                "lower = [lesson._lower_bound(v) for v in rows['variable']]\n"
                "answer = sum(p * b for p, b in zip(rows['value'], lower)) / 100\n"
                "mean = published(table='Table 4-6', group='WMCA_OOW', statistic='mean_all')['printed'].iloc[0]\n"
                "print(f'smallest possible mean {answer:.2f}; printed mean {mean}')"
            ),
            explanation=(
                "If every treatment-group recruit sat at the bottom of their bin, the mean would be this lower bound; any "
                "other arrangement gives more. The printed mean of the 'all' column is below it, in every trial group, so "
                "it cannot be the mean of the printed distribution (the audit allows for the rounding of the shares too). "
                "The respondents' column is consistent. The scorecard does not score the impossible means."
            ),
        ),
        Exercise(
            key="ex4",
            title="What sampling cannot change",
            expected=_always_matching,
            kind="choice",
            choices=("randomised", "respondents", "response_pct"),
            hints=(
                (lambda a, x: a in ("respondents", "response_pct"), "Who answers the survey is a random draw in sampled mode. "
                 "Which row of Table 4-1 is fixed by the trial's design?"),
            ),
            default_hint="lesson.sampled_cards(); look at the Table 4-1 rows of each card, grouped by statistic.",
            solution_code=(
                "cards = lesson.sampled_cards(seeds=(1, 2, 3), reps=200)\n"
                "t41 = pd.concat([c[c['table'] == 'Table 4-1'].assign(seed=s) for s, c in cards.items()])\n"
                "ok = t41.groupby('statistic')['status'].apply(lambda s: (s == 'match').all())\n"
                "print(ok.to_string())\n"
                "answer = ok[ok].index[0]"
            ),
            explanation=(
                "The numbers randomised are the design: sampled mode draws the recruits' characteristics, outcomes and "
                "survey response, but not how many people each arm recruited. Survey response is random, so the "
                "respondent counts and percentages differ from the printed ones in every draw, and so does every estimate "
                "built on respondents. A real replication is one such draw: it should land within a standard error or "
                "two of the published numbers, not on them."
            ),
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
