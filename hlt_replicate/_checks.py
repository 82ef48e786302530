"""Input checks shared by the estimators: clear, specific errors instead of deep tracebacks.

Each check raises :class:`InputError` (a ``ValueError``) whose message names the column or
argument, what was found and what was expected.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


class InputError(ValueError):
    """Raised when data or arguments handed to a kit function are unusable."""


def require_frame(data, what: str = "data") -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    return data


def require_columns(data: pd.DataFrame, columns: Iterable[str], what: str = "data") -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputError(
            f"{what} is missing column(s) {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, data.columns[:30]))}"
            + (" …" if len(data.columns) > 30 else "")
        )


def as_numeric(values, what: str, expected: str) -> np.ndarray:
    """``values`` as a float array, or raise naming ``what`` and the first values that are
    not numbers (text such as "T"/"C" where 0/1 is expected), instead of numpy's bare
    "could not convert string to float"."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        s = pd.Series(np.asarray(values, dtype=object).ravel())
        bad = s[pd.to_numeric(s, errors="coerce").isna() & s.notna()].unique().tolist()
        raise InputError(f"{what} has non-numeric value(s) {bad[:5]}; expected {expected}") from None


def require_binary(values: pd.Series, name: str) -> np.ndarray:
    """Return ``values`` as a 0/1 float array, or raise naming the offending values."""
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    if values.isna().any():
        raise InputError(f"column {name!r} has {int(values.isna().sum())} missing value(s); expected 0/1")
    arr = as_numeric(values, f"column {name!r}", "0/1")
    bad = sorted(set(np.unique(arr)) - {0.0, 1.0})
    if bad:
        raise InputError(f"column {name!r} must be 0/1, found value(s) {bad[:5]}")
    return arr


def require_both_arms(treat: np.ndarray, name: str, where: str = "") -> None:
    n1 = int(treat.sum())
    if n1 == 0 or n1 == len(treat):
        arm = "control (0)" if n1 == len(treat) else "treatment (1)"
        raise InputError(f"column {name!r} has no {arm} observations{where}: both arms are needed")


def require_weights(w: pd.Series | np.ndarray, name: str = "weights") -> np.ndarray:
    arr = as_numeric(w, name, "positive numbers")
    if arr.size == 0:
        raise InputError(f"{name} has no (non-missing) values")
    if np.isnan(arr).any():
        raise InputError(f"{name} has {int(np.isnan(arr).sum())} missing value(s); weights must be positive")
    if (arr <= 0).any():
        raise InputError(f"{name} has {int((arr <= 0).sum())} non-positive value(s) (min {arr.min():.4g}); weights must be > 0")
    if not np.isfinite(arr).all():
        raise InputError(f"{name} has infinite value(s)")
    return arr


def require_choice(value, choices: Iterable, name: str):
    choices = tuple(choices)
    if value not in choices:
        raise InputError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")
    return value
