"""A dashboard notebook opened in JupyterLab and run with Run → Run All Cells.

nbval executes notebooks without a frontend, so it never renders a widget. Here the BCR
calculator runs in a real JupyterLab in Chromium: no cell may show an error (or anything on
stderr), the sliders must render, and the readout must show what
:func:`hlt_replicate.dashboards.benefit_cost` returns for the sliders' initial values.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hlt_replicate import bcr
from hlt_replicate import dashboards as db

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.browser

NOTEBOOK = "bcr_calculator.ipynb"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def test_run_all_cells_in_jupyterlab(page, jupyterlab):
    from playwright.sync_api import expect

    base, root = jupyterlab
    shutil.copy(ROOT / "dashboards" / NOTEBOOK, root / NOTEBOOK)
    option = 2
    expected = db.benefit_cost(option, **{k: w.value for k, w in bcr.widget_controls(option).items()})

    pg = page.page
    pg.goto(f"{base}/lab/tree/{NOTEBOOK}?reset", wait_until="domcontentloaded", timeout=90_000)
    panel = pg.locator(PANEL)
    expect(panel.locator(".jp-Cell").first).to_be_visible(timeout=90_000)
    # the toolbar says idle before the kernel connects; the status bar only once it has
    expect(pg.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=90_000)

    pg.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    pg.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

    code_cells = panel.locator(".jp-CodeCell")
    n = code_cells.count()
    assert n >= 2
    # every code cell has run: its prompt shows an execution count, not "[ ]" or "[*]"
    for i in range(n):
        expect(code_cells.nth(i).locator(".jp-InputArea-prompt")).to_contain_text(f"[{i + 1}]", timeout=90_000)
    expect(pg.locator("#jp-main-statusbar")).to_contain_text("| Idle", timeout=60_000)

    # a rendered widget, showing the package's numbers
    expect(panel.locator(".widget-slider").first).to_be_visible(timeout=30_000)
    for key, text in expected.texts().items():
        expect(panel.locator(f'.hlt-readout[data-key="{key}"]')).to_have_text(text, timeout=30_000)

    # no error output, nothing on stderr
    errors = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]
    assert panel.locator(".hlt-readout-error").count() == 0
    assert not page.external, f"fetched from outside 127.0.0.1: {page.external}"
