"""Random assignment, assignment probabilities and randomisation inference.

The HLT allocated recruits 50/50 to IPS or usual care within each trial group; the split
was "hard-wired into the software used to conduct the allocation" (§4.2.1, Table 4-1:
1,260/1,259 SCR IW, 1,799/1,792 SCR OOW, 1,837/1,838 WMCA OOW). This module reproduces such
designs with the small verbs of R's ``randomizr`` (Coppock 2023):

* :func:`simple_ra` — independent coin flips (Bernoulli assignment);
* :func:`complete_ra` — exactly ``m`` of ``n`` treated (or ``n * prob``, rounded at random
  so that every unit's probability is exactly ``prob``);
* :func:`block_ra` — complete assignment within each block (stratum);
* :func:`declare_ra` — a :class:`RADesign` holding blocks and probabilities, which can
  draw assignments, report each unit's assignment probability, count and enumerate the
  possible assignments, and build a permutation matrix (``obtain_permutation_matrix``);
* :func:`hlt_design` — the HLT recipe: 50/50 complete assignment within trial group;
* :func:`ri_test`, :func:`ri_impact` — randomisation-inference p-values for any statistic
  (Fisher's sharp null of no effect for anyone; Gerber & Green 2012, ch. 3), including the
  regression-adjusted impact of :func:`hlt_replicate.impact.estimate_itt`.

Everything takes a ``seed`` (or a ``numpy.random.Generator``) and has no global state.

Note on Table 4-1: complete assignment within trial group gives arm sizes that differ by
at most one. SCR OOW's 1,799/1,792 differs by 7, so the real tool probably balanced within
finer blocks (e.g. area or intake batch); pass ``strata=("group", "area")`` to
:func:`hlt_design` to mimic that.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import vocab
from ._checks import InputError, require_binary, require_both_arms, require_choice, require_columns, require_frame

ALTERNATIVES = ("two-sided", "greater", "less")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_prob(prob: float, name: str = "prob") -> float:
    try:
        p = float(prob)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be a number in [0, 1], got {prob!r}") from err
    if not 0 <= p <= 1:
        raise InputError(f"{name} must be in [0, 1], got {p}")
    return p


def _target_m(n: int, m: int | None, prob: float | None, where: str = "") -> float:
    """Number of treated units wanted in a block of ``n``: ``m`` exactly, or ``n * prob``
    (possibly fractional; rounded at random when drawing). Default ``prob = 0.5``."""
    if m is not None and prob is not None:
        raise InputError(f"give m or prob{where}, not both")
    if m is not None:
        if int(m) != m or not 0 <= m <= n:
            raise InputError(f"m={m!r}{where} must be an integer between 0 and n={n}")
        return float(int(m))
    return n * _check_prob(0.5 if prob is None else prob)


# --- the design object -------------------------------------------------------------------
@dataclass(frozen=True)
class RADesign:
    """A random-assignment design (``randomizr::declare_ra``).

    ``kind`` is ``"simple"`` (independent Bernoulli draws with probability ``block_prob`` of
    the unit's block) or ``"complete"`` (exactly ``block_target`` treated within each block;
    a fractional target is rounded down or up at random so the expected number treated, and
    every unit's probability, is exact). A complete design without blocks has one block.
    """

    kind: str
    blocks: np.ndarray  # block label of each unit
    block_levels: tuple
    block_n: np.ndarray  # units per block
    block_target: np.ndarray  # expected number treated per block (complete designs)
    block_prob: np.ndarray  # assignment probability per block
    _codes: np.ndarray = field(repr=False)

    @property
    def n(self) -> int:
        return len(self.blocks)

    @property
    def probabilities(self) -> np.ndarray:
        """Each unit's probability of assignment to treatment
        (``randomizr::obtain_condition_probabilities``)."""
        return self.block_prob[self._codes]

    @property
    def fixed_m(self) -> bool:
        """True when every draw treats the same number in each block (integer targets)."""
        return self.kind == "complete" and bool(np.all(self.block_target == np.round(self.block_target)))

    @property
    def num_permutations(self) -> int:
        """Number of distinct assignments the design can produce
        (``randomizr::obtain_num_permutations``): the product over blocks of
        C(n_b, m_b) (plus C(n_b, m_b + 1) for a fractional target), or 2^n for simple designs."""
        if self.kind == "simple":
            free = int(np.sum((self.probabilities > 0) & (self.probabilities < 1)))
            return 2**free
        total = 1
        for nb, tb in zip(self.block_n, self.block_target):
            lo = math.floor(tb)
            total *= math.comb(int(nb), lo) + (math.comb(int(nb), lo + 1) if tb != lo else 0)
        return total

    def summary(self) -> pd.DataFrame:
        """One row per block: units, expected treated, probability."""
        return pd.DataFrame(
            {"block": list(self.block_levels), "n": self.block_n, "treated": self.block_target, "prob": self.block_prob}
        )

    def draw(self, seed=None) -> np.ndarray:
        """One random assignment (0/1 integer array) (``randomizr::conduct_ra``)."""
        return self.permutation_matrix(1, seed=seed, exact=False)[:, 0]

    def permutation_matrix(self, n_perm: int = 1000, seed=None, exact: bool | str = "auto") -> np.ndarray:
        """Alternative assignments as an ``(n, n_perm)`` 0/1 int8 matrix
        (``randomizr::obtain_permutation_matrix``).

        ``exact="auto"`` enumerates every possible assignment when there are at most
        ``n_perm`` of them and the design has fixed block sizes (each column then equally
        likely); otherwise ``n_perm`` assignments are drawn at random, independently.
        """
        if int(n_perm) < 1:
            raise InputError(f"n_perm must be >= 1, got {n_perm}")
        n_perm = int(n_perm)
        if exact == "auto":
            exact = self.fixed_m and self.num_permutations <= n_perm
        if exact:
            return self._enumerate()
        rng = _rng(seed)
        out = np.zeros((self.n, n_perm), dtype=np.int8)
        if self.kind == "simple":
            p = self.probabilities
            return (rng.random((self.n, n_perm)) < p[:, None]).astype(np.int8)
        for b in range(len(self.block_levels)):
            idx = np.flatnonzero(self._codes == b)
            nb, tb = len(idx), self.block_target[b]
            lo = math.floor(tb)
            m = np.full(n_perm, lo) + (rng.random(n_perm) < (tb - lo))
            # each column: m ones then zeros, shuffled independently
            base = (np.arange(nb)[:, None] < m[None, :]).astype(np.int8)
            out[idx] = rng.permuted(base, axis=0)
        return out

    def _enumerate(self) -> np.ndarray:
        if not self.fixed_m:
            raise InputError("exact enumeration needs fixed numbers treated per block (integer m), not a fractional prob")
        per_block = []
        for b in range(len(self.block_levels)):
            idx = np.flatnonzero(self._codes == b)
            per_block.append([(idx, c) for c in itertools.combinations(range(len(idx)), int(self.block_target[b]))])
        cols = []
        for combo in itertools.product(*per_block):
            z = np.zeros(self.n, dtype=np.int8)
            for idx, chosen in combo:
                z[idx[list(chosen)]] = 1
            cols.append(z)
        return np.column_stack(cols)


def declare_ra(
    n: int | None = None,
    *,
    blocks: Sequence | np.ndarray | pd.Series | None = None,
    m: int | None = None,
    prob: float | None = None,
    block_m: dict | Sequence[int] | None = None,
    block_prob: dict | Sequence[float] | None = None,
    simple: bool = False,
) -> RADesign:
    """Declare a random-assignment design (``randomizr::declare_ra``).

    Give ``n`` (no blocks) or ``blocks`` (one label per unit). Numbers treated: ``m`` (per
    block when blocked), or ``prob`` (default 0.5), or per-block ``block_m`` /
    ``block_prob`` (dicts keyed by block label, or sequences in sorted-label order).
    ``simple=True`` makes independent coin flips instead of fixed numbers.
    """
    if blocks is None:
        if n is None:
            raise InputError("give n (number of units) or blocks (one label per unit)")
        if int(n) != n or n < 1:
            raise InputError(f"n must be a positive integer, got {n!r}")
        labels = np.zeros(int(n), dtype=object)
    else:
        labels = np.asarray(pd.Series(blocks).astype(object))
        if n is not None and n != len(labels):
            raise InputError(f"n={n} but blocks has {len(labels)} labels")
        if pd.isna(labels).any():
            raise InputError(f"blocks has {int(pd.isna(labels).sum())} missing label(s)")
    levels, codes = np.unique(labels.astype(str), return_inverse=True)
    # keep original labels (not their str form) in sorted-string order
    first = [labels[np.flatnonzero(codes == i)[0]] for i in range(len(levels))]
    block_n = np.bincount(codes, minlength=len(levels))

    def per_block(spec, what):
        if spec is None:
            return None
        if isinstance(spec, dict):
            missing = [b for b in first if b not in spec]
            if missing:
                raise InputError(f"{what} has no entry for block(s) {missing[:5]}")
            return [spec[b] for b in first]
        spec = list(spec)
        if len(spec) != len(first):
            raise InputError(f"{what} has {len(spec)} entries for {len(first)} blocks")
        return spec

    bm, bp = per_block(block_m, "block_m"), per_block(block_prob, "block_prob")
    if sum(x is not None for x in (m, prob, bm, bp)) > 1:
        raise InputError("give only one of m, prob, block_m, block_prob")
    targets, probs = [], []
    for i, (lab, nb) in enumerate(zip(first, block_n)):
        where = f" (block {lab!r}, n={nb})" if blocks is not None else ""
        if simple:
            if m is not None or bm is not None:
                raise InputError("simple (Bernoulli) assignment takes prob or block_prob, not m")
            p = _check_prob(bp[i] if bp else (0.5 if prob is None else prob), "prob")
            targets.append(nb * p)
            probs.append(p)
            continue
        t = _target_m(int(nb), bm[i] if bm else m, bp[i] if bp else prob, where)
        targets.append(t)
        probs.append(t / nb)
    return RADesign(
        kind="simple" if simple else "complete",
        blocks=labels,
        block_levels=tuple(first),
        block_n=block_n,
        block_target=np.asarray(targets, float),
        block_prob=np.asarray(probs, float),
        _codes=codes,
    )


# --- the verbs ---------------------------------------------------------------------------
def simple_ra(n: int, prob: float = 0.5, seed=None) -> np.ndarray:
    """Independent Bernoulli(``prob``) assignment of ``n`` units (``randomizr::simple_ra``)."""
    return declare_ra(n, prob=prob, simple=True).draw(seed)


def complete_ra(n: int, m: int | None = None, prob: float | None = None, seed=None) -> np.ndarray:
    """Exactly ``m`` of ``n`` units treated (``randomizr::complete_ra``). Without ``m``,
    ``n * prob`` (default 0.5) treated, rounded down or up at random when fractional so
    that each unit's probability is exactly ``prob``."""
    return declare_ra(n, m=m, prob=prob).draw(seed)


def block_ra(
    blocks: Sequence | np.ndarray | pd.Series,
    m: int | None = None,
    prob: float | None = None,
    block_m: dict | Sequence[int] | None = None,
    block_prob: dict | Sequence[float] | None = None,
    seed=None,
) -> np.ndarray:
    """Complete random assignment within each block (``randomizr::block_ra``); stratified
    randomisation. Default: half of each block, odd blocks rounded at random."""
    return declare_ra(blocks=blocks, m=m, prob=prob, block_m=block_m, block_prob=block_prob).draw(seed)


def hlt_design(data: pd.DataFrame, strata: Sequence[str] = (vocab.GROUP,), prob: float = 0.5) -> RADesign:
    """The HLT's design: complete 50/50 assignment within trial group (§4.2.1, Table 4-1).

    ``strata`` lists the blocking columns (default the trial group; add ``"area"`` or
    ``"cohort"`` for finer blocks). Returns a :class:`RADesign` over the rows of ``data``.
    """
    require_frame(data)
    strata = list(strata)
    require_columns(data, strata)
    if not strata:
        return declare_ra(len(data), prob=prob)
    key = data[strata[0]]
    if len(strata) > 1:  # column-wise: a row-wise join took ~190 ms on the 9,785 recruits
        key = key.astype(str)
        for col in strata[1:]:
            key = key + " | " + data[col].astype(str)
    return declare_ra(blocks=key, prob=prob)


def assign_hlt(data: pd.DataFrame, seed=None, strata: Sequence[str] = (vocab.GROUP,), prob: float = 0.5) -> pd.Series:
    """Draw the HLT assignment for ``data``: a 0/1 Series named ``treat`` on its index."""
    return pd.Series(hlt_design(data, strata, prob).draw(seed), index=data.index, name=vocab.TREAT)


def observed_design(treat: Sequence | np.ndarray | pd.Series, blocks: Sequence | np.ndarray | pd.Series | None = None) -> RADesign:
    """The complete (block) design that fixes the observed number treated per block.

    Randomisation inference conditions on these counts: the permutations of an analysis
    sample (e.g. the survey respondents) keep each block's observed arm sizes.
    """
    t = require_binary(pd.Series(np.asarray(treat)), "treat")
    if blocks is None:
        return declare_ra(len(t), m=int(t.sum()))
    b = pd.Series(np.asarray(pd.Series(blocks).astype(object)))
    m = {lab: int(t[np.asarray(b == lab)].sum()) for lab in pd.unique(b)}
    return declare_ra(blocks=b, block_m=m)


# --- randomisation inference -------------------------------------------------------------
@dataclass(frozen=True)
class RIResult:
    """Randomisation-inference result: the observed statistic, its null distribution over
    alternative assignments and the p-value."""

    observed: float
    null: np.ndarray = field(repr=False)
    p: float
    n_perm: int
    exact: bool
    alternative: str

    def summary(self) -> pd.Series:
        return pd.Series(
            {"observed": self.observed, "p": self.p, "n_perm": self.n_perm, "exact": self.exact, "alternative": self.alternative}
        )


def _ri_p(obs: float, null: np.ndarray, exact: bool, alternative: str) -> float:
    tol = 1e-12 * max(1.0, abs(obs))
    if alternative == "two-sided":
        hits = np.abs(null) >= abs(obs) - tol
    elif alternative == "greater":
        hits = null >= obs - tol
    else:
        hits = null <= obs + tol
    k = int(hits.sum())
    # exact: the observed assignment is among the columns; sampled: add it (Phipson & Smyth 2010)
    return k / len(null) if exact else (k + 1) / (len(null) + 1)


def ri_test(
    statistic: Callable[[np.ndarray], float | np.ndarray],
    design: RADesign,
    treat: Sequence | np.ndarray,
    *,
    n_perm: int = 1000,
    seed=None,
    alternative: str = "two-sided",
    vectorised: bool = False,
    chunk: int = 500,
) -> RIResult:
    """Randomisation-inference p-value of any statistic under the sharp null of no effect.

    ``statistic(z)`` maps a 0/1 assignment vector (length ``design.n``) to a number; with
    ``vectorised=True`` it maps an ``(n, k)`` matrix of assignments to ``k`` numbers, which is
    much faster. The null distribution is the statistic over ``design``'s permutation matrix
    (every assignment when there are at most ``n_perm``; else ``n_perm`` random draws, and
    p = (1 + hits) / (1 + n_perm)). Two-sided p compares absolute values, so the statistic
    should be centred at 0 under the null (a difference or a coefficient).
    """
    require_choice(alternative, ALTERNATIVES, "alternative")
    z = require_binary(pd.Series(np.asarray(treat)), "treat")
    if len(z) != design.n:
        raise InputError(f"treat has {len(z)} values but the design has {design.n} units")
    require_both_arms(z, "treat")
    P = design.permutation_matrix(n_perm, seed=seed)
    exact = design.fixed_m and P.shape[1] == design.num_permutations and P.shape[1] <= n_perm
    if vectorised:
        obs = float(np.asarray(statistic(z[:, None])).ravel()[0])
        null = np.concatenate([np.asarray(statistic(P[:, i : i + chunk].astype(float)), float).ravel() for i in range(0, P.shape[1], chunk)])
    else:
        obs = float(statistic(z))
        null = np.array([float(statistic(P[:, j].astype(float))) for j in range(P.shape[1])])
    return RIResult(obs, null, _ri_p(obs, null, exact, alternative), int(P.shape[1]), bool(exact), alternative)


def diff_in_means(y: Sequence | np.ndarray, w: Sequence | np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A vectorised statistic for :func:`ri_test`: (weighted) treatment minus control mean of
    ``y`` for each column of an assignment matrix."""
    y = np.asarray(y, float)
    if np.isnan(y).any():
        raise InputError(f"y has {int(np.isnan(y).sum())} missing value(s); drop them (and their assignments) first")
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    wy = w * y

    def stat(Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, float)
        if Z.ndim == 1:
            Z = Z[:, None]
        w1 = w @ Z
        w0 = w.sum() - w1
        s1 = wy @ Z
        return s1 / w1 - (wy.sum() - s1) / w0

    return stat


def ri_impact(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    *,
    n_perm: int = 1000,
    seed=0,
    blocks: str | None = vocab.GROUP,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    alternative: str = "two-sided",
) -> RIResult:
    """Randomisation-inference p-value of the regression-adjusted ITT impact.

    The statistic is the coefficient on ``treat`` in :func:`hlt_replicate.impact.estimate_itt`'s
    regression (same controls and weights). Assignments are permuted among the rows with the
    outcome observed, keeping the observed number treated within each ``blocks`` level (the
    trial group); by Frisch–Waugh–Lovell every permuted coefficient is
    ``(M z)' W y / (M z)' W (M z)`` with ``M`` the weighted residual maker of the controls, so
    a thousand permutations cost two matrix products. Weights are held fixed.
    """
    from .impact import build_design, select_group
    from .regression import check_rank

    rows = select_group(data, group)
    d = build_design(rows, outcome, treat, controls, weights, baseline)
    if blocks is not None and blocks in rows:
        design = observed_design(d.treat, rows.loc[d.index, blocks])
    else:
        design = observed_design(d.treat)
    w = np.ones(len(d.y)) if d.w is None else d.w
    sw = np.sqrt(w)
    check_rank(d.X * sw[:, None], d.names, "regression design matrix")  # as estimate_itt's wls: too few rows, collinear controls
    C = d.X[:, [0, *range(2, d.X.shape[1])]] * sw[:, None]
    Q, _ = np.linalg.qr(C)
    ys = d.y * sw
    ry = ys - Q @ (Q.T @ ys)

    def stat(Z: np.ndarray) -> np.ndarray:
        Zs = np.asarray(Z, float) * sw[:, None]
        Rz = Zs - Q @ (Q.T @ Zs)
        return (Rz * ry[:, None]).sum(0) / (Rz * Rz).sum(0)

    return ri_test(stat, design, d.treat, n_perm=n_perm, seed=seed, alternative=alternative, vectorised=True)
