"""Shared fixtures: the source texts and one generated trial per session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def seeds_dir() -> Path | None:
    """The source reports: $HLT_SEEDS_DIR, else ../shared/seeds beside the checkout."""
    for cand in (os.environ.get("HLT_SEEDS_DIR"), ROOT.parent / "shared" / "seeds"):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


@pytest.fixture(scope="session")
def seeds() -> Path:
    d = seeds_dir()
    if d is None:
        pytest.skip("source reports not found: set HLT_SEEDS_DIR or put shared/seeds beside the checkout")
    return d


@pytest.fixture(scope="session")
def exact_trial():
    """The default synthetic trial (exact mode, seed 0) with truth and manifest, made in
    worker processes (asked for: the default makes none where the test runner has started
    threads; test_same_seed_same_bytes compares it with one made in this process)."""
    import data_synth

    return data_synth.generate_trial(seed=0, jobs=3)


@pytest.fixture(scope="session")
def exact_report(exact_trial):
    from data_synth.check import calibration_report

    return calibration_report(exact_trial.data)
