"""Every dashboard in ``dashboards/`` served by Voila and driven in Chromium.

For each dashboard: load the page, check that the readouts show what the dashboard's pure
function (:mod:`hlt_replicate.dashboards`) returns for the controls' initial values, move one
slider or dropdown, and check that the readouts become what the same function returns for the
new value. The expected numbers are computed here, in the test process, by the same call.
Every page must load nothing from outside 127.0.0.1 and raise no JavaScript error.
"""
from __future__ import annotations

import pytest

from hlt_replicate import bcr
from hlt_replicate import dashboards as db

pytestmark = pytest.mark.browser

LOAD_TIMEOUT = 90_000  # ms: a page load starts a kernel and runs the notebook
UPDATE_TIMEOUT = 60_000  # ms: one recomputation after a control changes


def _values(controls: dict) -> dict:
    return {name: w.value for name, w in controls.items()}


def open_dashboard(page, base: str, name: str):
    """Load a dashboard and wait for its readouts. A kernel that stalls while starting (seen
    intermittently on a loaded 2-core machine: the page sits at "Executing 2 of 3") gets
    one reload, as a trainer would press F5; a second stall fails the test."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    url = f"{base}/voila/render/{name}.ipynb"
    for attempt in (1, 2):
        page.page.goto(url, wait_until="commit", timeout=LOAD_TIMEOUT)
        try:
            page.page.locator(".hlt-readout").first.wait_for(state="visible", timeout=LOAD_TIMEOUT)
            return page.page
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    return page.page


def expect_readouts(pg, result: db.DashboardResult, timeout: int = UPDATE_TIMEOUT) -> None:
    from playwright.sync_api import expect

    for key, text in result.texts().items():
        expect(pg.locator(f'.hlt-readout[data-key="{key}"]')).to_have_text(text, timeout=timeout)


def slider(pg, description: str):
    return pg.locator(".widget-slider", has=pg.locator(".widget-label", has_text=description)).first


def nudge(pg, description: str, key: str = "ArrowRight", expect_readout: str | None = None) -> None:
    """Move a slider one step with the keyboard (noUiSlider handle), as a user would."""
    from playwright.sync_api import expect

    s = slider(pg, description)
    handle = s.locator(".noUi-handle")
    handle.focus()
    handle.press(key)
    if expect_readout is not None:
        expect(s.locator(".widget-readout")).to_have_text(expect_readout, timeout=10_000)


def choose(pg, description: str, label: str) -> None:
    dd = pg.locator(".widget-dropdown", has=pg.locator(".widget-label", has_text=description)).first
    dd.locator("select").select_option(label=label)


def finish(page, pg) -> None:
    assert pg.locator(".hlt-readout-error").count() == 0, pg.locator(".hlt-readout-error").first.inner_text()
    assert not page.external, f"fetched from outside 127.0.0.1: {page.external}"
    assert not page.errors, f"JavaScript errors: {page.errors}"


def changed(a: db.DashboardResult, b: db.DashboardResult) -> None:
    assert a.texts() != b.texts(), "the chosen change does not move any readout: pick another"


def test_randomisation(page, voila, dashboard_data):
    start = _values(db.randomisation_controls())
    before = db.randomisation(dashboard_data, **start)
    after = db.randomisation(dashboard_data, **{**start, "seed": start["seed"] + 1})
    changed(before, after)
    pg = open_dashboard(page, voila, "randomisation")
    expect_readouts(pg, before, LOAD_TIMEOUT)
    nudge(pg, "Seed", expect_readout=str(start["seed"] + 1))
    expect_readouts(pg, after)
    finish(page, pg)


def test_weighting(page, voila, dashboard_data):
    start = _values(db.weighting_controls())
    before = db.weighting(dashboard_data, **start)
    after = db.weighting(dashboard_data, **{**start, "trim": "percentile"})  # the cap at 3 x mean may not bind
    changed(before, after)
    pg = open_dashboard(page, voila, "weighting")
    expect_readouts(pg, before, LOAD_TIMEOUT)
    choose(pg, "Trimming", db.TRIM_RULES["percentile"])
    expect_readouts(pg, after)
    finish(page, pg)


def test_impact_explorer(page, voila, dashboard_data):
    start = _values(db.impact_controls())
    before = db.impact(dashboard_data, **start)
    after = db.impact(dashboard_data, **{**start, "outcome": "paid_work"})
    changed(before, after)
    pg = open_dashboard(page, voila, "impact_explorer")
    expect_readouts(pg, before, LOAD_TIMEOUT)
    choose(pg, "Outcome", "In paid work")
    expect_readouts(pg, after)
    # the chart is there (a matplotlib PNG in the output area, displayed after the readouts)
    from playwright.sync_api import expect

    expect(pg.locator(".widget-output .jp-RenderedImage img").first).to_be_visible(timeout=UPDATE_TIMEOUT)
    finish(page, pg)


def test_fwer_simulator(page, voila):
    start = _values(db.fwer_controls())
    before = db.fwer(**start)
    after = db.fwer(**{**start, "k": start["k"] + 1})
    changed(before, after)
    pg = open_dashboard(page, voila, "fwer_simulator")
    expect_readouts(pg, before, LOAD_TIMEOUT)
    nudge(pg, "K outcomes", expect_readout=str(start["k"] + 1))
    expect_readouts(pg, after)
    finish(page, pg)


@pytest.mark.parametrize("option", [2])
def test_bcr_calculator(page, voila, option):
    controls = bcr.widget_controls(option)
    start = _values(controls)
    cost = controls["cost_per_participant"]
    new_cost = min(cost.value + cost.step, cost.max)
    before = db.benefit_cost(option, **start)
    after = db.benefit_cost(option, **{**start, "cost_per_participant": new_cost})
    changed(before, after)
    pg = open_dashboard(page, voila, "bcr_calculator")
    expect_readouts(pg, before, LOAD_TIMEOUT)
    nudge(pg, "Cost per participant", expect_readout=f"{new_cost:,.0f}")
    expect_readouts(pg, after)
    finish(page, pg)


def test_kernels_talk_over_local_sockets(page, voila, artifacts_dir):
    """The dashboards' kernels use local (IPC) sockets (``scripts/serve_dashboards.py``): no
    TCP port per visitor, and no "running over TCP without encryption" warning for every
    kernel in the trainer's terminal."""
    open_dashboard(page, voila, "randomisation")
    log = (artifacts_dir / "voila.log").read_text(encoding="utf-8", errors="replace")
    assert "Kernel started" in log
    assert "without encryption" not in log
