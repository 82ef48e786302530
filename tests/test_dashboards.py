"""The dashboards' callbacks (:mod:`hlt_replicate.dashboards`), their widget wiring, the
dashboard notebooks, and the trainer's scripts (``scripts/serve_dashboards.py``,
``scripts/strip_solutions.py``).

The callbacks are checked against the package functions they wrap, on the small random trial
of ``_fake_trial`` (fast); the browser tests in ``tests/browser/`` check that a real page shows
the same numbers.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from _fake_trial import make_fake_trial
from hlt_replicate import bcr, vocab
from hlt_replicate import dashboards as db
from hlt_replicate import impact as im
from hlt_replicate import weighting as wt
from hlt_replicate._checks import InputError

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = ROOT / "dashboards"


def shown(html: str) -> dict[str, str]:
    """``{key: text}`` of the readouts in a readout widget's HTML (what the page displays)."""
    return dict(re.findall(r'<span class="hlt-readout" data-key="([^"]+)"[^>]*>([^<]*)</span>', html))


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    data = make_fake_trial(1800, seed=3)
    data[vocab.WEIGHT] = wt.ipw_weights(data)
    return data


# --- readouts ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("readout", "text"),
    [
        (db.Readout("a", "A", 1.23456), "1.235"),
        (db.Readout("a", "A", -1.5, 1), "-1.5"),
        (db.Readout("a", "A", -0.0001), "0.000"),  # no "-0.000"
        (db.Readout("a", "A", 12345.678, 1), "12,345.7"),
        (db.Readout("a", "A", 1463), "1,463"),
        (db.Readout("a", "A", np.int64(-1)), "-1"),
        (db.Readout("a", "A", float("nan")), "n/a"),
        (db.Readout("a", "A", None), "n/a"),
        (db.Readout("a", "A", "23.3%"), "23.3%"),
        (db.Readout("p", "p", 0.0004, p_value=True), "<0.001"),
        (db.Readout("p", "p", 0.0123, p_value=True), "0.012"),
    ],
)
def test_readout_text(readout, text):
    assert readout.text == text


def test_readout_html_is_selectable_and_escaped():
    html = db.readout_html([db.Readout("bcr", "BCR <Gov>", 1.5, 2), db.Readout("x", "X", "a<b")])
    assert shown(html) == {"bcr": "1.50", "x": "a&lt;b"}
    assert "BCR &lt;Gov&gt;" in html and "a&lt;b" in html
    res = db.DashboardResult((db.Readout("bcr", "BCR", 1.5, 2),))
    assert res.texts() == {"bcr": "1.50"} and res.text("bcr") == "1.50" and res.readout_html() == db.readout_html(res.readouts)
    with pytest.raises(KeyError, match="no readout"):
        res["nope"]


# --- randomisation -----------------------------------------------------------------------
def test_randomisation_readouts(trial):
    r = db.randomisation(trial, seed=4, strata="group", group="SCR_IW", covariate="age", n_perm=199)
    n_group = int((trial[vocab.GROUP] == "SCR_IW").sum())
    t, c = (int(r[k].value) for k in ("treated", "control"))
    assert t + c == n_group and abs(t - c) <= 1 and r["t_minus_c"].value == t - c
    assert 1 / 200 <= r["ri_p"].value <= 1
    assert r["max_std_diff"].value == pytest.approx(r.view.table["|std. diff.|"].max(), abs=5e-4)  # table rounded
    # same seed, same draw; another seed, another draw
    assert db.randomisation(trial, seed=4, group="SCR_IW", n_perm=199).texts() == r.texts()
    assert db.randomisation(trial, seed=5, group="SCR_IW", n_perm=199).texts() != r.texts()
    assert r.view.figure is not None


def test_randomisation_difference_is_the_draws_difference(trial):
    """``diff`` is the treatment-control difference of the covariate under the drawn
    assignment: recompute it from the design with the same random stream."""
    from hlt_replicate import randomisation as ra

    r = db.randomisation(trial, seed=7, strata="group_area", group="WMCA_OOW", covariate="bl_eq5d", n_perm=50)
    z = ra.hlt_design(trial, (vocab.GROUP, vocab.AREA)).draw(np.random.default_rng([7, 0]))
    g = (trial[vocab.GROUP] == "WMCA_OOW").to_numpy()
    x, zg = trial.loc[g, "bl_eq5d"].to_numpy(float), z[g]
    assert r["diff"].value == pytest.approx(x[zg == 1].mean() - x[zg == 0].mean())
    assert r["treated"].value == int(zg.sum())


def test_randomisation_unblocked_arms_can_differ(trial):
    gaps = {abs(db.randomisation(trial, seed=s, strata="none", n_perm=20)["t_minus_c"].value) for s in range(6)}
    assert max(gaps) > 1  # only the overall total is fixed


@pytest.mark.parametrize("bad", [dict(strata="area"), dict(group="SCR"), dict(covariate="weight"), dict(n_perm=0)])
def test_randomisation_rejects_bad_input(trial, bad):
    with pytest.raises(InputError):
        db.randomisation(trial, **bad)


# --- weighting ---------------------------------------------------------------------------
def test_weighting_matches_the_package(trial):
    covs = ["age", "female", "qual"]
    r = db.weighting(trial, covariates=covs, trim="cap", k=2.0, group="SCR_OOW")
    rows = im.select_group(trial, "SCR_OOW")
    w = wt.survey_weights(rows, covs, trim="cap", k=2.0, upper=0.99)
    asmd = wt.asmd_table(rows, None, db.ASMD_VARIABLES, weights=w, compare="population")
    assert r["asmd_before"].value == pytest.approx(asmd["before"].max())
    assert r["asmd_after"].value == pytest.approx(asmd["after"].max())
    assert r["deff"].value == pytest.approx(wt.kish_deff(w.dropna()))
    assert r["ess"].value == pytest.approx(wt.effective_sample_size(w.dropna()))
    assert r["respondents"].value == int(rows[vocab.RESPONDED].sum())
    assert r["max_weight"].value <= 2.0 * 1.0 + 1e-9  # capped at k x mean, and the mean is 1


def test_weighting_arm_only_and_trimming(trial):
    full = db.weighting(trial)
    arm_only = db.weighting(trial, covariates=[])
    capped = db.weighting(trial, trim="cap", k=1.5)
    assert arm_only["asmd_before"].value == pytest.approx(full["asmd_before"].value)  # same sample, unweighted
    assert arm_only["deff"].value < full["deff"].value
    assert capped["deff"].value <= full["deff"].value + 1e-12
    assert db.weighting(trial, trim="percentile")["max_weight"].value <= full["max_weight"].value + 1e-12


@pytest.mark.parametrize("bad", [dict(trim="rake"), dict(group="OOW_pooled"), dict(covariates=["weight"])])
def test_weighting_rejects_bad_input(trial, bad):
    with pytest.raises(InputError):
        db.weighting(trial, **bad)


# --- impact ------------------------------------------------------------------------------
@pytest.mark.parametrize(("group", "outcome", "weights"),
                         [("SCR_IW", "swemwbs", True), ("SCR_OOW", "paid_work", False), ("OOW_pooled", "eq5d", True)])
def test_impact_matches_estimate_itt(trial, group, outcome, weights):
    r = db.impact(trial, group, outcome, weights)
    resp = trial[trial[vocab.RESPONDED] == 1]
    est = im.estimate_itt(resp, outcome, group, weights=vocab.WEIGHT if weights else None)
    assert r["impact"].value == est.impact and r["se"].value == est.se and r["p"].value == est.p
    assert r["base"].value == est.nobs
    assert r["control"].value == est.control_mean and r["treatment"].value == est.treatment_mean
    shown = [i for i in r.view.table.index if i.endswith("shown")]
    assert shown == [f"survey weights {'on' if weights else 'off'} ← shown"]


def test_impact_rejects_bad_input(trial):
    with pytest.raises(InputError):
        db.impact(trial, "Everyone", "swemwbs")
    with pytest.raises(InputError):
        db.impact(trial, "SCR_IW", "sustained_emp_12m")


# --- FWER --------------------------------------------------------------------------------
def test_fwer_matches_simulate_fwer():
    from hlt_replicate.lessons.ch04 import simulate_fwer

    r = db.fwer(k=4, rho=0.5, trials=20, n=40, reps=60, seed=3)
    tab = simulate_fwer(trials=20, n=40, k=4, rho=0.5, reps=60, alpha=0.05, seed=3)
    for proc, (key, _) in db.FWER_PROCEDURES.items():
        assert r[key].value == tab.loc[proc, "fwer"]
    assert r["fwer_independent"].value == pytest.approx(1 - 0.95**4)
    assert set(db.FWER_PROCEDURES) == set(tab.index)


# --- BCR ---------------------------------------------------------------------------------
def test_benefit_cost_reads_the_bcr_dashboard():
    values = {"cost_per_participant": 900.0, "net_employment_effect": 0.3}
    r = db.benefit_cost(2, **values)
    table = dict(zip(*bcr.dashboard(2, 0.2, **values).table[["quantity", "value"]].T.to_numpy()))
    for quantity, (key, _) in db.BCR_READOUTS.items():
        assert r.text(key) == table[quantity]
    assert float(r.text("bcr_government")) > float(db.benefit_cost(2).text("bcr_government"))  # larger effect


def test_benefit_cost_without_a_value_never_raises():
    assert db.benefit_cost(3).text("bcr_government").startswith("undefined")  # RAND has no effect for option 3
    assert db.benefit_cost(3).text("bcr") == "n/a"
    bad = db.benefit_cost(2, dropout_rate=1.5)  # invalid input: an error row, not an exception
    assert all(t == "n/a" for t in bad.texts().values())


# --- widget wiring (headless: no frontend, the observers still run) ------------------------
def test_app_updates_readouts_when_a_control_changes():
    import ipywidgets as w

    calls = []

    def callback(x):
        calls.append(x)
        return db.DashboardResult((db.Readout("double", "2x", 2.0 * x, 1),))

    slider = w.IntSlider(value=3, min=0, max=10)
    root = db.app(callback, {"x": slider})
    readouts = next(c for c in root.children if "hlt-readouts" in c._dom_classes)
    assert shown(readouts.value) == {"double": "6.0"} and calls == [3]
    slider.value = 4
    assert shown(readouts.value) == {"double": "8.0"} and calls == [3, 4]
    assert "hlt-busy" not in readouts._dom_classes


def test_app_shows_errors_in_the_readouts():
    import ipywidgets as w

    def callback(x):
        if x > 1:
            raise InputError("x too large")
        return db.DashboardResult((db.Readout("x", "x", x),))

    slider = w.IntSlider(value=1)
    root = db.app(callback, {"x": slider})
    readouts = next(c for c in root.children if "hlt-readouts" in c._dom_classes)
    with pytest.raises(InputError):  # in a kernel the Output widget shows the traceback instead
        slider.value = 2
    assert "hlt-readout-error" in readouts.value and "x too large" in readouts.value
    assert "hlt-busy" not in readouts._dom_classes


def test_controls_match_the_callbacks(trial):
    """Every control is an argument of its callback, and the initial values work."""
    for controls, fn in [(db.randomisation_controls(), lambda **v: db.randomisation(trial, n_perm=20, **v)),
                         (db.weighting_controls(), lambda **v: db.weighting(trial, **v)),
                         (db.impact_controls(), lambda **v: db.impact(trial, **v))]:
        res = fn(**{k: c.value for k, c in controls.items()})
        assert all(isinstance(t, str) and t for t in res.texts().values())
    assert set(db.fwer_controls()) <= {"k", "rho", "trials"}


def test_bcr_app_rebuilds_for_another_option():
    root = db.bcr_app(option=2)
    chooser, holder = root.children

    def readouts():
        inner = holder.children[0]
        return next(c for c in inner.children if "hlt-readouts" in c._dom_classes).value

    assert shown(readouts()) == db.benefit_cost(2, **_initial(2)).texts()
    chooser.value = 4
    assert shown(readouts()) == db.benefit_cost(4, **_initial(4)).texts() != db.benefit_cost(2, **_initial(2)).texts()


def _initial(option: int) -> dict:
    return {k: w.value for k, w in bcr.widget_controls(option).items()}


# --- data --------------------------------------------------------------------------------
def test_load_data_from_a_generated_folder(tmp_path, monkeypatch):
    from data_synth.generator import Generated
    from data_synth.io import write_trial

    data = make_fake_trial(600, seed=1)
    write_trial(Generated(data, {}, {}), tmp_path)
    got = db.load_data(folder=tmp_path)
    assert len(got) == 600 and vocab.WEIGHT in got
    assert got.loc[got[vocab.RESPONDED] == 0, vocab.WEIGHT].isna().all()
    assert got.loc[got[vocab.RESPONDED] == 1, vocab.WEIGHT].gt(0).all()
    monkeypatch.setenv("HLT_DATA", str(tmp_path))
    assert db.load_data().equals(got)


# --- the dashboard notebooks ---------------------------------------------------------------
def test_one_notebook_per_dashboard_built_from_the_script():
    build = _load_builder()
    assert set(build.NOTEBOOKS) == set(db.DASHBOARDS)
    for name, parts in build.NOTEBOOKS.items():
        path = DASHBOARD_DIR / f"{name}.ipynb"
        assert path.exists(), f"{path} missing: run dashboards/_build_dashboards.py"
        nb = nbformat.read(path, as_version=4)
        assert nb == build.build(name, *parts), f"{path} differs from dashboards/_build_dashboards.py: re-run it"
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path}: clear the outputs"
        widget_cells = [c for c in code if "db.app(" in c.source or "db.bcr_app(" in c.source]
        assert widget_cells and all(c.source.startswith("# NBVAL_IGNORE_OUTPUT\n") for c in widget_cells)


def _load_builder():
    spec = importlib.util.spec_from_file_location("_build_dashboards", DASHBOARD_DIR / "_build_dashboards.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_offline_voila_template_disables_cdn_links():
    tpl = (DASHBOARD_DIR / "_voila" / "voila" / "templates" / "hlt" / "index.html.j2").read_text()
    assert "extends 'voila/templates/lab/index.html.j2'" in tpl and 'rel="hlt-offline-skipped"' in tpl


# --- scripts -----------------------------------------------------------------------------
def test_serve_dashboards_command():
    serve = _script("serve_dashboards")
    cmd = serve.voila_command(8899, "127.0.0.1")
    assert cmd[1:4] == ["-m", "voila", str(DASHBOARD_DIR)]
    assert {"--no-browser", "--port=8899", "--Voila.ip=127.0.0.1", "--template=hlt"} <= set(cmd)
    assert "--preheat_kernel=True" in serve.voila_command(8899, "127.0.0.1", preheat=True)
    assert not any("transport" in a for a in cmd)  # TCP unless a socket folder is given
    ipc = serve.voila_command(8899, "127.0.0.1", sockets="/tmp/hlt-kernels-x")
    assert {"--KernelManager.transport=ipc", "--KernelManager.ip=/tmp/hlt-kernels-x/kernel"} <= set(ipc)


def test_serve_dashboards_refuses_a_folder_without_data(tmp_path):
    serve = _script("serve_dashboards")
    with pytest.raises(SystemExit) as exc:
        serve.main(["--data", str(tmp_path)])
    assert exc.value.code == 2


def _nb_with_solutions():
    v4 = nbformat.v4
    nb = v4.new_notebook()
    nb.cells = [
        v4.new_markdown_cell("# Lesson"),
        v4.new_code_cell("from lesson import check, show_solution", outputs=[], execution_count=1),
        v4.new_markdown_cell("**Exercise 1.** How many?"),
        v4.new_code_cell('answer_ex1 = None\ncheck("ex1", answer_ex1)', execution_count=2,
                         outputs=[v4.new_output("stream", name="stdout", text="✗ ex1\n")]),
        v4.new_code_cell('show_solution("ex1")', execution_count=3),
        v4.new_code_cell("tb.show_solution(2)  # reveal"),
        v4.new_code_cell("# SOLUTION\nanswer_ex1 = 42"),
        v4.new_markdown_cell("The answer is 42.", metadata={"tags": ["Solution"]}),
        v4.new_markdown_cell("<!-- SOLUTION -->\nBecause."),
        v4.new_code_cell("x = solution_count(3)"),  # not a reveal call
        v4.new_code_cell('print(show_solution("ex1"))\ny = 1'),  # mixed: kept
    ]
    nb.metadata["widgets"] = {"state": {}}
    return nb


def test_strip_solutions_removes_only_solution_cells():
    strip = _script("strip_solutions")
    nb = _nb_with_solutions()
    out, removed = strip.strip_notebook(nb)
    assert removed == 5
    sources = [c.source for c in out.cells]
    assert sources == ["# Lesson", "from lesson import check, show_solution", "**Exercise 1.** How many?",
                       'answer_ex1 = None\ncheck("ex1", answer_ex1)', "x = solution_count(3)",
                       'print(show_solution("ex1"))\ny = 1']
    assert all(not c.outputs and c.execution_count is None for c in out.cells if c.cell_type == "code")
    assert "widgets" not in out.metadata
    assert len(nb.cells) == 11 and nb.cells[3].outputs  # the input is untouched
    kept, _ = strip.strip_notebook(nb, clear_outputs=False, note="*Withheld.*")
    assert [c.source for c in kept.cells].count("*Withheld.*") == 5 and kept.cells[3].outputs


def test_strip_solutions_command(tmp_path):
    strip = _script("strip_solutions")
    src = tmp_path / "lesson.ipynb"
    nbformat.write(_nb_with_solutions(), src)
    assert strip.main([str(src), "--out", str(tmp_path / "handout")]) == 0
    out = nbformat.read(tmp_path / "handout" / "lesson.ipynb", as_version=4)
    assert len(out.cells) == 6
    with pytest.raises(SystemExit):
        strip.main([str(src), "--out", str(tmp_path)])  # would overwrite the original


def test_strip_solutions_on_the_lesson_notebooks():
    strip = _script("strip_solutions")
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        pytest.skip("no lesson notebooks yet")
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        reveal = sum(1 for c in nb.cells if c.cell_type == "code" and strip.is_solution_cell(c))
        out, removed = strip.strip_notebook(nb)
        assert removed == reveal
        left = [c.source for c in out.cells if c.cell_type == "code" and "show_solution(" in c.source]
        assert all("import" in s for s in left), (path.name, left)  # only the import line mentions it
        checks = sum("check(" in c.source for c in nb.cells if c.cell_type == "code")
        assert sum("check(" in c.source for c in out.cells if c.cell_type == "code") == checks
