"""Lesson 06 (the replication scorecard): the widget callback, the audit walk-through, the
sampled-mode comparison, the exercises' targeted hints and expected answers, and what the
stored notebook checks and prints (no published number typed in).

The checks every lesson shares (each worked solution passes its self-check, wrong answers get
hints, the notebook is thin, stripped and in step with its builder) are in
``tests/test_teaching_notebooks.py``; the notebook itself is executed by
``pytest --nbval-lax notebooks/``.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hlt_replicate import scorecard as sc  # noqa: E402
from hlt_replicate import teaching  # noqa: E402
from hlt_replicate.lessons import ch06  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NAME = "06_replication_scorecard"


@pytest.fixture(scope="module")
def card():
    return ch06.scorecard()


@pytest.fixture(scope="module")
def aud():
    return ch06.audit()


@pytest.fixture(scope="module")
def cards():
    return ch06.sampled_cards()


# =========================================================================================
# Scorecard helpers and the widget
# =========================================================================================
def test_scorecard_is_a_cached_copy(card):
    again = ch06.scorecard()
    assert again is not card and again.equals(card)
    again.loc[:, "status"] = "miss"
    assert ch06.scorecard()["status"].equals(card["status"])
    with pytest.raises(ValueError, match="mode"):
        ch06.scorecard(mode="calibrated")


def test_match_summary_and_counts(card):
    mr = sc.match_rate(card)
    summ = ch06.match_summary(card)["scorecard"]
    assert summ["reproducible cells"] == mr["reproducible"] == mr["match"] + mr["close"] + mr["miss"]
    assert summ["match rate"] == f"{100 * mr['match_rate']:.1f}%"
    counts = ch06.status_counts(card)
    assert counts[list(sc.STATUSES)].to_numpy().sum() == len(card)
    assert list(ch06.status_counts(card, ["Table 4-8", "Table 4-1", "no such table"]).index) == ["Table 4-8", "Table 4-1"]
    ex = ch06.status_examples(card)
    assert set(ex.index) <= set(sc.STATUSES) and {"match", "published-inconsistent"} <= set(ex.index)
    assert (ex["note"].str.len() <= 110).all()


def test_key_result_tables_match_cell_for_cell(card):
    # what the notebook's checked cell prints: Table 4-1 and Table 4-8's estimates reproduced
    # exactly (the stars, from Westfall-Young p-values, are not calibrated)
    counts = ch06.status_counts(card[card["statistic"] != "stars"], ["Table 4-1", "Table 4-8"])
    assert (counts["match rate"] == 1.0).all()
    assert (counts[["close", "miss", "published-inconsistent"]] == 0).all().all()


@pytest.mark.parametrize(("table", "status"), [
    (ch06.ALL_TABLES, ch06.ALL_STATUSES), ("Table 4-12", "published-inconsistent"), ("Table 4-2", "miss"),
    ("Table 4-1", "miss"), ("RAND Table 1", "match"), (ch06.ALL_TABLES, "close"),
])
def test_scorecard_view(card, table, status):
    v = ch06.scorecard_view(card, table, status, max_rows=10)
    assert isinstance(v, teaching.View) and isinstance(v.figure, Figure) and v.title and repr(v)
    tab = v.table
    assert isinstance(tab, pd.DataFrame) and not tab.empty and len(tab) <= 10
    if "status" in tab:
        if status != ch06.ALL_STATUSES:
            assert (tab["status"] == status).all()
        if table != ch06.ALL_TABLES:
            assert (tab["table"] == table).all()
        assert list(tab.columns) == list(ch06.VIEW_COLUMNS)
    else:  # nothing with that status in the table
        assert not ((card["table"] == table) & (card["status"] == status)).any()


def test_scorecard_view_rejects_bad_values(card):
    with pytest.raises(ValueError, match="table"):
        ch06.scorecard_view(card, "Table 9-9")
    with pytest.raises(ValueError, match="status"):
        ch06.scorecard_view(card, status="great")


def test_scorecard_controls_match_callback(card):
    import inspect

    controls = ch06.scorecard_controls(card)
    params = inspect.signature(ch06.scorecard_view).parameters
    assert set(controls) <= set(params)
    assert list(controls["table"].options)[1:] == ch06.tables_of(card)
    v = ch06.scorecard_view(card, **{k: w.value for k, w in controls.items()})
    assert len(v.table) == controls["max_rows"].value


# =========================================================================================
# The audit walk-through
# =========================================================================================
def test_audit_summary(aud):
    s = ch06.audit_summary(aud)
    assert s.loc["all"].sum() == len(aud)
    assert s.loc["all", "inconsistent"] > 0


@pytest.mark.parametrize("topic", list(ch06.TOPICS))
def test_finding_view(aud, card, topic):
    v = ch06.finding_view(aud, card, topic)
    assert isinstance(v, teaching.View) and v.title and repr(v)
    detail = v.tables["the finding"].iloc[:, 0]
    assert detail["arithmetic"] and detail["printed"] and detail["treatment"]
    assert ch06.TOPICS[topic]["table"] in detail["table"]
    cells = v.tables.get("scorecard cells concerned")
    assert cells is not None and not cells.empty  # every topic touches scored or excluded cells
    if topic != "stars":
        assert detail["audit status"] == "inconsistent"
        assert (cells["status"] == "published-inconsistent").any()
    else:
        assert detail["audit status"] == "convention"


def test_findings_are_computed_not_typed(aud, card):
    # the duplicated row's printed cells are those the scorecard reads from the transcription
    v = ch06.finding_view(aud, card, "duplicated row")
    pub = v.tables["scorecard cells concerned"]["published"]
    assert all(p in v.tables["the finding"].iloc[:, 0]["printed"].split() for p in pub)
    # Table 4-12's base: the finding's arithmetic restates Table 4-1's SCR respondents
    v = ch06.finding_view(aud, card, "impossible base")
    scr = int(teaching.published(table="Table 4-1", group=["SCR_IW", "SCR_OOW"], statistic="respondents")["value"].sum())
    assert f"{scr:,}" in v.tables["the finding"].iloc[:, 0]["arithmetic"]
    with pytest.raises(ValueError, match="topic"):
        ch06.finding_view(aud, card, "typos")


# =========================================================================================
# Exact against sampled mode
# =========================================================================================
def test_sampling_view(card, cards):
    assert list(cards) == list(ch06.SAMPLED_SEEDS)
    v = ch06.sampling_view(card, cards)
    assert isinstance(v.figure, Figure)
    rates = v.tables["match rate by trial"]
    assert len(rates) == 1 + len(cards)
    exact_rate = rates["match %"].iloc[0]
    assert (rates["match %"].iloc[1:] < exact_rate).all()  # one honest draw matches fewer cells
    by_table = v.tables["match rate by table"]
    assert by_table.loc["Table 4-1", "exact"] == 1.0 and by_table.loc["Table 4-1", "sampled (mean)"] < 1.0


def test_cell_spread(card, cards):
    tab = ch06.cell_spread(card, cards, table="Table 4-8", statistic="impact")
    assert len(tab) == int(((card["table"] == "Table 4-8") & (card["statistic"] == "impact")).sum())
    assert {f"seed {s}" for s in cards} <= set(tab.columns)
    assert tab["SD over seeds"].gt(0).all()
    # the exact trial reproduces every printed impact to its digits
    assert (tab["exact"].astype(float) - tab["published"].astype(float)).abs().max() <= 0.005 + 1e-9


# =========================================================================================
# Exercises
# =========================================================================================
def test_targeted_hints():
    assert "percentage" in ch06.check("ex1", 100 * ch06.expected("ex1")).message
    assert "every published cell" in ch06.check("ex1", ch06._rate("all cells")).message
    assert "close cells" in ch06.check("ex1", ch06._rate("match or close")).message
    assert "Table 4-1" in ch06.check("ex2", ch06._pooled_base_excess("respondents")).message
    assert "not the reverse" in ch06.check("ex2", -ch06.expected("ex2")).message
    assert "midpoints" in ch06.check("ex3", ch06._smallest_mean(how="mid")).message
    assert "Divide by 100" in ch06.check("ex3", 100 * ch06.expected("ex3")).message
    assert "design" in ch06.check("ex4", "respondents").message


def test_expected_answers_by_other_routes(card, aud):
    mr = sc.match_rate(card)
    assert ch06.expected("ex1") == pytest.approx(mr["match"] / mr["reproducible"])
    # ex2: the excess is what the audit's pooled-base finding prints
    f = aud[aud["id"].str.endswith("lifesat-pooled-base")].iloc[0]
    nums = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", f["arithmetic"])]
    assert int(f["printed"].replace(",", "")) - nums[-1] == ch06.expected("ex2")
    # ex3: the bound is the audit's, up to the rounding slack the audit allows, and above the printed mean
    g = aud[aud["id"] == "t4_6-WMCA_OOW-all-mean"].iloc[0]
    bound = float(re.search(r"mean of ([\d.]+)", g["arithmetic"]).group(1))
    assert bound <= ch06.expected("ex3") <= bound + 0.08
    assert ch06.expected("ex3") > float(g["printed"])
    # ex4: randomised counts are fixed by the design in sampled mode
    assert ch06.expected("ex4") == "randomised"


def test_lower_bound_parses_bin_labels():
    assert ch06._lower_bound("ips_sessions[0]") == 0
    assert ch06._lower_bound("ips_sessions[6-10]") == 6
    assert ch06._lower_bound("ips_sessions[6-10]", "mid") == 8
    assert ch06._lower_bound("ips_sessions[36+]") == 36


# =========================================================================================
# The stored notebook
# =========================================================================================
def _notebook() -> dict:
    return json.loads((NB_DIR / f"{NAME}.ipynb").read_text(encoding="utf-8"))


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_checked_cell_and_parameters():
    """One checked cell, printing the two tables the exact trial reproduces cell for cell; one
    parameters cell, its sizes read from the environment."""
    cells = _notebook()["cells"]
    checked = [c for c in cells if c["cell_type"] == "code" and _source(c).startswith("# NBVAL_CHECK_OUTPUT")]
    assert len(checked) == 1
    text = "".join("".join(o["text"]) for o in checked[0]["outputs"])
    assert "Table 4-1" in text and "Table 4-8" in text
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "HLT_REPS" in _source(params[0]) and "os.environ.get(" in _source(params[0])


def test_no_published_number_typed_in():
    """Code cells use no number literal but small counts and the run's defaults; markdown
    prints no decimal or thousands-separated number."""
    allowed = {0, 1, 2, 3, 160, 120, 200, 1000}
    for cell in _notebook()["cells"]:
        src = _source(cell)
        if cell["cell_type"] == "code":
            tree = ast.parse("\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))))
            nums = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, (int, float))
                    and not isinstance(n.value, bool)}
            assert nums <= allowed, (nums - allowed, src[:80])
        else:
            text = re.sub(r"§\d+(\.\d+)*", "", src)  # section numbers are not published values
            assert not re.search(r"\b\d+\.\d+\b|\b\d{1,3}(,\d{3})+\b", text), src[:80]
