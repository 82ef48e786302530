"""The calibration report: every target beside the value the generated data achieve.

Achieved values are computed with the kit's own estimators (:mod:`hlt_replicate.impact`,
survey weights from :func:`hlt_replicate.weighting.ipw_weights`), exactly as a student
would compute them, never read from the generator's internals.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from hlt_replicate import vocab
from hlt_replicate.balance import balance_table
from hlt_replicate.impact import estimate_itt, estimate_participation
from hlt_replicate.weighting import ipw_weights

from .targets import Targets, load_targets


def stars(p: float, levels=(0.10, 0.05, 0.01)) -> str:
    """Asterisks for a p-value under a convention (default 90/95/99 %, the blog's)."""
    return "*" * sum(p < lv for lv in levels) or "none"


class Achieved:
    """Computes achieved statistics from a generated trial, caching regressions."""

    def __init__(self, data: pd.DataFrame, t: Targets):
        self.t = t
        d = data.copy()
        if vocab.WEIGHT not in d:
            d[vocab.WEIGHT] = ipw_weights(d)
        self.all = d
        self.resp = d[d[vocab.RESPONDED] == 1]
        self._cache: dict = {}

    def rows(self, group: str, respondents: bool = False) -> pd.DataFrame:
        key = ("rows", group, respondents)
        if key not in self._cache:
            src = self.resp if respondents else self.all
            self._cache[key] = src if group == "all" else src[src[vocab.GROUP].isin(vocab.groups_in(group))]
        return self._cache[key]

    def itt(self, group, outcome, population: bool = False, **kw):
        """ITT among respondents (or, with ``population=True``, among all recruits)."""
        key = ("itt", group, outcome, population, tuple(sorted(kw.items())))
        if key not in self._cache:
            self._cache[key] = estimate_itt(self.all if population else self.resp, outcome, group, **kw)
        return self._cache[key]

    def iv(self, group, outcome):
        key = ("iv", group, outcome)
        if key not in self._cache:
            self._cache[key] = estimate_participation(self.resp, outcome, group)
        return self._cache[key]

    def value(self, r: pd.Series) -> float | str:
        sec, g, stat, var = r["section"], r["group"], r["statistic"], r["variable"]
        arm = r["arm"]
        if sec == "design":
            rows = self.rows(g)
            if arm is not None and not pd.isna(arm):
                rows = rows[rows[vocab.TREAT] == int(arm)]
            if stat == "randomised":
                return len(rows)
            if stat == "respondents":
                return int(rows[vocab.RESPONDED].sum())
            if stat == "response_pct":
                return rows[vocab.RESPONDED].mean()
        if sec in ("baseline_characteristics", "work_history", "baseline_measures"):
            return self._baseline(g, var, stat)
        if sec == "baseline_base":  # var: the column
            n = self._balance(g).query("kind != 'level'")[f"n_{var}"]
            return int(n.min() if stat == "base_min" else n.max())
        if sec == "table_4_5":
            if stat == "p_wy":
                return np.nan
            res = self.itt(g, var, baseline=False)
            return res.impact if stat == "diff" else res.se
        if sec in ("ips_sessions", "first_session"):
            return self._mi(sec, g, stat, var)
        if sec in ("primary_outcomes", "secondary_impacts"):
            if stat == "stars":
                return np.nan
            res = self.itt(g, var)
            return {
                "control": res.control_mean, "treatment": res.treatment_mean, "impact": res.impact, "se": res.se,
                "sd": res.sd, "sd_s": res.effect_size, "base": res.nobs,
            }[stat]
        if sec == "participation_impacts":
            if stat == "stars":
                return np.nan
            res = self.iv(g, var)
            return {"iv_impact": res.impact, "iv_se": res.se, "iv_sd_s": res.effect_size, "iv_base": res.nobs}[stat]
        if sec == "admin_12m":
            res = self.itt(g, vocab.SUSTAINED_EMP_12M, population=True, weights=None, baseline=False)
            if stat == "impact":
                return res.impact
            if stat == "control":
                return res.control_mean
            if stat == "stars":
                return stars(res.p)
        raise KeyError(f"no rule to compute {sec}.{stat}")

    def _balance(self, g) -> pd.DataFrame:
        key = ("balance", g)
        if key not in self._cache:
            self._cache[key] = balance_table(self.all, g)
        return self._cache[key]

    def _baseline(self, g, var, stat):
        if stat == "p_value":
            bt = self._balance(g)
            row = bt[(bt["variable"] == var) & bt["level"].isna()]
            return float(row["p"].iloc[0]) if len(row) else np.nan
        if stat == "difference":
            return self._baseline(g, var, "treatment") - self._baseline(g, var, "control")
        resp = stat in ("sample", "control", "treatment", "respondent_mean")
        rows = self.rows(g, respondents=resp)
        if stat in ("control", "treatment"):
            rows = rows[rows[vocab.TREAT] == (stat == "treatment")]
        col, level = var.split("=", 1) if "=" in var else (var, None)
        rows = rows[rows[col].notna()]  # item non-response: a mean of the recorded values
        x = (rows[col] == level).astype(float) if level is not None else rows[col].astype(float)
        if stat in ("sample", "control", "treatment"):
            return float(np.average(x, weights=rows[vocab.WEIGHT]))
        return float(x.mean())

    def _mi(self, sec, g, stat, var):
        col = vocab.SESSIONS if sec == "ips_sessions" else vocab.WEEKS_TO_FIRST
        rows = self.rows(g)
        rows = rows[rows[vocab.TREAT] == 1]
        if stat.endswith("_resp"):
            rows = rows[rows[vocab.RESPONDED] == 1]
        rows = rows[rows[col].notna()]
        x = rows[col]
        if stat.startswith("base"):
            return len(x)
        # respondents' columns are survey-weighted, all recruits' columns plain (ips module docstring)
        w = rows[vocab.WEIGHT] if stat.endswith("_resp") else None
        if stat.startswith("mean"):
            return float(np.average(x, weights=w))
        spec = self.t.raw[sec]
        b = var[var.index("[") + 1 : -1]
        lo, hi = spec["bin_bounds"][spec["bins"].index(b)]
        return float(np.average((x >= lo) & (x <= hi), weights=w))


def calibration_report(data: pd.DataFrame, targets: str | Targets | None = None, scale: int | None = None) -> pd.DataFrame:
    """Every target of the targets file beside its achieved value.

    Columns: id, table, group, arm, statistic, value (target, printed units), achieved
    (printed units), tol, status (``met``, ``missed``, ``not a target``, ``published
    inconsistency``), kind, doc, line.
    """
    t = targets if isinstance(targets, Targets) else load_targets(targets, scale=scale or 1)
    if scale and t.scale != scale:
        t = t.with_scale(scale)
    flat = t.flat()
    ach = Achieved(data, t)
    vals = []
    for _, r in flat.iterrows():
        v = ach.value(r)
        vals.append(v * r["unit"] if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) else v)
    flat["achieved"] = vals
    status = []
    for _, r in flat.iterrows():
        if r["excluded"]:
            status.append("published inconsistency")
            continue
        a, v = r["achieved"], r["value"]
        if a is None or (isinstance(a, float) and np.isnan(a)):
            ok = None  # not computed here (e.g. stars, WY p-values: see the scorecard)
        elif isinstance(v, str) or isinstance(a, str):
            ok = str(a) == str(v)
        else:
            ok = abs(float(a) - float(v)) <= r["tol"] + 1e-9
        if not r["target"]:
            status.append("not a target" if ok is None else ("not a target: matches" if ok else "not a target: differs"))
        else:
            status.append("met" if ok else "missed")
    flat["status"] = status
    cols = ["id", "table", "group", "arm", "variable", "statistic", "value", "achieved", "decimals", "tol", "status", "kind", "doc", "line"]
    return flat[cols]


def format_report(rep: pd.DataFrame, show: str = "targets") -> str:
    """Plain-text calibration report. ``show``: ``"targets"`` (calibration targets and
    inconsistencies), ``"all"`` (also the cells that are not generator targets)."""
    view = rep if show == "all" else rep[~rep["status"].str.startswith("not a target")]
    lines = []
    width = max(view["id"].str.len().max(), 20)
    for (sec,), part in view.groupby([view["id"].str.split(".").str[0]], sort=False):
        lines.append(f"\n== {sec} ==")
        for _, r in part.iterrows():
            val = r["value"] if isinstance(r["value"], str) else f"{r['value']:.{int(r['decimals'])}f}"
            a = r["achieved"]
            ach = a if isinstance(a, str) else ("-" if a is None or np.isnan(a) else f"{a:.{int(r['decimals']) + 2}f}")
            src = f"{r['doc']} {r['table']}" + (f" l.{int(r['line'])}" if not pd.isna(r["line"]) else "")
            lines.append(f"{r['id']:<{width}}  target {val:>9}  achieved {ach:>11}  {r['status']:<24} {r['kind']:<9} {src}")
    n_t = (rep["status"].isin(["met", "missed"])).sum()
    n_met = (rep["status"] == "met").sum()
    n_inc = (rep["status"] == "published inconsistency").sum()
    lines.append(f"\n{n_met} of {n_t} targets met; {n_t - n_met} missed; {n_inc} published inconsistencies not targeted.")
    return "\n".join(lines)
