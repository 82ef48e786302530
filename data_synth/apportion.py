"""Integer counts whose shares round to printed values.

A published share such as 0.34 (two decimals) says only that the true share lies in
[0.335, 0.345). Exact calibration needs whole-person counts that sum to the group size and
each round back to the printed share; :func:`apportion` finds them (largest-remainder
apportionment, Hamilton's method, then repair inside the rounding intervals).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import TargetError


def rounding_interval(value: float, decimals: int, scale: float = 1.0) -> tuple[float, float]:
    """Closed interval of true values that print as ``value`` with ``decimals`` decimals.

    ``scale`` converts the printed unit into the unit compared (100 for a printed
    percentage compared with a proportion: pass ``scale=100``).
    """
    half = 0.5 * 10.0 ** (-decimals)
    return (value - half) / scale, (value + half) / scale


def apportion(
    total: int,
    shares: Sequence[float],
    decimals: int | None = None,
    scale: float = 1.0,
    name: str = "shares",
) -> np.ndarray:
    """Split ``total`` into integer counts proportional to ``shares``.

    With ``decimals`` given, every count ``c_k`` also satisfies
    ``round(c_k / total * scale, decimals) == shares_k`` (ties at the half allowed either
    way); a :class:`TargetError` explains when no such counts exist.
    """
    s = np.asarray(shares, dtype=float)
    if total < 0:
        raise TargetError(f"{name}: negative total {total}")
    if (s < 0).any():
        raise TargetError(f"{name}: negative share(s) {s[s < 0].tolist()}")
    if total == 0:
        return np.zeros(len(s), dtype=int)
    if s.sum() <= 0:
        raise TargetError(f"{name}: shares sum to zero")
    p = s / s.sum()
    raw = p * total
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    if decimals is None:
        return counts
    eps = 1e-9
    lo = np.array([np.ceil((v - 0.5 * 10.0**-decimals) / scale * total - eps) for v in s], dtype=int)
    hi = np.array([np.floor((v + 0.5 * 10.0**-decimals) / scale * total + eps) for v in s], dtype=int)
    lo = np.maximum(lo, 0)
    if lo.sum() > total or hi.sum() < total or (lo > hi).any():
        printed = [round(float(v), decimals) for v in s]
        raise TargetError(
            f"{name}: no whole-number split of {total} has shares that print as {printed} "
            f"({decimals} decimals): the allowed counts sum to between {lo.sum()} and {hi.sum()}"
        )
    counts = np.clip(counts, lo, hi)
    # repair the sum inside the intervals, moving the cases with the largest slack first
    while counts.sum() != total:
        gap = total - counts.sum()
        if gap > 0:
            room = hi - counts
            k = int(np.argmax(np.where(room > 0, raw - counts, -np.inf)))
            counts[k] += 1
        else:
            room = counts - lo
            k = int(np.argmax(np.where(room > 0, counts - raw, -np.inf)))
            counts[k] -= 1
    return counts


def count_for_share(total: int, value: float, decimals: int, scale: float = 1.0, name: str = "share") -> int:
    """The whole number nearest ``value/scale * total`` that prints as ``value``."""
    lo, hi = rounding_interval(value, decimals, scale)
    c = int(round(value / scale * total))
    cands = [k for k in range(max(c - 3, 0), min(c + 4, total + 1)) if lo - 1e-12 <= k / total <= hi + 1e-12]
    if not cands:
        raise TargetError(f"{name}: no count out of {total} prints as {value} ({decimals} decimals)")
    return min(cands, key=lambda k: abs(k - value / scale * total))


def count_bounds(total: int, values, decimals: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Smallest and largest counts out of ``total`` that print as each of ``values``."""
    v = np.asarray(values, dtype=float)
    eps = 1e-9
    half = 0.5 * 10.0**-decimals
    lo = np.maximum(np.ceil((v - half) / scale * total - eps), 0).astype(int)
    hi = np.minimum(np.floor((v + half) / scale * total + eps), total).astype(int)
    # A printed share no whole count reaches (e.g. 20.0% of 777: 155 is 19.95%, 156 is 20.08%)
    # comes from weighted data; fall back to the two nearest counts.
    empty = lo > hi
    ideal = v / scale * total
    lo[empty] = np.floor(ideal[empty]).astype(int)
    hi[empty] = np.ceil(ideal[empty]).astype(int)
    return lo, hi


def fill_within(total: int, ideal, lo, hi, name: str = "counts") -> np.ndarray:
    """Integer counts summing to ``total``, each within ``[lo, hi]``, closest to ``ideal``."""
    ideal = np.asarray(ideal, dtype=float)
    lo, hi = np.asarray(lo, int), np.asarray(hi, int)
    if (lo > hi).any() or lo.sum() > total or hi.sum() < total:
        raise TargetError(f"{name}: no counts summing to {total} fit the allowed ranges {list(zip(lo.tolist(), hi.tolist()))}")
    counts = np.clip(np.round(ideal).astype(int), lo, hi)
    while counts.sum() != total:
        if counts.sum() < total:
            k = int(np.argmax(np.where(counts < hi, ideal - counts, -np.inf)))
            counts[k] += 1
        else:
            k = int(np.argmax(np.where(counts > lo, counts - ideal, -np.inf)))
            counts[k] -= 1
    return counts
