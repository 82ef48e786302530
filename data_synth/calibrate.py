"""Post-draw calibration: move drawn outcomes the least needed to meet printed targets.

Used only in ``exact`` mode. Every estimator the report uses (weighted OLS for impacts and
Table 4-5 differences, 2SLS for participation impacts) is *linear in the outcome*:
``beta = B y`` for a fixed matrix ``B`` that depends only on the design, the weights and
the instrument. So, for a coefficient ``b = B_j y``:

* adding ``delta * B_j`` to ``y`` moves ``b`` by ``delta * ||B_j||^2`` and leaves the
  overall mean unchanged (``B_j 1 = 0`` when the model has a constant) — the
  minimum-norm change of the data that moves the estimate;
* adding a constant to one arm moves the arm mean one-for-one and ``b`` by a known amount;
* rescaling the residuals, ``y' = X beta + s e``, leaves ``beta`` unchanged (``B e = 0``)
  and multiplies the robust standard error by ``s``: the HC1 variance of ``b`` is
  ``n/(n-k) * sum_i B_ji^2 e_i^2``;
* rescaling the part explained by the controls, ``X_c beta_c``, changes the outcome's
  standard deviation and leaves ``b``, the residuals and the SE unchanged.

Binary outcomes are calibrated by flipping the fewest cases: counts per arm first, then
pairs of cases within an arm (one 0->1, one 1->0) chosen so that ``b`` moves by the
needed amount, since a swap moves it by exactly ``B_jj' - B_ji``. Integer outcomes use
+1/-1 pairs the same way. The estimators themselves are :mod:`hlt_replicate.regression`;
:class:`LinearEstimator` only exposes their ``B``, and the tests check the two agree.

The number of moves needed grows with the sample (``--scale 100`` needs ~100 times more),
so every discrete calibrator moves cases in batches whose size grows with n — pair moves
by effect size, SE moves checked exactly with a low-rank update of the HC1 sum
(:meth:`LinearEstimator.hc1_sum_after`), capped toggles by a small linear programme — and
the number of rounds, each one pass over the data, stays about the same at any scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass
class LinearEstimator:
    """``beta = B @ y`` for weighted OLS (``Z is None``) or 2SLS with instruments ``Z``.

    ``X`` holds the regressors (a constant and the coefficient of interest at ``j``), ``w``
    the weights. Residuals are ``y - X beta``; the HC1 variance is computed as in
    :func:`hlt_replicate.regression.wls` / :func:`~hlt_replicate.regression.iv2sls`.
    """

    X: np.ndarray
    w: np.ndarray | None
    j: int = 1
    Z: np.ndarray | None = None

    def __post_init__(self):
        n, k = self.X.shape
        sw = np.ones(n) if self.w is None else np.sqrt(self.w)
        Xs = self.X * sw[:, None]
        # B = A^-1 V' with a k x k inverse and one matrix product: solving for the n
        # right-hand sides instead costs several times more at --scale
        if self.Z is None:
            self.B = np.linalg.inv(Xs.T @ Xs) @ (Xs.T * sw[None, :])
        else:
            Zs = self.Z * sw[:, None]
            Xhat = Zs @ np.linalg.solve(Zs.T @ Zs, Zs.T @ Xs)
            self.B = np.linalg.inv(Xhat.T @ Xs) @ (Xhat.T * sw[None, :])
        self.c = self.B[self.j]
        self.c_order = np.argsort(self.c, kind="stable")  # pair searches filter it, never re-sort
        self.cc = float(self.c @ self.c)
        self.hc1 = n / (n - k)

    def beta(self, y: np.ndarray) -> np.ndarray:
        return self.B @ y

    def coef(self, y: np.ndarray) -> float:
        return float(self.c @ y)

    def resid(self, y: np.ndarray) -> np.ndarray:
        return y - self.X @ (self.B @ y)

    def se(self, y: np.ndarray) -> float:
        return self.se_of_resid(self.resid(y))

    def se_of_resid(self, e: np.ndarray) -> float:
        """The HC1 standard error of the coefficient given the residuals ``e``."""
        return float(np.sqrt(self.hc1 * np.sum(self.c**2 * e**2)))

    @cached_property
    def gram_c2(self) -> np.ndarray:
        """``X' diag(c^2) X``: with it, :meth:`hc1_sum_after` needs no pass over the data."""
        return (self.X * (self.c**2)[:, None]).T @ self.X

    def hc1_sum_after(self, e: np.ndarray, S: float, q: np.ndarray, rows: np.ndarray, dv: np.ndarray) -> float:
        """``S = sum c^2 e^2`` after ``y[rows] += dv``, given the current residuals ``e``, their
        ``S`` and ``q = X' (c^2 e)``, in O(k |rows| + k^2): the residuals change by
        ``dv`` on ``rows`` minus ``X db`` everywhere, ``db = B[:, rows] dv``, so
        ``S' = S + 2 (sum_rows c^2 e dv - q.db) + sum_rows c^2 dv (dv - 2 X db) + db' G db``."""
        db = self.B[:, rows] @ dv
        c2 = self.c[rows] ** 2
        own = c2 * dv
        return float(S + 2 * (own @ e[rows] - q @ db) + own @ (dv - 2 * (self.X[rows] @ db)) + db @ self.gram_c2 @ db)

    def controls_part(self, y: np.ndarray, first_control: int) -> np.ndarray:
        b = self.B @ y
        return self.X[:, first_control:] @ b[first_control:]


@dataclass
class Goal:
    """Targets for one outcome in one regression sample; ``None`` = not targeted.

    ``tol_*`` are the half-widths of the printed rounding intervals.
    """

    mean_c: float | None = None
    mean_t: float | None = None
    mean_all: float | None = None
    coef: float | None = None
    se: float | None = None
    sd_c: float | None = None
    tol_mean: float = 0.005
    tol_coef: float = 0.005
    tol_se: float = 0.005


def imbalance_direction(X: np.ndarray, T: np.ndarray, first_control: int = 2) -> np.ndarray:
    """A covariate index ``u = sum_k (d_k / var_k) (x_k - mean_k)`` whose slope explains a gap
    between the raw difference in means and the regression-adjusted impact: ``d_k`` is the
    raw treatment-control imbalance of control ``k``. ``u`` lies in the span of the controls,
    so adding it leaves the adjusted coefficient alone and moves the raw arm means; the
    calibration then re-centres the arms, which moves the coefficient."""
    Xc = X[:, first_control:]
    t = (T == 1).astype(float)
    mean, mean_t = Xc.mean(axis=0), (t @ Xc) / t.sum()
    mean_c = (mean * len(t) - mean_t * t.sum()) / (len(t) - t.sum())
    d = mean_t - mean_c
    v = Xc.var(axis=0)
    ok = v > 1e-12
    u = Xc[:, ok] @ (d[ok] / v[ok]) - mean[ok] @ (d[ok] / v[ok])
    return u / (u.std() or 1.0)


def _means(y, T):
    return y[T == 0].mean(), y[T == 1].mean()


def _solve_shifts(est: LinearEstimator, y: np.ndarray, T: np.ndarray, g: Goal, free: np.ndarray | None = None,
                  direction: np.ndarray | None = None) -> np.ndarray:
    """Shifts (arm constants and a multiple of ``direction``, by default ``B_j``) that hit
    the mean and coefficient targets. Only rows in ``free`` move (all rows when ``None``);
    a non-boolean ``free`` scales each row's share of the shift."""
    sol, vec = _shift_solution(est, y, T, g, free, direction)
    return y + sum(s * vec[u] for u, s in sol.items())


def _shift_solution(est, y, T, g: Goal, free=None, direction=None) -> tuple[dict, dict]:
    """The multiples of each shift vector that :func:`_solve_shifts` adds, and the vectors:
    ``a_c``/``a_t`` (control/treatment arm constants) or ``a`` (common constant), and ``d``
    (along ``direction``, by default ``B_j``)."""
    f = np.ones_like(y) if free is None else free.astype(float)
    c = (est.c if direction is None else direction) * f
    ctrl, trt = T == 0, T == 1
    n_c, n_t = ctrl.sum(), trt.sum()
    rows, rhs = [], []
    use_arms = g.mean_c is not None or g.mean_t is not None
    unknown = ["a_c", "a_t"] if use_arms else (["a"] if g.mean_all is not None else [])
    if g.coef is not None:
        unknown.append("d")
    if not unknown:
        return {}, {}
    vec = {"a_c": ctrl * f, "a_t": trt * f, "a": f, "d": c}
    vec = {u: vec[u] for u in unknown}
    # arm means by dot products: no boolean-indexed copies of n-vectors
    if g.mean_c is not None:
        rows.append([float(vec[u] @ ctrl) / n_c for u in unknown])
        rhs.append(g.mean_c - float(y @ ctrl) / n_c)
    if g.mean_t is not None:
        rows.append([float(vec[u] @ trt) / n_t for u in unknown])
        rhs.append(g.mean_t - float(y @ trt) / n_t)
    if g.mean_all is not None and not use_arms:
        rows.append([vec[u].mean() for u in unknown])
        rhs.append(g.mean_all - y.mean())
    if g.coef is not None:
        rows.append([float(est.c @ vec[u]) for u in unknown])
        rhs.append(g.coef - est.coef(y))
    sol = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return dict(zip(unknown, sol)), vec


def direction_loading(est: LinearEstimator, y, T, g: Goal, direction: np.ndarray, free=None) -> float:
    """Standard deviation of the change along ``direction`` that :func:`continuous` would
    make to bring the coefficient to ``g.coef`` with the arm means at their targets."""
    sol, vec = _shift_solution(est, y, T, g, free, direction)
    return float(abs(sol.get("d", 0.0)) * np.std(vec["d"])) if "d" in sol else 0.0


def _met(est: LinearEstimator, y, T, g: Goal, slack: float = 0.5) -> bool:
    mc, mt = _means(y, T)
    ok = True
    if g.mean_c is not None:
        ok &= abs(mc - g.mean_c) <= slack * g.tol_mean
    if g.mean_t is not None:
        ok &= abs(mt - g.mean_t) <= slack * g.tol_mean
    if g.mean_all is not None:
        ok &= abs(y.mean() - g.mean_all) <= slack * g.tol_mean
    if g.coef is not None:
        ok &= abs(est.coef(y) - g.coef) <= slack * g.tol_coef
    if g.se is not None:
        ok &= abs(est.se(y) - g.se) <= slack * g.tol_se
    if g.sd_c is not None:
        w = np.ones(int((T == 0).sum())) if est.w is None else est.w[T == 0]
        yc = y[T == 0]
        sd = np.sqrt(np.average((yc - np.average(yc, weights=w)) ** 2, weights=w))
        ok &= abs(sd - g.sd_c) <= slack * 0.005
    return bool(ok)


def continuous(
    est: LinearEstimator,
    y: np.ndarray,
    T: np.ndarray,
    goal: Goal,
    bounds: tuple[float, float] | None = None,
    first_control: int = 2,
    max_iter: int = 200,
    free: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    direction: np.ndarray | None = None,
) -> np.ndarray:
    """Calibrate a continuous outcome to ``goal`` (means, coefficient, SE, control SD).

    ``direction`` replaces ``B_j`` as the way to move the coefficient: with arm means fixed,
    a direction in the span of the controls (see :func:`imbalance_direction`) moves the
    adjusted impact away from the raw difference through the covariates' imbalance between
    the arms, as in real data, instead of through a treatment-by-weight pattern.

    ``free`` marks the rows allowed to move (e.g. only positive weeks in work, so zeros stay
    zeros); ``upper`` gives per-row upper bounds (weeks at 16+ hours <= weeks in work).
    """
    y = np.asarray(y, dtype=float).copy()
    lo, hi = bounds if bounds is not None else (-np.inf, np.inf)
    hi = np.minimum(hi, upper) if upper is not None else hi
    fm = np.ones(len(y), bool) if free is None else np.asarray(free, bool)
    for _ in range(max_iter):
        if goal.sd_c is not None:
            y = np.where(fm, _scale_controls_part(est, y, T, goal.sd_c, first_control), y)
        if goal.se is not None:
            e = est.resid(y)
            se = est.se_of_resid(e)
            if se > 0:
                y = y + (goal.se / se - 1.0) * e * fm
        # with per-row caps, shifts are proportional to each row's room under its cap
        room = np.sqrt(np.maximum(hi - y, 0) * np.maximum(y - lo, 0)) + 0.05 * (hi - lo if np.ndim(hi) else 1)
        shape = fm * room if upper is not None else (None if free is None else fm)
        y = _solve_shifts(est, y, T, goal, shape, direction)
        y = np.where(fm, np.clip(y, lo, hi), y)
        if _met(est, y, T, goal, slack=0.3):
            break
    return y


def _scale_controls_part(est, y, T, sd_target, first_control):
    """Rescale the controls-explained part of ``y`` so the control arm's SD is ``sd_target``
    (weighted by the regression weights, as the effect size uses). No-op when unreachable."""
    g = est.controls_part(y, first_control)
    a = y - g
    m = T == 0
    w = np.ones(m.sum()) if est.w is None else est.w[m]
    def wvar(v):
        mu = np.average(v, weights=w)
        return np.average((v - mu) ** 2, weights=w)
    def wcov(u, v):
        return np.average((u - np.average(u, weights=w)) * (v - np.average(v, weights=w)), weights=w)
    va, vg, cag = wvar(a[m]), wvar(g[m]), wcov(a[m], g[m])
    # var(a + k g) = va + 2k cag + k^2 vg = sd^2 ; take the root nearest k = 1
    if vg <= 1e-12:
        return y
    disc = cag**2 - vg * (va - sd_target**2)
    if disc < 0:
        return y
    roots = [(-cag + s * np.sqrt(disc)) / vg for s in (1, -1)]
    roots = [k for k in roots if k >= 0]
    if not roots:
        return y
    k = min(roots, key=lambda r: abs(r - 1))
    return a + k * g


def binary(
    est: LinearEstimator,
    y: np.ndarray,
    T: np.ndarray,
    goal: Goal,
    rng: np.random.Generator,
    max_swaps: int = 400,
    eligible_up: np.ndarray | None = None,
) -> np.ndarray:
    """Calibrate a 0/1 outcome: arm shares by the fewest flips, then the coefficient by
    within-arm swaps that keep the arm shares. The SE is not adjustable for a binary
    outcome of fixed shares; it is reported by the calibration check."""
    y = np.asarray(y, dtype=float).copy()
    c = est.c
    elig = np.ones(len(y), bool) if eligible_up is None else np.asarray(eligible_up, bool)
    want_up = (goal.coef - est.coef(y)) > 0 if goal.coef is not None else None
    for arm, target in ((0, goal.mean_c), (1, goal.mean_t)):
        if target is None:
            continue
        idx = np.flatnonzero(T == arm)
        need = int(round(target * len(idx))) - int(y[idx].sum())
        if need == 0:
            continue
        pool = idx[(y[idx] == 0) & elig[idx]] if need > 0 else idx[y[idx] == 1]
        # prefer flips that also push the coefficient the right way, with randomness
        score = rng.random(len(pool))
        if want_up is not None:
            direction = 1 if need > 0 else -1
            score = score + (np.argsort(np.argsort(c[pool] * direction * (1 if want_up else -1))) / len(pool))
        pick = pool[np.argsort(-score)[: abs(need)]]
        y[pick] = 1.0 if need > 0 else 0.0
    if goal.mean_all is not None and goal.mean_c is None and goal.mean_t is None:
        need = int(round(goal.mean_all * len(y))) - int(y.sum())
        pool = np.flatnonzero(y == (0 if need > 0 else 1))
        pick = rng.choice(pool, abs(need), replace=False) if need else []
        y[pick] = 1.0 if need > 0 else 0.0
    if goal.coef is None:
        return y
    can_down, can_up = (lambda v: v > 0.5), (lambda v: (v < 0.5) & elig)
    y = _pair_moves(est, y, T, goal.coef, goal.tol_coef, can_down, can_up, 1.0, max_swaps)
    for _ in range(3 if goal.se is not None else 0):
        y = _se_moves(est, y, T, goal, can_down, can_up)
        y = _pair_moves(est, y, T, goal.coef, goal.tol_coef, can_down, can_up, 1.0, max_swaps)
        if _met(est, y, T, goal, slack=0.9):
            break
    return y


def _se_moves(est, y, T, goal, can_down, can_up, max_iter: int = 600):
    """Move a discrete outcome's robust SE into its printed interval without moving the
    coefficient: within an arm, step down a case whose residual is large and step up one
    whose residual is small (raises the residual variance), or the reverse, then re-centre
    the coefficient. A -1 step at ``i`` changes ``S = sum c^2 e^2`` by about
    ``c_i^2 - grad_i`` and a +1 step at ``j`` by ``c_j^2 + grad_j``, where
    ``grad = 2 (I - X B)' (c^2 e)`` is the exact gradient (``~ 2 c^2 e``).

    Each round takes the best pairs of both arms, best first, as many as
    :func:`_se_batch` allows: in small samples one or two, at ``--scale 100`` thousands, so
    the number of rounds does not grow with n.

    For a 0/1 outcome the SE is set mostly by the shares; this reaches the nearest edge of
    the printed interval when the natural SE lies just outside it."""
    lo_ok, hi_ok = goal.se - 0.8 * goal.tol_se, goal.se + 0.8 * goal.tol_se
    c2 = est.c**2
    locked = np.zeros(len(y), bool)
    for _ in range(max_iter):
        e = est.resid(y)
        S = float(np.sum(c2 * e**2))
        se = np.sqrt(est.hc1 * S)
        if lo_ok <= se <= hi_ok:
            break
        sign = 1.0 if se < lo_ok else -1.0
        q = est.X.T @ (c2 * e)
        grad = 2 * (c2 * e - est.B.T @ q)
        gain_down, gain_up = sign * (c2 - grad), sign * (c2 + grad)
        down, up = can_down(y) & ~locked, can_up(y) & ~locked
        either = down & up  # integer outcomes: a case may go either way; give it its better role
        down &= ~(either & (gain_up > gain_down))
        up &= ~(either & (gain_up <= gain_down))
        pairs = [_best_pairs(np.flatnonzero((T == arm) & down), np.flatnonzero((T == arm) & up), gain_down, gain_up)
                 for arm in (0, 1)]
        i = np.concatenate([p[0] for p in pairs])
        j = np.concatenate([p[1] for p in pairs])
        g = np.concatenate([p[2] for p in pairs])
        if len(g) == 0:
            break
        order = np.argsort(-g, kind="stable")
        i, j, g = i[order], j[order], g[order]
        aim = (goal.se - sign * 0.4 * goal.tol_se) ** 2 / est.hc1
        k = _se_batch(est, (e, S, q), i, j, g, sign * (aim - S), (lo_ok, hi_ok), goal.tol_coef)
        y[i[:k]] -= 1.0
        y[j[:k]] += 1.0
        locked[i[:k]] = locked[j[:k]] = True
        y = _pair_moves(est, y, T, goal.coef, goal.tol_coef, can_down, can_up, 1.0, 50, locked)
    return _pair_moves(est, y, T, goal.coef, goal.tol_coef, can_down, can_up, 1.0, 400, locked)


def _se_batch(est, state, i, j, gain, need, band, tol_coef) -> int:
    """How many of the ranked SE pairs (``i`` down, ``j`` up, predicted gains ``gain``) to
    make at once (at least one): enough to close 80 % of ``need`` (the gap in ``S`` to a
    point halfway between the violated edge of ``band`` and its middle), while

    * the pairs' combined pull on the coefficient stays within half its tolerance (in
      small samples one pair moves it visibly; at scale, thousands do not), and
    * checked exactly (:meth:`LinearEstimator.hc1_sum_after`, from the current residuals
      ``state = (e, S, X'(c^2 e))``), the SE moves the right way without leaving ``band`` on
      the other side: many moves chosen alike also shift each other's fitted values, which
      the per-pair prediction ignores. The batch is halved until it does."""
    k = int(np.searchsorted(np.cumsum(gain), 0.8 * need)) + 1
    drift = np.maximum.accumulate(np.abs(np.cumsum(est.c[j[:k]] - est.c[i[:k]])))
    k = max(1, min(k, int(np.searchsorted(drift, 0.5 * tol_coef))))
    e, S, q = state
    se0 = np.sqrt(est.hc1 * S)
    raising = se0 < band[0]
    while k > 1:
        rows = np.concatenate([i[:k], j[:k]])
        dv = np.repeat([-1.0, 1.0], k)
        se = np.sqrt(est.hc1 * max(est.hc1_sum_after(e, S, q, rows, dv), 0.0))
        if (se > se0) == raising and not (se > band[1] if raising else se < band[0]):
            return k
        k //= 2
    return 1


def _best_pairs(down: np.ndarray, up: np.ndarray, gain_down: np.ndarray, gain_up: np.ndarray, top: int = 8192):
    """(down, up) pairs from one arm's disjoint candidate rows, the k-th best down case with
    the k-th best up case, while the pair's gain is positive: (down rows, up rows, gains),
    best first; at most ``top`` pairs (a round never uses more)."""
    k = min(len(down), len(up), top)
    down, up = _top(down, gain_down, k), _top(up, gain_up, k)
    g = gain_down[down] + gain_up[up]
    keep = np.flatnonzero(g > 0)
    return down[keep], up[keep], g[keep]


def integer(
    est: LinearEstimator,
    y: np.ndarray,
    T: np.ndarray,
    goal: Goal,
    bounds: tuple[int, int],
    max_moves: int = 400,
) -> np.ndarray:
    """Fine-tune an integer outcome already near its targets: +1/-1 pairs within an arm
    move the coefficient while keeping each arm's total."""
    y = np.asarray(y, dtype=float).copy()
    lo, hi = bounds
    if goal.coef is None:
        return y
    can_down, can_up = (lambda v: v > lo), (lambda v: v < hi)
    y = _pair_moves(est, y, T, goal.coef, goal.tol_coef, can_down, can_up, 1.0, max_moves)
    for _ in range(3 if goal.se is not None else 0):
        y = _se_moves(est, y, T, goal, can_down, can_up)
        if _met(est, y, T, goal, slack=0.9):
            break
    return y


def _pair_moves(est, y, T, target, tol, can_down, can_up, step, max_moves, locked=None):
    """Repeatedly move one case down by ``step`` and another in the same arm up by ``step``,
    choosing the pair whose effect on the coefficient best closes the gap. Cases marked in
    ``locked`` are left alone."""
    c, order = est.c, est.c_order
    b = est.coef(y)
    free = np.ones(len(y), bool) if locked is None else ~locked
    for _ in range(max_moves):
        gap = target - b
        if abs(gap) <= 0.25 * tol:
            break
        b = _bulk_pairs(c, order, y, T, gap, can_down, can_up, step, free, b)
        gap = target - b
        best = None
        for arm in (0, 1):
            arm_mask = (T == arm) & free
            down = np.flatnonzero(arm_mask & can_down(y))
            up = _by_c(order, arm_mask & can_up(y))
            if len(down) == 0 or len(up) == 0:
                continue
            cu = c[up]
            # for each candidate i going down, the ideal j has c_j = c_i + gap/step
            want = c[down] + gap / step
            pos = np.clip(np.searchsorted(cu, want), 0, len(cu) - 1)
            for cand in (pos, np.clip(pos - 1, 0, len(cu) - 1)):
                err = np.abs(cu[cand] - want)
                k = int(np.argmin(err))
                i, jj = down[k], up[cand[k]]
                if i == jj:
                    continue
                if best is None or err[k] < best[0]:
                    best = (err[k], i, jj)
        if best is None:
            break
        _, i, jj = best
        new_b = b + step * (c[jj] - c[i])
        if abs(target - new_b) >= abs(gap):
            break
        y[i] -= step
        y[jj] += step
        b = new_b
    return y


def _top(rows: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` rows with the largest ``key``, largest first (ties in row order)."""
    if k < len(rows):
        rows = np.sort(rows[np.argpartition(-key[rows], k - 1)[:k]])
    return rows[np.argsort(-key[rows], kind="stable")]


def _by_c(order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Rows of ``mask`` in increasing ``c`` (``order`` sorts ``c``): O(n), no sort."""
    return order[mask[order]]


def _bulk_pairs(c, order, y, T, gap, can_down, can_up, step, free, b):
    """Large samples: when no single pair can close the gap, move many disjoint pairs at
    once (lowest-``c`` cases down, highest-``c`` cases up when the coefficient must rise),
    stopping at 80 % of the gap; the caller fine-tunes pair by pair. Updates ``y`` in place
    and returns the new coefficient."""
    sign = 1.0 if gap > 0 else -1.0
    plans = []
    for arm in (0, 1):
        m = (T == arm) & free
        down = _by_c(order, m & can_down(y))
        up = _by_c(order, m & can_up(y))
        if len(down) == 0 or len(up) == 0:
            continue
        d = down if sign > 0 else down[::-1]
        u = up[::-1] if sign > 0 else up
        k = min(len(d), len(u))
        delta = step * (c[u[:k]] - c[d[:k]])
        plans.append((d[:k], u[:k], delta))
    if not plans:
        return b
    best_single = max(abs(p[2][0]) for p in plans if len(p[2]))
    if best_single >= 0.5 * abs(gap):
        return b
    # interleave both arms' candidate pairs by effect size
    d_all = np.concatenate([p[0] for p in plans])
    u_all = np.concatenate([p[1] for p in plans])
    delta = np.concatenate([p[2] for p in plans])
    order = np.argsort(-sign * delta)
    d_all, u_all, delta = d_all[order], u_all[order], delta[order]
    keep = (sign * delta > 0) & (d_all != u_all)
    d_all, u_all, delta = d_all[keep], u_all[keep], delta[keep]
    # disjoint: a case already used as j must not be reused as i (distinct arms/roles here)
    n = int(np.searchsorted(np.cumsum(sign * delta), 0.8 * abs(gap)))
    if n == 0:
        return b
    y[d_all[:n]] -= step
    y[u_all[:n]] += step
    return b + float(delta[:n].sum())


def capped(
    est: LinearEstimator,
    y: np.ndarray,
    T: np.ndarray,
    goal: Goal,
    cap: np.ndarray,
    rng: np.random.Generator,
    fill: float = 1.0,
    max_steps: int = 3000,
) -> np.ndarray:
    """Semi-continuous outcome bounded by a per-row cap (weeks at 16+ hours <= weeks in
    work): each eligible case is either off (0) or on (``fill`` x its cap).

    The distance to the arm means, coefficient and SE is measured in rounding intervals
    (:class:`_CappedAim`). While it is wider than one toggle, a small linear programme picks
    toggles in bulk (:func:`_capped_bulk`; at ``--scale 100``, thousands at once); then
    single toggles or within-arm swaps are made greedily, best first
    (:func:`_capped_local`); finally :func:`continuous` fine-tunes inside the caps if the
    targets are still not met.
    """
    y = np.asarray(y, dtype=float).copy()
    elig = np.flatnonzero(cap > 0)
    v = fill * cap
    y = np.where((y > 0) & (cap > 0), v, 0.0)
    aim = _CappedAim(est, T, goal)
    y = _capped_bulk(aim, y, elig, v)
    y = _capped_local(aim, y, elig, v, rng, max_steps)
    if _met(est, y, T, goal, slack=0.5):
        return y
    tuned = continuous(est, y, T, goal, (0.0, np.inf), free=y > 0, upper=cap)
    return tuned if aim.score(tuned) < aim.score(y) else y


class _CappedAim:
    """Targets of :func:`capped` in units of their rounding intervals.

    ``gap(y)`` is the vector (control mean, treatment mean, coefficient, SE) minus its
    targets over its tolerances (zero where not targeted); ``score`` its squared length.
    ``effects(y, idx, d)`` linearises the change of that vector when row ``idx[k]`` moves
    by ``d[k]``: means and coefficient move exactly; the HC1 sum ``S = sum c^2 e^2`` moves
    by ``d grad_k + d^2 c_k^2`` with ``grad = 2 (I - X B)' (c^2 e)`` its exact gradient, so
    effects of disjoint moves add up to first order even in bulk.
    """

    def __init__(self, est: LinearEstimator, T: np.ndarray, goal: Goal):
        self.est, self.T = est, T
        self.n_arm = np.array([(T == 0).sum(), (T == 1).sum()], dtype=float)
        tg = [goal.mean_c, goal.mean_t, goal.coef, goal.se]
        self.use = np.array([t is not None for t in tg], dtype=float)
        self.tgt = np.array([0.0 if t is None else float(t) for t in tg])
        if goal.se is not None:
            # a cap-bounded outcome's SE is easier to lower than to raise: aim a little high
            self.tgt[3] = goal.se + 0.3 * goal.tol_se
        # score against the printed rounding (means +/-0.005), not the tighter aim other
        # calibrators use, so the search can trade mean precision for reaching the SE
        tm = max(goal.tol_mean, 0.0035)
        self.tol = np.array([tm, tm, goal.tol_coef, goal.tol_se])

    def state(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gap vector, residuals) of ``y``."""
        est, T = self.est, self.T
        e = est.resid(y)
        se = est.se_of_resid(e)
        z = np.array([y[T == 0].mean(), y[T == 1].mean(), est.coef(y), se])
        return (z - self.tgt) / self.tol * self.use, e

    def score(self, y: np.ndarray) -> float:
        r, _ = self.state(y)
        return float(r @ r)

    def effects(self, r: np.ndarray, e: np.ndarray, idx: np.ndarray, d: np.ndarray) -> np.ndarray:
        """``len(idx) x 4`` changes of the gap vector (see the class docstring)."""
        est = self.est
        c = est.c
        v = c**2 * e
        grad = 2 * (v - est.B.T @ (est.X.T @ v))[idx]
        se = r[3] * self.tol[3] + self.tgt[3]
        arm = self.T[idx]
        A = np.empty((len(idx), 4))
        A[:, 0] = np.where(arm == 0, d / self.n_arm[0], 0.0)
        A[:, 1] = np.where(arm == 1, d / self.n_arm[1], 0.0)
        A[:, 2] = c[idx] * d
        A[:, 3] = est.hc1 * (d * grad + d**2 * c[idx] ** 2) / (2 * max(se, 1e-12))
        return A / self.tol * self.use


def _capped_bulk(aim: _CappedAim, y: np.ndarray, elig: np.ndarray, v: np.ndarray, rounds: int = 4) -> np.ndarray:
    """Toggle many cases at once while the gap is wider than a typical single toggle.

    Each round solves the linear programme ``min sum|slack| + eps * sum x`` subject to
    ``A' x + slack = -gap``, ``0 <= x <= 1``, over the linearised effects ``A`` of toggling
    each eligible case: a basic solution has at most four fractional ``x``, so rounding
    them leaves the gap within a few toggles; the fewest, most effective toggles win. The
    effects are re-linearised from the exact state after each round."""
    from scipy.optimize import linprog

    y = y.copy()
    best = aim.score(y)
    for _ in range(rounds):
        r, e = aim.state(y)
        d = np.where(y[elig] > 0, -v[elig], v[elig])
        A = aim.effects(r, e, elig, d)
        used = np.flatnonzero(aim.use)
        typical = float(np.median(np.abs(A[:, used]).sum(axis=1)))
        if not typical > 0 or np.sqrt(r @ r) < typical:
            break  # one toggle closes the gap: the greedy search does it better
        m = len(used)
        res = linprog(
            np.r_[np.full(len(elig), 1e-3 * typical), np.ones(2 * m)],
            A_eq=np.hstack([A[:, used].T, np.eye(m), -np.eye(m)]), b_eq=-r[used],
            bounds=[(0, 1)] * len(elig) + [(0, None)] * (2 * m), method="highs",
        )
        if res.status != 0:
            break
        flip = elig[res.x[: len(elig)] > 0.5]
        y_new = y.copy()
        y_new[flip] = np.where(y[flip] > 0, 0.0, v[flip])
        new = aim.score(y_new)
        if new >= best:
            break
        y, best = y_new, new
    return y


def _capped_local(aim: _CappedAim, y: np.ndarray, elig: np.ndarray, v: np.ndarray, rng: np.random.Generator,
                  max_steps: int, pool: int = 600) -> np.ndarray:
    """Greedy search: each step makes the single toggle, or within-arm swap (one case off,
    one on), whose linearised effect most reduces the score. Pair scores come from one
    matrix product per arm, ``|r + a_i + a_j|^2 = |r + a_i|^2 + |r + a_j|^2 - |r|^2 +
    2 a_i.a_j``; arms with more than ``pool`` cases on (or off) are sampled. When no move
    improves (a local optimum outside the targets), a few random swaps perturb the state;
    the best state seen is returned."""
    y = y.copy()
    T = aim.T
    best_y, best_score = y.copy(), np.inf
    restarts, prev = 0, np.inf
    for _ in range(max_steps):
        r, e = aim.state(y)
        cur = float(r @ r)
        if cur < best_score:
            best_y, best_score = y.copy(), cur
        if cur < 0.02:
            break
        move = None
        if cur < prev:
            on = y[elig] > 0
            A = aim.effects(r, e, elig, np.where(on, -v[elig], v[elig]))
            single = np.sum((r + A) ** 2, axis=1)
            k = int(np.argmin(single))
            move, found = [elig[k]], single[k]
            for arm in (0, 1):
                i_on = np.flatnonzero(on & (T[elig] == arm))
                i_off = np.flatnonzero(~on & (T[elig] == arm))
                if len(i_on) == 0 or len(i_off) == 0:
                    continue
                if len(i_on) > pool:  # large samples: a random subset bounds time and memory
                    i_on = rng.choice(i_on, pool, replace=False)
                if len(i_off) > pool:
                    i_off = rng.choice(i_off, pool, replace=False)
                pair = single[i_on][:, None] + single[i_off][None, :] - cur + 2 * (A[i_on] @ A[i_off].T)
                a, b = np.unravel_index(int(np.argmin(pair)), pair.shape)
                if pair[a, b] < found:
                    move, found = [elig[i_on[a]], elig[i_off[b]]], pair[a, b]
            if found >= cur:
                move = None
        prev = cur
        if move is None:
            if best_score < 1.0 or restarts >= 8:
                break
            # stuck in a local optimum outside the targets: perturb with a few random
            # within-arm swaps and search again, keeping the best state seen
            restarts += 1
            prev = np.inf
            on = y > 0
            for arm in (0, 1):
                i_on = elig[on[elig] & (T[elig] == arm)]
                i_off = elig[~on[elig] & (T[elig] == arm)]
                for i, j in zip(rng.choice(i_on, min(3, len(i_on)), replace=False),
                                rng.choice(i_off, min(3, len(i_off)), replace=False)):
                    y[i], y[j] = 0.0, v[j]
            continue
        for i in move:
            y[i] = 0.0 if y[i] > 0 else v[i]
    return best_y
