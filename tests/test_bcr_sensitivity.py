"""Sensitivity analyses: tornado, two-way grid, break-even, Monte Carlo; speed and purity."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from hlt_replicate import bcr
from hlt_replicate.bcr.model import Undefined


@pytest.fixture
def jobs2():
    return bcr.rand_inputs(2)


def test_default_ranges_kit_and_rand(jobs2):
    r = bcr.default_ranges(jobs2)
    assert r["cost_per_participant"].low == pytest.approx(700) and r["cost_per_participant"].source == "kit"
    assert "saving_ssp" not in r  # no SSP outcomes in Table 2
    r2 = bcr.default_ranges(jobs2, option=2)
    assert (r2["net_employment_effect"].low, r2["net_employment_effect"].high) == (0.25, 0.30)
    assert (r2["cost_per_participant"].low, r2["cost_per_participant"].high) == (875, 1250)
    assert r2["cost_per_participant"].source.startswith("rand")
    r4 = bcr.default_ranges(bcr.rand_inputs(4), option=4)
    assert (r4["cost_per_participant"].low, r4["cost_per_participant"].high) == (150, 250)
    # ranges stay inside the valid domain
    r1 = bcr.default_ranges(bcr.rand_inputs(1, net_employment_effect=0.95), relative=0.5)
    assert r1["net_employment_effect"].high == 1.0


def test_tornado(jobs2):
    t = bcr.tornado(jobs2, bcr.default_ranges(jobs2, option=2))
    assert t.attrs["base"] == pytest.approx(4200 / 3920)
    assert list(t.swing) == sorted(t.swing, reverse=True)
    row = t.set_index("parameter").loc["cost_per_participant"]
    assert row.metric_low == pytest.approx(4200 / 3920) and row.metric_high == pytest.approx(4200 / (1250 * 4.48))
    row = t.set_index("parameter").loc["net_employment_effect"]
    assert row.metric_high == pytest.approx(4200 / (875 * 1.12 / 0.30))
    fig = bcr.plot_tornado(t)
    assert isinstance(fig, Figure)


def test_tornado_metric_validation(jobs2):
    with pytest.raises(ValueError, match="metric"):
        bcr.tornado(jobs2, metric="roi")


def test_two_way(jobs2):
    g = bcr.two_way(jobs2, "cost_per_participant", [500, 875, 1250], "net_employment_effect", [0.2, 0.25, 0.3])
    assert g.shape == (3, 3)
    assert g.loc[0.25, 875.0] == pytest.approx(4200 / 3920)
    assert g.loc[0.2, 1250.0] == pytest.approx(0.2 / 1.12 * 4200 / 1250)
    # a metric that does not depend on one axis still fills the grid
    g2 = bcr.two_way(bcr.rand_inputs(1), "saving_ssp", [0, 1000], "cost_per_participant", [500, 750])
    assert g2.shape == (2, 2)
    assert isinstance(bcr.plot_two_way(g), Figure)
    with pytest.raises(ValueError, match="different"):
        bcr.two_way(jobs2, "cost_per_participant", [1], "cost_per_participant", [1])


@pytest.mark.parametrize("option", [1, 2, 4])
@pytest.mark.parametrize("parameter", ["net_employment_effect", "cost_per_participant", "dropout_rate",
                                       "saving_exchequer", "sustained_share"])
def test_break_even_brings_bcr_to_one(option, parameter):
    inp = bcr.rand_inputs(option)
    be = bcr.break_even(inp, parameter)
    assert not isinstance(be.value, Undefined)
    v = be.value if parameter != "years" else int(be.value)
    assert bcr.evaluate(inp.replace(**{parameter: v})).bcr_government == pytest.approx(1.0, abs=1e-9)


def test_break_even_closed_forms():
    be = bcr.break_even(bcr.rand_inputs(2), "net_employment_effect")
    assert be.value == pytest.approx(875 * 1.12 / 4200)
    be = bcr.break_even(bcr.rand_inputs(4), "cost_per_participant")
    assert be.value == pytest.approx(4200 / 15)
    be = bcr.break_even(bcr.rand_inputs(1), "cost_per_participant")
    assert be.value * 100 == pytest.approx(106050)  # per specialist: savings to Government


def test_break_even_unreachable_is_undefined():
    inp = bcr.rand_inputs(3, net_employment_effect=0.05, cost_per_participant=5000)
    be = bcr.break_even(inp, "net_employment_effect")
    assert isinstance(be.value, Undefined) and "outside" in be.value.reason
    be = bcr.break_even(bcr.rand_inputs(1), "saving_health")
    assert isinstance(be.value, Undefined) and "stays above" in be.value.reason
    tbl = bcr.break_even_table(bcr.rand_inputs(2))
    assert list(tbl.parameter) == ["net_employment_effect", "cost_per_participant", "dropout_rate", "saving_exchequer"]


def test_break_even_appraisal_period():
    inp = bcr.rand_inputs(2, cost_per_participant=2000, discounting=True)
    be = bcr.break_even(inp, "years")
    t = int(be.value)
    assert bcr.evaluate(inp.replace(years=t)).bcr_government >= 1 > bcr.evaluate(inp.replace(years=t - 1)).bcr_government
    never = bcr.break_even(inp.replace(persistence=0.3), "years")
    assert isinstance(never.value, Undefined)


def test_break_even_net_benefit_target_zero(jobs2):
    be = bcr.break_even(jobs2, "cost_per_participant", metric="net_benefit_government_per_outcome")
    assert be.target == 0.0
    assert be.value == pytest.approx(4200 / 4.48)


def test_monte_carlo_reproducible_and_correct(jobs2):
    rr = {"net_employment_effect": (0.25, 0.30)}
    a = bcr.monte_carlo(jobs2, rr, n=20000, seed=1)
    b = bcr.monte_carlo(jobs2, rr, n=20000, seed=1)
    pd.testing.assert_frame_equal(a.draws, b.draws)
    # BCR is linear in the effect: P(BCR > 1) = P(effect > 0.2333) = 1 under U(0.25, 0.30)
    assert a.probability_above(1) == 1.0
    # with cost U(875, 1250): BCR > 1 iff cost < 937.5 -> P = 62.5 / 375
    c = bcr.monte_carlo(jobs2, {"cost_per_participant": (875, 1250)}, n=40000, seed=2)
    assert c.probability_above(1) == pytest.approx(62.5 / 375, abs=0.01)
    s = c.summary()
    assert list(s.metric) == ["bcr", "bcr_government"] and (s.p_above >= 0).all()
    assert isinstance(bcr.plot_monte_carlo(c), Figure)


def test_monte_carlo_triangular_and_rand_ranges(jobs2):
    mc = bcr.monte_carlo(jobs2, bcr.rand_ranges(2), n=5000, distribution="triangular")
    assert mc.draws["cost_per_participant"].between(875, 1250).all()
    with pytest.raises(ValueError, match="distribution"):
        bcr.monte_carlo(jobs2, distribution="normal")
    with pytest.raises(ValueError, match="cost_per_participant"):
        bcr.monte_carlo(jobs2, {"cost_per_participant": (-10, 100)})


def test_functions_are_pure(jobs2):
    before = jobs2
    bcr.tornado(jobs2)
    bcr.monte_carlo(jobs2, n=100)
    bcr.dashboard(2, cost_per_participant=900)
    assert jobs2 == before == bcr.rand_inputs(2)
    assert bcr.rand_result(2).bcr == bcr.rand_result(2).bcr


def test_widget_callbacks_are_fast():
    bcr.dashboard(2)  # warm up
    t0 = time.perf_counter()
    d = bcr.dashboard(1, cost_per_participant=800, years=3, discounting=True)
    t_dash = time.perf_counter() - t0
    t0 = time.perf_counter()
    bcr.monte_carlo(bcr.rand_inputs(2), n=10_000)
    t_mc = time.perf_counter() - t0
    t0 = time.perf_counter()
    bcr.tornado(bcr.rand_inputs(2))
    t_tor = time.perf_counter() - t0
    assert t_dash < 1.0 and t_mc < 0.5 and t_tor < 0.2, (t_dash, t_mc, t_tor)
    assert isinstance(d.figure, Figure) and list(d.table.columns) == ["quantity", "value"]


def test_dashboard_handles_bad_and_missing_inputs():
    d = bcr.dashboard(2, dropout_rate=1.0)
    assert d.table.quantity.iloc[0] == "error" and "dropout_rate" in d.table.value.iloc[0]
    d3 = bcr.dashboard(3)
    assert "undefined" in d3.table.value.iloc[0]
    d3b = bcr.dashboard(3, net_employment_effect=0.05)
    assert d3b.table.set_index("quantity").loc["BCR (Government)", "value"] == "0.53"


def test_dashboard_matches_rand_at_defaults():
    for opt, printed in ((1, "1.41"), (2, "1.07"), (4, "1.12")):
        t = bcr.dashboard(opt).table.set_index("quantity")
        assert t.loc["BCR (Government)", "value"] == printed


def test_widget_controls_initialised_at_rand_inputs():
    pytest.importorskip("ipywidgets")
    c = bcr.widget_controls(2)
    assert c["cost_per_participant"].value == 875 and c["dropout_convention"].value == "per_completer"
    d = bcr.dashboard(2, **{k: w.value for k, w in c.items()})
    assert d.table.set_index("quantity").loc["BCR (Government)", "value"] == "1.07"
    c4 = bcr.widget_controls(4)
    assert c4["dropout_rate"].value == pytest.approx(1 / 3, abs=0.01)


def test_plots_convention_and_hlt():
    assert isinstance(bcr.plot_convention_audit(bcr.convention_audit()), Figure)
    assert isinstance(bcr.plot_hlt(bcr.hlt_bcr_table({"a": (0.04, 0.013)})), Figure)
    assert isinstance(bcr.plot_components(bcr.rand_inputs(3)), Figure)  # undefined case draws a message
