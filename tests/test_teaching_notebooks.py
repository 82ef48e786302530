"""The lessons: every exercise's self-check and worked solution (lessons 00-06), the widget
callbacks of lessons 00-03 (04, 05 and 06 have test files of their own), the shared teaching
helpers, and the structure of every stored lesson notebook.

The notebooks themselves are executed by ``pytest --nbval-lax notebooks/``; these tests cover
what a notebook run does not: each callback over several widget settings, wrong answers
getting hints, and the notebook files being thin, stripped and (those written by
``notebooks/_build/build_notebooks.py``) in step with their builder.
"""
from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hlt_replicate import teaching, vocab  # noqa: E402
from hlt_replicate.lessons import ch00, ch01, ch02, ch03, ch04, ch05, ch06  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
LESSONS = {"00_start_here": ch00, "01_randomisation": ch01, "02_nonresponse_weighting": ch02, "03_impact_estimation": ch03,
           "04_multiple_testing": ch04, "05_benefit_cost_ratios": ch05, "06_replication_scorecard": ch06}
ALL_EXERCISES = [(mod, key) for mod in LESSONS.values() for key in mod.EXERCISES]


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NB_DIR / "_build" / "build_notebooks.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder


#: The lesson notebooks written by the builder (04 and 05 are edited by hand).
BUILT = [name for name in LESSONS if f"{name}.ipynb" in _builder().NOTEBOOKS]


@pytest.fixture(scope="module")
def trial():
    return teaching.load_trial()


@pytest.fixture(scope="module")
def data(trial):
    return trial.data


def _is_view(v, n_tables: int = 1) -> None:
    assert isinstance(v, teaching.View)
    assert isinstance(v.figure, Figure)
    assert len(v.tables) >= n_tables
    for t in v.tables.values():
        assert isinstance(t, pd.DataFrame) and not t.empty
    assert v.title and repr(v)


def _control_values(controls: dict) -> dict:
    return {k: (list(w.value) if isinstance(w.value, tuple) else w.value) for k, w in controls.items()}


def _accepts(fn, names) -> None:
    params = inspect.signature(fn).parameters
    missing = [n for n in names if n not in params]
    assert not missing, f"{fn.__name__} has no parameter(s) {missing} for its widgets"


# =========================================================================================
# teaching: shared helpers
# =========================================================================================
def test_load_trial_is_a_weighted_copy():
    trial = teaching.load_trial()  # not the shared fixture: this test modifies its copy
    d = trial.data
    assert len(d) == 9785 and vocab.WEIGHT in d
    assert d.loc[d[vocab.RESPONDED] == 0, vocab.WEIGHT].isna().all()
    assert d.loc[d[vocab.RESPONDED] == 1, vocab.WEIGHT].gt(0).all()
    d.loc[:, "age"] = -1
    trial.truth["groups"]["SCR_IW"]["tau"]["paid_work"] = 99
    again = teaching.load_trial()
    assert again.data["age"].min() >= 18
    assert again.truth["groups"]["SCR_IW"]["tau"]["paid_work"] != 99


def test_disk_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("HLT_CACHE_DIR", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    a = teaching.disk_cached("unit-test", compute)
    b = teaching.disk_cached("unit-test", compute)
    assert len(calls) == 1 and np.array_equal(a["x"], b["x"])
    assert len(list(tmp_path.glob("unit-test-*.pkl"))) == 1
    monkeypatch.setenv("HLT_CACHE", "0")
    assert teaching.cache_dir() is None
    teaching.disk_cached("unit-test", compute)
    assert len(calls) == 2


def test_published_reads_the_targets_file():
    t41 = teaching.published(table="Table 4-1", statistic="randomised")
    assert set(t41["group"]) >= set(vocab.GROUPS)
    assert teaching.published_value("design.randomised.SCR_IW.treatment") == t41.loc[
        (t41["group"] == "SCR_IW") & (t41["arm"] == 1), "value"].iloc[0]
    assert teaching.published(table="Table 4-8", group=["SCR_IW"], statistic=("impact", "se"))["statistic"].nunique() == 2
    with pytest.raises(KeyError):
        teaching.published_value("no.such.id")
    assert teaching.printed(1234, 0) == "1,234" and teaching.printed(0.5, 2) == "0.50" and teaching.printed("***", 0) == "***"
    assert teaching.printed(float("nan"), 2) == ""


def test_generic_checks():
    assert teaching.check_number(0.501, 0.5, 0.005) == (True, None)
    assert teaching.check_number("x", 0.5, 0.005)[1]
    assert teaching.check_number(float("inf"), 0.5, 1)[1]
    assert teaching.check_number(True, 1, 0)[1]  # a bool is not a number here
    assert teaching.check_number(3.0, 3, 0, integer=True) == (True, None)
    assert teaching.check_number(3.2, 3, 0, integer=True)[0] is False
    assert teaching.check_choice(" Female ", "female", ("female", "age_band")) == (True, None)
    assert teaching.check_choice("nope", "female", ("female",))[1]
    assert teaching.check_set(["b", "a"], ("a", "b")) == (True, None)
    assert teaching.check_set("ab", ("a", "b"))[1]


def test_exercise_set_validation_and_rendering():
    ex = teaching.Exercise(key="k", title="t", expected=lambda: 2.0, solution_code="answer = 2", explanation="e",
                           default_hint="try 2", tol=0.1, hints=((teaching.near(3.0, 0.01), "three is one too many"),))
    s = teaching.ExerciseSet([ex])
    assert s.check("k", 2.05).correct
    assert "three is one too many" in s.check("k", 3).message
    assert "try 2" in s.check("k", 10).message
    assert "None" in s.check("k", None).message
    assert s.solution("k") == 2
    html = s.show_solution("k")._repr_html_()
    assert html.startswith("<details>") and "click to reveal" in html
    assert "color:#1a7f37" in s.check("k", 2)._repr_html_()
    with pytest.raises(ValueError, match="exercise must be one of"):
        s.check("nope", 1)
    with pytest.raises(ValueError, match="duplicate"):
        teaching.ExerciseSet([ex, ex])
    with pytest.raises(ValueError, match="kind"):
        teaching.Exercise(key="x", title="", expected=lambda: 1, solution_code="", explanation="", default_hint="", kind="essay")
    bad = teaching.ExerciseSet([teaching.Exercise(key="b", title="", expected=lambda: 1, solution_code="x = 1",
                                                  explanation="", default_hint="")])
    with pytest.raises(RuntimeError, match="answer"):
        bad.solution("b")
    computed = teaching.ExerciseSet([teaching.Exercise(key="c", title="", expected=lambda: 1, solution_code="answer = 1",
                                                       explanation=lambda: f"computed {1 + 1}", default_hint="")])
    assert computed.show_solution("c").explanation == "computed 2"  # a callable explanation is called when shown


def test_wire_shows_the_callback_again_when_a_control_changes():
    import ipywidgets as w

    calls = []

    def callback(data, x, scale=1):
        calls.append((data, x, scale))
        return None  # nothing to display

    slider, toggle = w.IntSlider(value=3), w.Checkbox(value=True)
    root = teaching.wire(callback, {"x": slider}, "data", scale=2)
    box, out = root.children
    assert isinstance(box, w.VBox) and list(box.children) == [slider] and isinstance(out, w.Output)
    assert calls == [("data", 3, 2)]  # shown once at the start ...
    slider.value = 4
    assert calls[-1] == ("data", 4, 2)  # ... and again on every change
    row = teaching.wire(lambda **v: None, {"x": slider, "t": toggle}, row=True).children[0]
    assert isinstance(row, w.HBox) and row.layout.flex_flow == "row wrap" and list(row.children) == [slider, toggle]
    with pytest.raises(TypeError, match="scale"):
        teaching.wire(callback, {"x": slider, "scale": toggle}, "data", scale=2)


# =========================================================================================
# Exercises of every lesson
# =========================================================================================
@pytest.mark.parametrize("mod", list(LESSONS.values()), ids=list(LESSONS))
def test_two_to_four_exercises(mod):
    assert 2 <= len(mod.EXERCISES) <= 4
    assert mod.check is not None and mod.show_solution is not None


@pytest.mark.parametrize(("mod", "key"), ALL_EXERCISES, ids=[f"{m.__name__.rsplit('.', 1)[1]}-{k}" for m, k in ALL_EXERCISES])
def test_worked_solution_passes_its_self_check(mod, key):
    answer = mod.solution(key)
    res = mod.check(key, answer)
    assert res.correct, res.message
    assert "✓" in repr(res)


@pytest.mark.parametrize(("mod", "key"), ALL_EXERCISES, ids=[f"{m.__name__.rsplit('.', 1)[1]}-{k}" for m, k in ALL_EXERCISES])
def test_wrong_answers_fail_with_a_hint(mod, key):
    ex = mod.EXERCISES.get(key)
    x = mod.expected(key)
    if ex.kind == "choice":
        wrongs = [c for c in ex.choices if c != x]
    else:
        wrongs = [float(x) * 3 + 7, -1000.0]
    for wrong in wrongs:
        res = mod.check(key, wrong)
        assert not res.correct, (key, wrong)
        assert "Hint" in res.message
    for junk in (None, "not a number", float("nan")) if ex.kind != "choice" else (None, 42):
        res = mod.check(key, junk)
        assert not res.correct and "✗" in res.message
    assert "None" in mod.check(key, None).message


@pytest.mark.parametrize(("mod", "key"), ALL_EXERCISES, ids=[f"{m.__name__.rsplit('.', 1)[1]}-{k}" for m, k in ALL_EXERCISES])
def test_solution_is_hidden_and_shows_its_code(mod, key):
    sol = mod.show_solution(key)
    assert sol._repr_html_().startswith("<details>") and "click to reveal" in sol._repr_html_()
    assert sol.code == mod.EXERCISES.get(key).solution_code
    assert "answer" in sol.code and sol.explanation
    ast.parse(sol.code)


def test_ex4_hint_names_the_three_groups(monkeypatch):
    """ch02 ex4's hint for the all-groups correlation, tested whatever the data: on seed 0
    that correlation (0.6717) is within the tolerance of SCR IW's (0.6724), so the answer is
    accepted there; here the all-groups value is moved 0.05 away."""
    real = ch02._corr
    monkeypatch.setattr(ch02, "_corr", lambda group: real(group) if group else real("SCR_IW") - 0.05)
    res = ch02.check("ex4", ch02._corr(None))
    assert not res.correct and "three groups" in res.message


def test_targeted_hints(data):
    assert "responded == 1" in ch00.check("ex1", int(((data.group == "SCR_OOW") & (data.treat == 0)).sum())).message
    assert "treatment arm" in ch00.check("ex1", ch00._expected_ex1_treatment()).message
    assert "survey outcome" in ch00.check("ex3", "eq5d").message
    assert "unblocked" in ch01.check("ex1", math.comb(12, 6)).message
    assert "multiply" in ch01.check("ex1", 40).message
    p = ch01.expected("ex3")
    if abs(p / 2 - p) > ch01._ri_tol(p):  # distinguishable from the two-sided answer
        assert "one-sided" in ch01.check("ex3", p / 2).message
    assert "percentage points" in ch02.check("ex1", ch02.expected("ex1") / 100).message
    assert "effective sample size" in ch02.check("ex2", 1800).message
    assert "unweighted" in ch02.check("ex3", ch02._female_share("unweighted")).message
    if abs(ch02._corr(None) - ch02.expected("ex4")) > 0.005:  # distinguishable (seed 0: 0.6717 against 0.6724)
        assert "three groups" in ch02.check("ex4", ch02._corr(None)).message
    assert "SWEMWBS points" in ch03.check("ex1", 0.83).message
    itt, fs = ch03._itt_and_first_stage("eq5d", "SCR_IW")
    assert "ITT impact" in ch03.check("ex2", itt).message
    bias_all = ch03._sustained_bias("all")
    every = [test for test, text in ch03.EXERCISES.get("ex3").hints if "every recruit" in text][0]
    assert every(bias_all, ch03.expected("ex3"))  # the hint recognises the all-recruits answer
    if abs(bias_all - ch03.expected("ex3")) > ch03.EXERCISES.get("ex3").tolerance(0.0):  # and says so when it is wrong
        assert "every recruit" in ch03.check("ex3", bias_all).message
    if ch03.expected("ex4") != "work_history":
        assert "real SCR OOW" in ch03.check("ex4", "work_history").message


def test_expected_answers_by_other_routes(trial, data):
    # ch01 ex2: odd blocks, via the kit's design object
    assert ch01.expected("ex2") == ch01.block_summary(data, ("group", "area", "cohort"), "SCR_OOW")["odd-sized blocks"].iloc[0]
    # ch01 ex3: the normal approximation agrees with the kit's RI p-value within Monte Carlo error
    p = ch01.expected("ex3")
    assert abs(p - ch01.ri_covariate(data, "age", "WMCA_OOW", n_perm=4000, seed=3).p) < ch01._ri_tol(p)
    # ch02 ex2: Kish deff from the kit
    w = data.loc[(data.group == "WMCA_OOW") & (data.responded == 1), "weight"]
    from hlt_replicate import weighting as wt

    assert ch02.expected("ex2") == pytest.approx(wt.kish_deff(w))
    # ch03 ex1/ex2: numpy least squares against the kit's estimators
    from hlt_replicate import impact as im

    resp = teaching.respondents(data)
    assert ch03.expected("ex1") == pytest.approx(im.estimate_itt(resp, "swemwbs", "SCR_IW").effect_size, rel=1e-8)
    assert ch03.expected("ex2") == pytest.approx(im.estimate_participation(resp, "eq5d", "SCR_IW").impact, rel=1e-8)


# =========================================================================================
# Widget callbacks
# =========================================================================================
@pytest.mark.parametrize("column", ["age", "rand_date", "qual", "female", "eq5d", "ips_sessions", "recruit_id"])
@pytest.mark.parametrize("by", list(ch00.BY_OPTIONS.values()))
def test_column_view(data, column, by):
    v = ch00.column_view(data, column, by)
    _is_view(v, 2)
    summ = v.tables["Summary"]
    assert summ["recruits"].sum() == len(data)
    assert v.tables["Data dictionary"].shape[1] == 1


def test_column_view_rejects_unknown_column(data):
    with pytest.raises(ValueError, match="no column"):
        ch00.column_view(data, "nope")


def test_column_controls_match_callback(data):
    controls = ch00.column_controls(data)
    _accepts(ch00.column_view, controls)
    _is_view(ch00.column_view(data, **_control_values(controls)))
    assert set(ch00.data_dictionary()["column"]) >= set(c for c in data.columns if c != vocab.WEIGHT)


def test_calibration_view(data):
    rep = ch00.calibration()
    controls = ch00.calibration_controls(rep)
    _accepts(ch00.calibration_view, controls)
    _is_view(ch00.calibration_view(rep, **_control_values(controls)))
    v = ch00.calibration_view(rep, "Table 4-8", "met", max_rows=5)
    assert len(v.table) <= 5 and (v.table["status"] == "met").all()
    v = ch00.calibration_view(rep, ch00.ALL_TABLES, ch00.ALL_STATUSES, max_rows=100)
    assert len(v.table) == 100 and "Showing" in v.note
    assert isinstance(ch00.calibration_view(rep, "Table 4-1", "missed").figure, Figure)  # possibly empty selection
    summ = ch00.calibration_summary(rep)
    assert summ.loc["Total"].sum() == len(rep)
    assert (rep.loc[rep["table"] == "Table 4-1", "status"] == "met").sum() > 0
    kinds = ch00.target_kinds()
    assert {"published", "Total"} <= set(kinds.index)


def test_arms_and_response_match_table_4_1(data):
    tab = ch00.arms_and_response(data)
    pub = teaching.published(table="Table 4-1", statistic="respondents")
    for g in vocab.GROUPS:
        for arm, a in (("T", 1), ("C", 0)):
            assert tab.loc["respondents", (g, arm)] == pub.loc[(pub.group == g) & (pub.arm == a), "value"].iloc[0]


@pytest.mark.parametrize("strata", list(ch01.STRATA.values()))
@pytest.mark.parametrize("covariate", list(ch01.COVARIATES.values()))
def test_rerandomise_view(data, strata, covariate):
    v = ch01.rerandomise_view(data, seed=2, strata=strata, group="WMCA_OOW", covariate=covariate, n_perm=99)
    _is_view(v, 2)
    arms = v.tables["Arm sizes"]
    assert arms["T"].iloc[0] + arms["C"].iloc[0] == int((data.group == "WMCA_OOW").sum())
    if strata:  # complete within group (or finer): the gap is bounded by the odd-sized blocks
        odd = ch01.block_summary(data, strata, "WMCA_OOW")["odd-sized blocks"].iloc[0]
        assert abs(arms["T - C"].iloc[0]) <= odd


def test_rerandomise_blocking_balances_what_it_blocks(data):
    v = ch01.rerandomise_view(data, seed=5, strata=("group", "area"), group="SCR_IW", covariate="area:largest", n_perm=50)
    assert v.tables["Balance (all randomised recruits of the group)"].loc["Area", "|std. diff.|"] < 0.02


def test_rerandomise_controls_match_callback(data):
    controls = ch01.rerandomise_controls()
    _accepts(ch01.rerandomise_view, controls)
    _is_view(ch01.rerandomise_view(data, n_perm=50, **_control_values(controls)))


def test_randomisation_helpers(data):
    v = ch01.arm_size_spread(n=20, draws=200, seed=1)
    _is_view(v)
    assert v.table.loc["complete (exactly half)", "sd"] == 0
    chk = ch01.assignment_check(data)
    assert (chk["T (data)"] == chk["T (published)"]).all() and (chk["C (data)"] == chk["C (published)"]).all()
    new = ch01.rerandomise(data, seed=3)
    assert not new["treat"].equals(data["treat"])
    assert new.groupby("group")["treat"].apply(lambda t: abs(2 * t.sum() - len(t))).max() <= 1
    res = ch01.ri_covariate(data, "female", "SCR_IW", n_perm=200)
    assert 0 < res.p <= 1
    assert isinstance(ch01.ri_figure(res, title="t"), Figure)
    bvp = ch01.balance_vs_published(data, "SCR_IW")
    assert bvp["p (published)"].notna().sum() >= 8
    fb = ch01.formatted_balance(data, "SCR_IW")
    assert "Wolverhampton" not in " ".join(fb.index) and "Sheffield" in " ".join(fb.index)
    with pytest.raises(ValueError, match="unknown covariate"):
        ch01.covariate_vector(data, "nope")


@pytest.mark.parametrize("group", vocab.GROUPS)
@pytest.mark.parametrize(("covariates", "trim", "rake"), [
    (("age", "female", "qual", "work_history"), "none", False),
    ((), "cap", False),
    (tuple(ch02.wt.RESPONSE_COVARIATES), "percentile", True),
])
def test_weights_view(data, group, covariates, trim, rake):
    v = ch02.weights_view(data, covariates, trim=trim, k=1.5, upper=0.95, rake=rake, group=group)
    _is_view(v, 2)
    diag = v.tables["Diagnostics"]
    assert float(diag.iloc[3, 0]) >= 1  # Kish deff
    tab = v.tables[f"{ch02.BALANCE_TABLE[group]} with these weights"]
    assert "Age" in tab.index and "published population" in tab.columns


def test_weights_controls_match_callback(data):
    controls = ch02.weights_controls()
    _accepts(ch02.weights_view, controls)
    _is_view(ch02.weights_view(data, **_control_values(controls)))


def test_weighting_helpers(trial, data):
    t41 = ch02.table_4_1(data)
    assert (t41["respondents"] == t41["published respondents"]).all()
    assert (t41["response %"] == t41["published %"]).all()
    t45 = ch02.table_4_5(data, reps=200)
    assert len(t45) == 15
    ok = t45["note"] == ""
    assert (t45.loc[ok, "Diff."] == t45.loc[ok, "published Diff."]).all()
    assert t45["P-val (WY)"].astype(float).between(0, 1).all()
    assert (ch02.table_4_5(data, reps=0)["P-val (WY)"] == "").all()
    p = ch02.true_propensity(trial)
    assert p.between(0, 1).all() and p.notna().all()
    _is_view(ch02.propensity_view(trial))
    ow = ch02.oracle_weights(trial)
    assert ow.notna().sum() == data.responded.sum()
    assert ow.groupby(data.group).mean().round(10).eq(1).all()
    raked = ch02.make_weights(data, rake=True)
    for g in vocab.GROUPS:
        for arm in (0, 1):
            cell = (data.group == g) & (data.treat == arm)
            r = cell & (data.responded == 1)
            assert np.average(data.loc[r, "female"], weights=raked[r]) == pytest.approx(data.loc[cell, "female"].mean(), abs=1e-6)
    assert ch02.diagnostics(data, data.weight).loc["All", "respondents"] == data.responded.sum()


@pytest.mark.parametrize("group", vocab.ALL_GROUPS)
@pytest.mark.parametrize(("outcome", "controls", "weights", "kind"), [
    ("swemwbs", "sap+baseline", True, "itt"),
    ("paid_work", "none", False, "itt"),
    ("jsse", "sap", True, "participation"),
    (vocab.SUSTAINED_EMP_12M, "sap", True, "itt"),
])
def test_impact_view(trial, group, outcome, controls, weights, kind):
    v = ch03.impact_view(trial, group, outcome, controls, weights, kind)
    _is_view(v)
    rows = v.table.index
    assert rows[0].startswith("this estimate") and any(r.startswith("published") for r in rows)
    if group in vocab.GROUPS and kind == "itt":
        assert any(r.startswith("truth") for r in rows)
    if outcome == vocab.SUSTAINED_EMP_12M:
        assert any(r.startswith("all recruits") for r in rows)


def test_impact_view_reproduces_table_4_8_cell(trial):
    v = ch03.impact_view(trial, "SCR_IW", "jsse")
    est, pub = v.table.iloc[0], v.table.loc[[r for r in v.table.index if r.startswith("published")][0]]
    assert est["Impact"] == pub["Impact"] and est["S.E."] == pub["S.E."] and est["Base"] == pub["Base"]


def test_impact_controls_match_callback(trial):
    controls = ch03.impact_controls()
    _accepts(ch03.impact_view, controls)
    _is_view(ch03.impact_view(trial, **_control_values(controls)))


def test_impact_helpers(trial, data):
    t48 = ch03.secondary_comparison(data, "SCR_IW")
    assert (t48["Impact"] == t48["published Impact"]).all() and (t48["Base"] == t48["published Base"]).all()
    wy = ch03.secondary_comparison(data, "SCR_IW", p_adjust="wy", reps=200)
    assert list(wy.index) == list(t48.index)
    assert "published inconsistency" in set(ch03.secondary_comparison(data, "SCR")["note"])
    part = ch03.participation_comparison(data, "SCR_IW")
    assert len(part) == 3 and (part["Base"] == part["published Base"]).all()
    assert isinstance(ch03.primary_figures(data, "WMCA_OOW"), Figure)
    _is_view(ch03.subgroup_view(data, "SCR_IW", "jsse"))
    tc = ch03.truth_comparison(trial, "WMCA_OOW")
    assert len(tc) == len(vocab.OUTCOMES) and tc["covers τ"].dtype == bool
    sc = ch03.sustained_comparison(trial)
    _is_view(sc)
    assert sc.table["truth τ"].tolist() == [100 * trial.truth["groups"][g]["tau_sustained_emp_12m"] for g in vocab.GROUPS]
    sim = ch03.response_simulation(trial, "WMCA_OOW", reps=100, seed=1)
    _is_view(sim)
    assert sim.table.loc["all recruits (no non-response)", "sd (non-response noise)"] == 0
    assert sim.table.loc["respondents, unweighted", "sd (non-response noise)"] > 0
    assert ch03.stars_rule("footnote_15") == "*** p<0.001, ** p<0.01, * p<0.05"
    assert ch03.stars_rule().startswith("*** p<")
    row = ch03.published_row("SCR_OOW", "swemwbs", "participation")
    assert "published inconsistency" in row["flag"] and row["source"] == "Table 4-11"
    assert ch03.published_row("WMCA_OOW", "paid_work", "participation")["Impact"] == ""  # no WMCA table


# =========================================================================================
# The stored notebooks
# =========================================================================================
def _notebook(name: str) -> dict:
    return json.loads((NB_DIR / f"{name}.ipynb").read_text(encoding="utf-8"))


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.mark.parametrize("name", list(LESSONS))
def test_notebook_is_stripped_and_small(name):
    path = NB_DIR / f"{name}.ipynb"
    assert path.stat().st_size < 100_000
    nb = _notebook(name)
    assert "widgets" not in nb["metadata"]
    checked = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        first = _source(cell).splitlines()[0]
        if first.startswith("# NBVAL_CHECK_OUTPUT"):
            checked += 1
            assert cell["outputs"], "a checked cell needs its stored output"
            assert cell.get("execution_count"), "nbval skips a checked cell without an execution count"
            assert all(o["output_type"] == "stream" for o in cell["outputs"])
            text = "".join("".join(o["text"]) for o in cell["outputs"])
            assert len(text) < 5000 and "0x" not in text
        else:
            assert cell["outputs"] == [], f"unexpected stored output in: {first}"
            assert cell.get("execution_count") is None
    assert checked >= 1


@pytest.mark.parametrize("name", list(LESSONS))
def test_notebook_shape(name):
    nb = _notebook(name)
    cells = nb["cells"]
    first, last = _source(cells[0]), _source(cells[-1])
    assert cells[0]["cell_type"] == "markdown" and "Learning objectives" in first and "Report tables covered" in first
    assert cells[-1]["cell_type"] == "markdown" and "Summary" in last
    code = [_source(c) for c in cells if c["cell_type"] == "code"]
    widget_cells = [c for c in code if "wire(" in c]
    assert widget_cells, "each notebook has a widget"
    assert not any("interactive_output" in c for c in code), "wire the widgets with hlt_replicate.teaching.wire"
    for c in widget_cells:
        assert c.splitlines()[0] == "# NBVAL_IGNORE_OUTPUT"
    checks = [c for c in code if c.lstrip().startswith("answer_")]
    solutions = [c for c in code if c.startswith("show_solution(")]
    assert 2 <= len(checks) == len(solutions) == len(LESSONS[name].EXERCISES) <= 4
    for c in code:
        for node in ast.walk(ast.parse("\n".join(line for line in c.splitlines() if not line.lstrip().startswith(("%", "!"))))):
            if isinstance(node, ast.FunctionDef):
                assert len(node.body) <= 3, f"function {node.name} in {name} is more than a few lines: move it to the package"


def test_every_lesson_notebook_is_tested():
    assert sorted(LESSONS) == sorted(p.stem for p in NB_DIR.glob("[0-9][0-9]_*.ipynb"))
    assert len(BUILT) == len(_builder().NOTEBOOKS)


@pytest.mark.parametrize("name", BUILT)
def test_notebook_is_in_step_with_its_builder(name):
    built = _builder().build(f"{name}.ipynb")
    stored = _notebook(name)
    assert [c.source for c in built.cells] == [_source(c) for c in stored["cells"]], (
        "notebook differs from notebooks/_build/build_notebooks.py: rerun the builder")
    params = [c for c in stored["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    for c in params:
        assert "os.environ.get(" in _source(c)
