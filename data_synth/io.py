"""Write and read a generated trial: recruits.csv, truth.json, manifest.json.

Files are written deterministically (fixed column order, fixed float format, sorted JSON
keys, no timestamps), so the same seed and targets give byte-identical files.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from hlt_replicate import vocab

from .generator import Generated

FLOAT_FORMAT = "%.10g"
INT_COLUMNS = ("treat", "age", "female", "nonwhite", "partner", "dep_children", "bl_looking", "bl_barriers",
               "responded", "participated")


def _json(obj) -> str:
    def default(o):
        if isinstance(o, (np.integer,)):
            return int(o)
        if isinstance(o, (np.floating,)):
            return float(o)
        raise TypeError(type(o))

    return json.dumps(obj, indent=1, sort_keys=True, default=default) + "\n"


def to_csv_text(data: pd.DataFrame) -> str:
    out = data.copy()
    for c in INT_COLUMNS:
        if c in out:
            out[c] = out[c].astype(int)
    out[vocab.RAND_DATE] = pd.to_datetime(out[vocab.RAND_DATE]).dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_trial(gen: Generated, out: str | Path) -> dict[str, Path]:
    """Write the three files; the manifest records each data file's SHA-256."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = to_csv_text(gen.data).encode()
    truth = _json(gen.truth).encode()
    paths = {"recruits": out / "recruits.csv", "truth": out / "truth.json", "manifest": out / "manifest.json"}
    paths["recruits"].write_bytes(csv)
    paths["truth"].write_bytes(truth)
    manifest = dict(gen.manifest)
    manifest["files"] = {
        "recruits.csv": {"rows": len(gen.data), "sha256": hashlib.sha256(csv).hexdigest()},
        "truth.json": {"sha256": hashlib.sha256(truth).hexdigest()},
    }
    paths["manifest"].write_bytes(_json(manifest).encode())
    return paths


def read_trial(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """Read recruits.csv (with the dictionary's types) and manifest.json from ``folder``."""
    folder = Path(folder)
    csv = folder / "recruits.csv"
    if not csv.exists():
        raise FileNotFoundError(f"{csv} not found: run `python -m data_synth generate --out {folder}` first")
    data = pd.read_csv(csv, parse_dates=[vocab.RAND_DATE])
    for c in (vocab.ID, vocab.SITE, vocab.GROUP, vocab.AREA, vocab.COHORT, "qual", "health", "work_history"):
        data[c] = data[c].astype(object)
    mpath = folder / "manifest.json"
    manifest = json.loads(mpath.read_text()) if mpath.exists() else {}
    return data, manifest


def load_trial(folder: str | Path) -> pd.DataFrame:
    """The recruits of a generated trial as a DataFrame."""
    return read_trial(folder)[0]
