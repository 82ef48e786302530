"""An automatic audit of the published tables: the arithmetic every printed cell must obey.

The checks need no data, only the project's transcription of the reports (the targets file,
``hlt_replicate/data/published_extra.yaml`` and RAND's cells). Each check compares printed
numbers with each other, allowing for the printed rounding (a value printed with d decimals
lies within ± 0.5·10⁻ᵈ of the true one):

* Table 4-1 — totals of the rows and of the prose, response percentages from the counts;
* Tables 4-2..4-4 — shares of a categorical block sum to one; the weighted sample mean lies
  between the weighted arm means; the Base rows against the group sizes of Table 4-1;
* duplicated rows — a row equal, cell for cell, to another row (Tables 4-5, 4-8..4-15);
* Tables 4-6/4-7 — percentages sum to 100; Total columns are the base-weighted average of the
  groups (all recruits) or some weighting of them (respondents: survey-weighted percentages,
  line 1386); bases against group sizes and against each other; each mean between the smallest
  and largest mean its own distribution allows; the prose restating them;
* Tables 4-8..4-15 — impacts against treatment − control; bases against respondents and a
  pooled base against the sum of its groups'; raw means of a pooled group within what its
  groups' means allow; effect sizes against the impact and the S.D. they imply (bounded by the
  outcome's scale and by the residual S.D. the S.E. implies); stars against impact/S.E. under
  each of the report's two star conventions (§4.3: 90/95/99 %; footnote 15: p < .05/.01/.001);
* prose — each restated number and significance claim against the table it restates;
* chapter 3 — bases against chapter 4's, totals, the SCR share always in work;
* IES blog Table 1 — its star note, and its cells against its own prose;
* RAND Tables 1-4 — :func:`hlt_replicate.bcr.audit_rand_tables` (drop-out conventions,
  rounding of halves, arithmetic).

:func:`audit_reports` returns one row per check: ``id``, ``check``, ``doc``, ``line``,
``table``, ``cell``, ``printed``, ``arithmetic`` (what the arithmetic says, with the numbers),
``status`` (``consistent``; ``inconsistent``: no dataset could produce the printed cells;
``convention``: holds under one stated convention only; ``notable``: possible but at odds with
the table or text around it), ``treatment`` (how the kit treats the cells), ``cells`` (the
scorecard ids concerned) and ``exclude`` (the scorecard marks them ``published-inconsistent``).
:func:`findings` keeps the rows that are not ``consistent``; :func:`crosscheck_inconsistencies`
checks that the audit rediscovers every entry of the targets file's ``inconsistencies``.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from . import vocab

STATUSES = ("consistent", "inconsistent", "convention", "notable")
AUDIT_COLUMNS = ("id", "check", "doc", "line", "table", "cell", "printed", "arithmetic", "status", "treatment", "cells", "exclude")
CONVENTIONS = {"section_4_3": (0.10, 0.05, 0.01), "footnote_15": (0.05, 0.01, 0.001)}
CONVENTION_LABELS = {"section_4_3": "§4.3 (90/95/99%)", "footnote_15": "footnote 15 (p<.05/.01/.001)"}
#: Family size for the lower bound on stars: a Westfall–Young adjusted p is at most the
#: Bonferroni bound K·p; K = every 4-month outcome of a group (the most the report could adjust over).
FAMILY_MAX = len(vocab.OUTCOMES)
TREAT_EXCLUDED = "published-inconsistent in the scorecard (not a calibration target)"
TREAT_KEPT = "reproduced as printed"


def half(decimals: int) -> float:
    return 0.5 * 10.0 ** -int(decimals)


def fmt(x: float, d: int = 2) -> str:
    return f"{x:,.{d}f}"


@dataclass
class _Audit:
    raw: dict
    extra: dict
    rows: list[dict] = field(default_factory=list)

    def add(self, id, check, table, cell, printed, arithmetic, status, *, doc="R1033", line=None, treatment=None,
            cells=(), exclude=None):
        if status not in STATUSES:
            raise ValueError(status)
        if exclude is None:
            exclude = status == "inconsistent"
        if treatment is None:
            treatment = TREAT_EXCLUDED if exclude else TREAT_KEPT
        self.rows.append(dict(id=id, check=check, doc=doc, line=line, table=table, cell=cell, printed=str(printed),
                              arithmetic=arithmetic, status=status, treatment=treatment, cells=tuple(cells), exclude=bool(exclude)))

    # -- transcription helpers -----------------------------------------------------------------
    def groups(self):
        return [g for g in vocab.GROUPS if g in self.raw["design"]["randomised"]]

    def rand_n(self, g, arm=None):
        d = self.raw["design"]["randomised"]
        gs = vocab.groups_in(g) if g != "all" else self.groups()
        return sum(d[x][arm] if arm else d[x]["treatment"] + d[x]["control"] for x in gs)

    def resp_n(self, g, arm=None):
        d = self.raw["design"]["respondents"]
        gs = vocab.groups_in(g) if g != "all" else self.groups()
        return sum(d[x][arm] if arm else d[x]["treatment"] + d[x]["control"] for x in gs)

    def extra_cell(self, id_):
        for c in self.extra.get("cells", []):
            if c["id"] == id_:
                return c
        raise KeyError(id_)

    def impact_rows(self):
        """(section, group, outcome, dict of printed cells, line, table) for Tables 4-8..4-15."""
        out = []
        for sec, cols in (("secondary_impacts", ("control", "treatment", "impact", "se", "sd_s", "stars", "base")),
                          ("participation_impacts", ("impact", "se", "sd_s", "stars", "base"))):
            for g, block in (self.raw.get(sec) or {}).items():
                if g not in vocab.ALL_GROUPS:
                    continue
                for o, r in block["rows"].items():
                    out.append((sec, g, o, dict(zip(cols, r["values"])), int(r["line"]), block["source"]["table"]))
        return out


def _p_two_sided(t):
    return 2 * stats.norm.sf(abs(t))


def _t_range(est: float, se: float, d_est: int, d_se: int) -> tuple[float, float]:
    lo_e, hi_e = max(abs(est) - half(d_est), 0.0), abs(est) + half(d_est)
    lo_s, hi_s = max(se - half(d_se), 1e-12), se + half(d_se)
    return lo_e / hi_s, hi_e / lo_s


def _stars_n(p: float, cuts) -> int:
    return sum(p < c for c in cuts)


# =========================================================================================
# Table 4-1
# =========================================================================================
def _check_table_4_1(a: _Audit):
    d = a.raw["design"]
    gs = a.groups()
    for stat, total_key in (("randomised", "total_randomised"), ("respondents", "total_respondents")):
        cells = [d[stat][g][arm] for g in gs for arm in ("treatment", "control")]
        tot = d[total_key]["value"]
        ok = sum(cells) == tot
        a.add(f"t4-1-{stat}-total", "row total", "Table 4-1", f"{stat} Total", f"{tot:,}",
              f"{' + '.join(f'{c:,}' for c in cells)} = {sum(cells):,}", "consistent" if ok else "inconsistent",
              line=d[total_key]["line"], cells=[f"design.{total_key}"])
    for g in gs:
        for arm in ("treatment", "control"):
            n, r = d["randomised"][g][arm], d["respondents"][g][arm]
            pct = d["response_pct"][g][arm]
            exact = 100 * r / n
            ok = abs(exact - pct) <= half(1) + 1e-9 and r <= n
            a.add(f"t4-1-pct-{g}-{arm}", "percentage", "Table 4-1", f"Respondent % {vocab.GROUP_LABELS[g]} {arm[0].upper()}",
                  pct, f"{r:,} / {n:,} = {exact:.2f}%", "consistent" if ok else "inconsistent", line=d["response_pct"]["line"],
                  cells=[f"design.response_pct.{g}.{arm}"])
    tot_pct = a.extra_cell("t4_1.total.response_pct")
    exact = 100 * d["total_respondents"]["value"] / d["total_randomised"]["value"]
    a.add("t4-1-pct-total", "percentage", "Table 4-1", "Respondent % Total", tot_pct["value"],
          f"{d['total_respondents']['value']:,} / {d['total_randomised']['value']:,} = {exact:.2f}%",
          "consistent" if abs(exact - tot_pct["value"]) <= half(1) + 1e-9 else "inconsistent", line=tot_pct["line"],
          cells=["extra.t4_1.total.response_pct"])
    # the prose restating Table 4-1
    for cid, val in (("t4_1.prose.randomised_t", a.rand_n("all", "treatment")), ("t4_1.prose.randomised_c", a.rand_n("all", "control")),
                     ("t4_1.prose.randomised", a.rand_n("all")), ("t4_1.prose4.respondents", a.resp_n("all")),
                     ("t4_1.prose.respondents", a.resp_n("all"))):
        c = a.extra_cell(cid)
        a.add(f"prose-{cid}", "prose restates a table", "§4.2.1 prose", c["row"], f"{c['value']:,}",
              f"Table 4-1: {val:,}", "consistent" if c["value"] == val else "inconsistent", line=c["line"], cells=[f"extra.{cid}"])
    for cid in ("t4_1.prose4.response_pct", "t4_1.prose.response_pct"):
        c = a.extra_cell(cid)
        ok = abs(exact - c["value"]) <= half(c["decimals"])
        a.add(f"prose-{cid}", "prose restates a table", c["table"], c["row"], f"{c['value']}%", f"{exact:.2f}% rounds to {round(exact)}%",
              "consistent" if ok else "inconsistent", line=c["line"], cells=[f"extra.{cid}"])


# =========================================================================================
# Tables 4-2..4-4
# =========================================================================================
def _check_baseline(a: _Audit):
    cols = ("population", "sample", "control", "treatment")
    base_ids = {"SCR_IW": "t4_2", "SCR_OOW": "t4_3", "WMCA_OOW": "t4_4"}
    for g in a.groups():
        block = a.raw["baseline_characteristics"][g]
        table = block["source"]["table"]
        rows = block["rows"]
        # Base rows vs Table 4-1
        sizes = {"population": a.rand_n(g), "sample": a.resp_n(g), "control": a.resp_n(g, "control"), "treatment": a.resp_n(g, "treatment")}
        base = block.get("base")
        nmax = dict(zip(cols, base["highest"])) if base else sizes
        for j, col in enumerate(cols if base else ()):
            lo, hi = base["lowest"][j], base["highest"][j]
            ok = lo <= hi == sizes[col]
            a.add(f"{base_ids[g]}-base-{col}", "base vs group size", table, f"Base, {col}", f"{lo:,}-{hi:,}",
                  f"Table 4-1: {sizes[col]:,} {'randomised' if col == 'population' else 'respondents'}"
                  + ("" if ok else f"; the highest base should equal it"), "consistent" if ok else "inconsistent",
                  line=base["line"], cells=[f"baseline_characteristics.{g}.base.{col}.highest"])
        # categorical shares sum to one
        for blk, levels in vocab.CATEGORICAL_BASELINE.items():
            keys = [f"{blk}={lv}" for lv in levels if f"{blk}={lv}" in rows]
            for j, col in enumerate(cols):
                vals = [rows[k]["values"][j] for k in keys]
                lo = sum((v - half(2)) if v is not None else 0.0 for v in vals)
                hi = sum((v + half(2)) if v is not None else 10 / nmax[col] for v in vals)
                lo = max(lo, 0.0)
                ok = lo - 1e-9 <= 1.0 <= hi + 1e-9
                n_sup = sum(v is None for v in vals)
                printed = " + ".join("(-)" if v is None else f"{v:.2f}" for v in vals)
                a.add(f"{base_ids[g]}-{blk}-{col}-sum", "shares sum to one", table, f"{vocab.GROUP_LABELS[g]} {blk} ({col})",
                      printed, f"printed shares allow a sum in [{lo:.3f}, {hi:.3f}]" + (f" ({n_sup} suppressed cell(s) < 10/{nmax[col]:,})" if n_sup else ""),
                      "consistent" if ok else "inconsistent", line=rows[keys[0]]["line"],
                      cells=[f"baseline_characteristics.{g}.{k}.{col}" for k in keys])
        # the weighted sample mean lies between the weighted arm means
        for key, r in rows.items():
            s, c, t = r["values"][1:4]
            if None in (s, c, t):
                continue
            lo, hi = min(c, t), max(c, t)
            ok = lo - 2 * half(2) - 1e-9 <= s <= hi + 2 * half(2) + 1e-9
            if not ok:
                a.add(f"{base_ids[g]}-{key}-between", "sample between arms", table, f"{key} (sample)", f"{s} (C {c}, T {t})",
                      f"a weighted mean of the two arms lies in [{lo - half(2):.3f}, {hi + half(2):.3f}]", "inconsistent",
                      line=r["line"], cells=[f"baseline_characteristics.{g}.{key}.sample"])
        n_between = sum(1 for r in rows.values() if None not in r["values"][1:4])
        a.add(f"{base_ids[g]}-between", "sample between arms", table, "every row with three printed sample columns",
              f"{n_between} rows", "each weighted sample mean lies between its control and treatment means (within rounding)"
              if not any(x["id"].startswith(f"{base_ids[g]}-") and x["id"].endswith("-between") and x["status"] != "consistent" for x in a.rows)
              else "see the rows listed separately", "consistent", line=None)


def _check_baseline_eq5d_p(a: _Audit):
    """Tables 4-2..4-4's EQ5D5L p-value (raw weighted difference of the printed arm means)
    against Table 4-5's S.E. of the regression-adjusted difference: the raw difference's S.E.
    is no smaller (controls only remove residual variance; randomisation leaves treatment
    nearly orthogonal to them), which bounds the p-value from below."""
    tab = (a.raw.get("table_4_5") or {}).get("rows", {}).get("bl_eq5d")
    dec = (a.raw.get("table_4_5") or {}).get("decimals", [3, 3, 2])
    if not tab:
        return
    for g in a.groups():
        block = a.raw["baseline_characteristics"][g]
        row = block["rows"].get("bl_eq5d")
        if row is None or g not in tab or None in row["values"][2:5]:
            continue
        c, t, p = row["values"][2:5]
        d_max = abs(t - c) + 2 * half(2)
        se_min = tab[g][1] - half(dec[1])
        p_min = float(2 * stats.norm.sf(d_max / se_min))
        ok = p + half(2) >= p_min
        a.add(f"{block['source']['table'].replace('Table ', 't').replace('-', '_')}-eq5d-p-vs-t4_5", "p-value vs Table 4-5 S.E.",
              f"{block['source']['table']} / Table 4-5", f"{vocab.GROUP_LABELS[g]} EQ5D5L p-value", f"{p} (arms {c}, {t}; S.E. {tab[g][1]})",
              f"|difference| <= {d_max:.3f}, raw S.E. >= {se_min:.4f}: p >= {p_min:.2f}", "consistent" if ok else "inconsistent",
              line=row["line"], cells=[f"baseline_characteristics.{g}.bl_eq5d.p_value"])


# =========================================================================================
# Duplicated rows
# =========================================================================================
def _check_duplicates(a: _Audit):
    rows = []  # (label, table, line, numeric tuple, ids, variable meta)
    tab = a.raw.get("table_4_5") or {}
    for var, r in (tab.get("rows") or {}).items():
        nums = tuple(v for g in a.groups() for v in r[g])
        rows.append((f"Table 4-5 {var}", "Table 4-5", int(r["line"]), nums, [f"table_4_5.{var}"], var))
    for sec, g, o, cells, line, table in a.impact_rows():
        nums = tuple(cells[k] for k in ("control", "treatment", "impact", "se", "sd_s", "base") if k in cells and cells[k] is not None)
        rows.append((f"{table} {o}", table, line, nums, [f"{sec}.{g}.{o}"], o))
    seen = set()
    for (la, ta, lna, va, ida, oa), (lb, tb, lnb, vb, idb, ob) in itertools.combinations(rows, 2):
        if len(va) < 5 or va != vb or len(set(va)) < 3:
            continue
        seen.add((la, lb))
        # which row is the copy: within a table, the later row (copied down in typesetting);
        # across tables, the one whose base exceeds its group's respondents (checked below)
        if ta == tb:
            copy, orig, copy_ids = (lb, la, idb) if lnb > lna else (la, lb, ida)
            extra = ""
            if ta == "Table 4-5":
                bounds = {m: a.raw["baseline_measures"].get(m, {}).get("bounds") for m in (oa, ob)}
                sd_txt = []
                for m in (oa, ob):
                    se_first = a.raw["table_4_5"]["rows"][m][a.groups()[0]][1]
                    n = a.resp_n(a.groups()[0])
                    implied = se_first * math.sqrt(n / 4)
                    sd_txt.append(f"{m}: S.E. {se_first} with {n:,} respondents implies an S.D. of ~{implied:.2f}"
                                  + (f" on a {bounds[m][0]:g}-{bounds[m][1]:g} scale" if bounds[m] else " (a 0/1 variable: at most 0.5)"))
                extra = "; " + "; ".join(sd_txt)
            a.add(f"dup-{copy.replace(' ', '-')}", "duplicated row", ta, f"{copy} = {orig}", " ".join(map(str, va)),
                  f"{copy} repeats {orig} cell for cell ({len(va)} cells){extra}", "inconsistent", line=max(lna, lnb), cells=copy_ids)
        else:
            cand = []
            for lab, tbl, ln, ids, g_lab in ((la, ta, lna, ida, ida[0].split(".")[1]), (lb, tb, lnb, idb, idb[0].split(".")[1])):
                base = va[-1]
                if base > a.resp_n(g_lab):
                    cand.append((lab, ln, ids, g_lab, base))
            copy = cand[0] if cand else None
            a.add(f"dup-{la.replace(' ', '-')}-{lb.replace(' ', '-')}", "duplicated row", f"{ta} / {tb}", f"{la} = {lb}",
                  " ".join(map(str, va)),
                  f"{la} (line {lna}) and {lb} (line {lnb}) print the same {len(va)} numbers"
                  + (f"; {copy[0]}'s base {copy[4]:,} exceeds the {a.resp_n(copy[3]):,} respondents of {vocab.GROUP_LABELS[copy[3]]}, so it is the copy"
                     if copy else ""),
                  "inconsistent", line=copy[1] if copy else lna, cells=copy[2] if copy else ida + idb)


# =========================================================================================
# Tables 4-6 / 4-7
# =========================================================================================
def _mi_total(a: _Audit, sect: str, col: str):
    key = "t4_6" if sect == "ips_sessions" else "t4_7"
    spec = a.raw[sect]
    pct = [a.extra_cell(f"{key}.total.{col}.{b}")["value"] for b in spec["bins"]]
    base = a.extra_cell(f"{key}.total.base.{col}")["value"]
    mean = a.extra_cell(f"{key}.total.mean.{col}")["value"] if sect == "ips_sessions" else None
    return pct, base, mean


def _group_share_range(P: np.ndarray, total: np.ndarray, j: int, d: int = 1):
    """Range of bin ``j``'s Total over every weighting of the groups that fits the whole Total
    column: group shares a >= 0 summing to 1 with |a . P[:, k] - total[k]| <= 2 x half-unit
    for every bin k (each group cell and the Total within their rounding). ``None`` when no
    shares fit. The respondents' columns are survey-weighted (R1033 line 1386), so the Total
    weights each group by its sum of survey weights, which the report does not print."""
    from scipy.optimize import linprog

    g, h = P.shape[0], 2 * half(d)
    A_ub = np.vstack([P.T, -P.T])
    b_ub = np.concatenate([total + h, h - total])
    out = []
    for sign in (1.0, -1.0):
        res = linprog(sign * P[:, j], A_ub=A_ub, b_ub=b_ub, A_eq=np.ones((1, g)), b_eq=[1.0], bounds=[(0, 1)] * g, method="highs")
        if res.status != 0:
            return None
        out.append(float(P[:, j] @ res.x))
    return out[0] - half(d), out[1] + half(d)


def _mean_bounds(pcts, bounds, d=1):
    lo = sum(max(p - half(d), 0) * b[0] for p, b in zip(pcts, bounds)) / 100
    hi = sum((p + half(d)) * b[1] for p, b in zip(pcts, bounds)) / 100
    return lo, hi


def _check_mi(a: _Audit):
    for sect, table, key in (("ips_sessions", "Table 4-6", "t4_6"), ("first_session", "Table 4-7", "t4_7")):
        spec = a.raw.get(sect)
        if not spec:
            continue
        bounds = [tuple(b) for b in spec["bin_bounds"]]
        if sect == "ips_sessions":
            bounds[-1] = (bounds[-1][0], math.inf)  # "36+" is open-ended in the report
        cols = {}
        for g in a.groups():
            for col in ("all", "resp"):
                cols[(g, col)] = (spec[g][col], spec[g]["base"][col], spec[g].get("mean", {}).get(col))
        for col in ("all", "resp"):
            cols[("all", col)] = _mi_total(a, sect, col)
        for (g, col), (pcts, base, mean) in cols.items():
            gl = "Total" if g == "all" else vocab.GROUP_LABELS[g]
            ids_prefix = f"extra.{key}.total.{col}" if g == "all" else f"{sect}.{g}.{col}"
            s = sum(pcts)
            slack = len(pcts) * half(1)
            ok = abs(s - 100) <= slack + 1e-9
            a.add(f"{key}-{g}-{col}-sum", "shares sum to one", table, f"{gl} {col}", f"sum {s:.1f}",
                  f"{len(pcts)} cells at 1 decimal allow 100 ± {slack:.2f}", "consistent" if ok else "inconsistent",
                  line=spec["lines"][0], cells=[ids_prefix])
            if mean is not None:
                lo, hi = _mean_bounds(pcts, bounds)
                ok = lo - half(1) <= mean <= hi + half(1)
                mean_id = f"extra.{key}.total.mean.{col}" if g == "all" else f"{sect}.{g}.mean.{col}"
                a.add(f"{key}-{g}-{col}-mean", "impossible mean", table, f"Mean, {gl} {col}", mean,
                      f"every case at its bin's lower bound gives a mean of {lo:.2f}" + (f", at the upper bound {hi:.2f}" if np.isfinite(hi) else "")
                      + (f": {mean} is below the smallest mean the printed distribution allows" if mean < lo - half(1) else ""),
                      "consistent" if ok else "inconsistent", line=a.raw[sect][g]["mean"]["line"] if g != "all" else a.extra_cell(f"{key}.total.mean.{col}")["line"],
                      cells=[mean_id])
            # bases vs group sizes
            if g != "all":
                cap = a.rand_n(g, "treatment") if col == "all" else a.resp_n(g, "treatment")
                ok = base <= cap
                a.add(f"{key}-{g}-{col}-base", "base vs group size", table, f"Base, {gl} {col}", f"{base:,}",
                      f"Table 4-1: {cap:,} {'randomised to' if col == 'all' else 'responding in'} the treatment arm",
                      "consistent" if ok else "inconsistent", line=spec[g]["base"]["line"], cells=[f"{sect}.{g}.base.{col}"])
        # Total column = base-weighted average of the groups
        for col in ("all", "resp"):
            pcts_t, base_t, mean_t = cols[("all", col)]
            bases = [cols[(g, col)][1] for g in a.groups()]
            ok_base = sum(bases) == base_t
            a.add(f"{key}-total-{col}-base", "row total", table, f"Base, Total {col}", f"{base_t:,}",
                  f"{' + '.join(f'{b:,}' for b in bases)} = {sum(bases):,}", "consistent" if ok_base else "inconsistent",
                  line=spec["lines"][-1] + (1 if sect == "ips_sessions" else 1), cells=[f"extra.{key}.total.base.{col}"])
            bad, bad_ids = [], []
            if col == "resp":  # survey-weighted: the groups' weights are not printed
                P = np.array([cols[(g, col)][0] for g in a.groups()], float)
                fits = _group_share_range(P, np.asarray(pcts_t, float), 0) is not None
                a.add(f"{key}-total-{col}-average", "total = weighted average", table, f"Total {col} column",
                      ", ".join(f"{p}" for p in pcts_t),
                      ("the respondents' percentages are survey-weighted (line 1386), so the Total weights each group by "
                       "its unprinted sum of survey weights, not its base; " + ("some group shares reproduce every cell within rounding"
                       if fits else "no group shares reproduce every cell within rounding")),
                      "consistent" if fits else "inconsistent", line=spec["lines"][0],
                      cells=[] if fits else [f"extra.{key}.total.{col}.{b}" for b in spec["bins"]])
                continue
            for j, b in enumerate(spec["bins"]):
                parts = [cols[(g, col)][0][j] for g in a.groups()]
                lo = sum((p - half(1)) * n for p, n in zip(parts, bases)) / sum(bases)
                hi = sum((p + half(1)) * n for p, n in zip(parts, bases)) / sum(bases)
                if not lo - half(1) <= pcts_t[j] <= hi + half(1):
                    bad.append(f"{b}: {pcts_t[j]} outside [{lo:.2f}, {hi:.2f}]")
                    bad_ids.append(f"extra.{key}.total.{col}.{b}")
            a.add(f"{key}-total-{col}-average", "total = weighted average", table, f"Total {col} column",
                  ", ".join(f"{p}" for p in pcts_t),
                  "every cell equals the base-weighted average of the three groups within rounding" if not bad else
                  "the base-weighted average of the groups' printed cells (each within its rounding) gives " + "; ".join(bad),
                  "consistent" if not bad else "inconsistent", line=spec["lines"][0], cells=bad_ids)
            if mean_t is not None:
                means = [cols[(g, col)][2] for g in a.groups()]
                w = sum(m * n for m, n in zip(means, bases)) / sum(bases)
                ok = abs(w - mean_t) <= half(1) + half(1)
                a.add(f"{key}-total-{col}-mean-average", "total = weighted average", table, f"Mean, Total {col}", mean_t,
                      f"base-weighted average of the groups' means = {w:.2f}", "consistent" if ok else "inconsistent",
                      line=spec["lines"][-1] + 1, cells=[f"extra.{key}.total.mean.{col}"])
    # Table 4-7 bases vs Table 4-6: those with >= 1 session
    s6, s7 = a.raw.get("ips_sessions"), a.raw.get("first_session")
    if s6 and s7:
        for g in a.groups():
            for col in ("all", "resp"):
                base6, zero = s6[g]["base"][col], s6[g][col][0]
                if col == "resp":  # a weighted share pins no whole count
                    base7 = s7[g]["base"][col]
                    a.add(f"t4_7-{g}-{col}-base-vs-t4_6", "base vs another table", "Table 4-7 / Table 4-6", f"Base, {vocab.GROUP_LABELS[g]} {col}",
                          f"{base7:,} with >= 1 session; Table 4-6: {zero}% of {base6:,} with none",
                          f"the respondents' {zero}% is survey-weighted (line 1386): the {base6 - base7:,} respondents without a session "
                          f"({base6:,} - {base7:,}) can carry {zero}% of the weight", "consistent", line=s7[g]["base"]["line"])
                    continue
                lo = math.ceil(base6 * (zero - half(1)) / 100 - 1e-9)
                hi = math.floor(base6 * (zero + half(1)) / 100 + 1e-9)
                feasible = [base6 - z for z in range(lo, hi + 1)]
                base7 = s7[g]["base"][col]
                ok = base7 in feasible
                a.add(f"t4_7-{g}-{col}-base-vs-t4_6", "base vs another table", "Table 4-7 / Table 4-6", f"Base, {vocab.GROUP_LABELS[g]} {col}",
                      f"{base7:,} with >= 1 session; Table 4-6: {zero}% of {base6:,} with none",
                      f"{zero}% of {base6:,} is {base6 * zero / 100:.1f} -> {lo}..{hi} with no session, so {min(feasible):,}..{max(feasible):,} with at least one"
                      + ("" if ok else f", not {base7:,}: under one definition of a session the two tables cannot both hold"),
                      "consistent" if ok else "inconsistent", line=s7[g]["base"]["line"],
                      treatment=TREAT_KEPT if ok else ("published-inconsistent in the scorecard: the kit follows Table 4-7's base "
                                                        "(participation = at least one session), so Table 4-6's zero-session share cannot print"),
                      cells=[] if ok else [f"ips_sessions.{g}.{col}.0"])


def _check_mi_prose(a: _Audit):
    """§4.2.2 prose restating Tables 4-6/4-7."""
    s6, s7 = a.raw.get("ips_sessions"), a.raw.get("first_session")
    bounds6 = [tuple(b) for b in s6["bin_bounds"]]
    bounds6[-1] = (bounds6[-1][0], math.inf)
    for c in a.extra.get("cells", []):
        if not c["id"].startswith("s4_2_2."):
            continue
        sect = c["section"]
        spec = s6 if sect == "ips_sessions" else s7
        stat = c["statistic"]
        col = "resp" if "resp" in stat else "all"
        cid = f"extra.{c['id']}"

        def printed_cell(g):
            if g == "all":
                pcts, base, mean = _mi_total(a, sect, col)
            else:
                pcts, base, mean = spec[g][col], spec[g]["base"][col], spec[g].get("mean", {}).get(col)
            if stat.startswith("mean"):
                return mean, pcts
            b = stat[stat.index("[") + 1 : -1]
            return pcts[spec["bins"].index(b)], pcts

        if c.get("agg"):
            vals = {g: printed_cell(g)[0] for g in a.groups()}
            tv = (min if c["agg"] == "min" else max)(vals.values())
            ok = abs(tv - c["value"]) <= half(c["decimals"]) + 1e-9
            arith = f"the groups' printed means are {', '.join(f'{v}' for v in vals.values())}: the {c['agg']} is {tv}"
            if stat.startswith("mean") and col == "all":
                feas = [_mean_bounds(printed_cell(g)[1], bounds6)[0] for g in a.groups()]
                arith += f"; the distributions allow means of at least {', '.join(f'{x:.1f}' for x in feas)}"
                ok = ok and (c["value"] >= (min(feas) if c["agg"] == "min" else max(feas)) - half(1))
            a.add(f"prose-{c['id']}", "prose restates a table", c["table"], c["row"], c["value"], arith,
                  "consistent" if ok else "inconsistent", line=c["line"], cells=[cid])
            continue
        g = c["group"]
        tv, pcts = printed_cell(g)
        if c.get("op"):
            def holds(x):
                return x > c["value"] if c["op"] == ">" else x < c["value"]

            ok = holds(tv)
            arith = f"table: {tv}"
            if ok and g == "all":  # a Total cell: also what the groups' columns allow
                j = spec["bins"].index(stat[stat.index("[") + 1 : -1])
                if col == "resp":  # survey-weighted: any group shares that fit the Total column
                    rng_ = _group_share_range(np.array([spec[x][col] for x in a.groups()], float), np.asarray(pcts, float), j)
                    lo, hi = rng_ if rng_ is not None else (math.nan, math.nan)
                else:
                    parts = [(spec[x][col][j], spec[x]["base"][col]) for x in a.groups()]
                    lo = sum((p - half(1)) * n for p, n in parts) / sum(n for _, n in parts)
                    hi = sum((p + half(1)) * n for p, n in parts) / sum(n for _, n in parts)
                arith += f"; the groups' columns give [{lo:.2f}, {hi:.2f}]"
                if not (holds(lo) or holds(hi)):
                    ok = False
                    arith += f": '{c['op']} {c['value']}%' holds for the printed Total but not for the groups it totals"
            a.add(f"prose-{c['id']}", "prose restates a table", c["table"], c["row"], f"{c['op']} {c['value']}%",
                  arith, "consistent" if ok else "inconsistent", line=c["line"], cells=[cid])
            continue
        ok = abs(tv - c["value"]) <= half(c["decimals"]) + 1e-9
        arith = f"table: {tv}"
        status = "consistent" if ok else "inconsistent"
        if ok and stat.startswith("mean") and col == "all":
            lo, _ = _mean_bounds(pcts, bounds6)
            if c["value"] + half(c["decimals"]) < lo:
                status, arith = "inconsistent", f"restates {tv}, below the smallest mean ({lo:.2f}) the printed distribution allows"
        if c.get("printed_group") and c["printed_group"] != g:
            pg = c["printed_group"]
            tv_pg = printed_cell(pg)[0]
            a.add(f"prose-{c['id']}-label", "prose names the wrong group", c["table"], c["row"], f"{c['value']}% 'for the {vocab.GROUP_LABELS[pg]} group'",
                  f"Table 4-6 prints {tv_pg} for {vocab.GROUP_LABELS[pg]} and {tv} for {vocab.GROUP_LABELS[g]}: the prose means {vocab.GROUP_LABELS[g]}",
                  "notable", line=c["line"], treatment=f"scored against {vocab.GROUP_LABELS[g]}", cells=[cid], exclude=False)
        a.add(f"prose-{c['id']}", "prose restates a table", c["table"], c["row"], c["value"], arith, status, line=c["line"], cells=[cid])


# =========================================================================================
# Impact tables
# =========================================================================================
def _arm_bounds(a: _Audit, g: str, base: int, arm: str) -> tuple[int, int]:
    other = "control" if arm == "treatment" else "treatment"
    return max(0, base - a.resp_n(g, other)), min(a.resp_n(g, arm), base)


def _check_impacts(a: _Audit):
    rows = a.impact_rows()
    by = {(sec, g, o): (cells, line, table) for sec, g, o, cells, line, table in rows}
    for sec, g, o, cells, line, table in rows:
        base, imp, se_ = cells["base"], cells["impact"], cells["se"]
        gl = vocab.GROUP_LABELS[g]
        rid = f"{sec}.{g}.{o}"
        label = vocab.OUTCOMES[o].label
        # base vs respondents
        cap = a.resp_n(g)
        if base > cap:
            a.add(f"{table}-{o}-base".replace(" ", ""), "base vs group size", table, f"{label}, Base", f"{base:,}",
                  f"exceeds the {cap:,} respondents of {gl} (Table 4-1)", "inconsistent", line=line, cells=[rid])
        # pooled base = sum of the groups' bases
        if g in vocab.POOLED_GROUPS:
            parts = [by.get((sec, x, o)) for x in vocab.POOLED_GROUPS[g]]
            if all(parts):
                s = sum(p[0]["base"] for p in parts)
                ok = s == base
                a.add(f"{table}-{o}-pooled-base".replace(" ", ""), "pooled base = sum of groups", table, f"{label}, Base", f"{base:,}",
                      " + ".join(f"{p[0]['base']:,} ({p[2]})" for p in parts) + f" = {s:,}", "consistent" if ok else "inconsistent",
                      line=line, cells=[rid])
                if ok and sec == "secondary_impacts":
                    _pooled_means(a, g, o, cells, parts, line, table, rid)
        # impact vs treatment - control
        if "control" in cells:
            diff = cells["treatment"] - cells["control"]
            gap = abs(imp - diff)
            lim = 2 * se_ + 2 * half(2) + half(2)
            if gap > lim or (np.sign(imp) * np.sign(diff) < 0 and abs(diff) > 2 * half(2) and abs(imp) > half(2)):
                a.add(f"{table}-{o}-impact-vs-diff".replace(" ", ""), "impact vs treatment - control", table, f"{label}, Impact",
                      imp, f"T - C = {cells['treatment']} - {cells['control']} = {diff:.2f}; the adjusted impact differs by {gap:.2f} "
                      f"({gap / se_:.1f} S.E.)" + (" and in sign" if np.sign(imp) * np.sign(diff) < 0 else ""), "notable", line=line,
                      treatment="kept: regression adjustment may move an impact away from the raw difference", cells=[f"{rid}.impact"])
        # effect size vs impact and the implied S.D.
        sds = cells.get("sd_s")
        if sds is not None and not vocab.OUTCOMES[o].binary:
            d_sds = 1 if sec == "secondary_impacts" else 2
            lo_i, hi_i = max(abs(imp) - half(2), 0), abs(imp) + half(2)
            lo_s, hi_s = max(abs(sds) - half(d_sds), 0), abs(sds) + half(d_sds)
            sd_lo = lo_i / hi_s if hi_s > 0 else math.inf
            sd_hi = hi_i / lo_s if lo_s > 0 else math.inf
            lo_b, hi_b = vocab.OUTCOMES[o].bounds
            sd_max = (hi_b - lo_b) / 2  # the largest S.D. a variable on [lo, hi] can have
            p = a.resp_n(g, "treatment") / a.resp_n(g)
            resid = max(se_ - half(2), 0) * math.sqrt(base * p * (1 - p)) / 2  # allowing a design effect up to 4
            problems = []
            if sd_lo > sd_max:
                problems.append(f"{imp} = {sds} s.d. implies an S.D. of at least {sd_lo:.2f}, more than the {sd_max:.2f} a {lo_b:g}-{hi_b:g} scale allows")
            if sd_hi < resid:
                problems.append(f"{imp} = {sds} s.d. implies an S.D. of at most {sd_hi:.2f}, below the residual S.D. of ~{2 * resid:.1f} "
                                f"its S.E. {se_} implies with {base:,} cases (at least {resid:.1f} even with a design effect of 4)")
            if np.sign(sds) * np.sign(imp) < 0 and abs(sds) > half(d_sds) and abs(imp) > half(2):
                problems.append("effect size and impact differ in sign")
            a.add(f"{table}-{o}-sds".replace(" ", ""), "effect size vs impact and S.D.", table, f"{label}, sd.s", sds,
                  "; ".join(problems) if problems else f"implied S.D. in [{sd_lo:.2f}, {sd_hi if np.isfinite(sd_hi) else math.inf:.2f}], "
                  f"residual S.D. from the S.E. ~{2 * resid:.2f}, scale allows at most {sd_max:.2f}",
                  "inconsistent" if problems else "consistent", line=line, cells=[f"{rid}.sd_s"])
        # stars vs impact / S.E. under each convention
        _stars(a, sec, g, o, cells, line, table, rid)


def _pooled_means(a, g, o, cells, parts, line, table, rid):
    """A raw mean of a pooled group is the case-weighted mean of its groups' raw means."""
    comps = vocab.POOLED_GROUPS[g]
    for arm in ("control", "treatment"):
        pub = cells[arm]
        ranges = []
        for x, (pc, _, _) in zip(comps, parts):
            ranges.append(((pc[arm] - half(2), pc[arm] + half(2)), _arm_bounds(a, x, pc["base"], arm)))
        lo, hi = math.inf, -math.inf
        for means in itertools.product(*[r[0] for r in ranges]):
            for ns in itertools.product(*[r[1] for r in ranges]):
                if sum(ns) == 0:
                    continue
                m = sum(mm * nn for mm, nn in zip(means, ns)) / sum(ns)
                lo, hi = min(lo, m), max(hi, m)
        ok = lo - half(2) - 1e-9 <= pub <= hi + half(2) + 1e-9
        comp_txt = ", ".join(f"{vocab.GROUP_LABELS[x]} {pc[arm]} (base {pc['base']:,})" for x, (pc, _, _) in zip(comps, parts))
        a.add(f"{table}-{o}-{arm}-pooled-mean".replace(" ", ""), "pooled mean within its groups", table,
              f"{vocab.OUTCOMES[o].label}, {arm}", pub,
              f"from {comp_txt}, with every mean at the edge of its rounding and each arm's base anywhere its group's respondents allow, "
              f"the pooled mean lies in [{lo:.4f}, {hi:.4f}]" + ("" if ok else f": {pub} cannot print"),
              "consistent" if ok else "inconsistent", line=line, cells=[f"{rid}.{arm}"])


def _stars(a, sec, g, o, cells, line, table, rid):
    stars = cells.get("stars") or ""
    t_lo, t_hi = _t_range(cells["impact"], cells["se"], 2, 2)
    p_min, p_max = _p_two_sided(t_hi), _p_two_sided(t_lo)
    fits = {}
    for conv, cuts in CONVENTIONS.items():
        most = _stars_n(p_min, cuts)  # adjusted p >= raw p
        least = _stars_n(min(1.0, FAMILY_MAX * p_max), cuts)  # adjusted p <= K x raw p (Bonferroni)
        fits[conv] = (least <= len(stars) <= most, least, most)
    both = all(f[0] for f in fits.values())
    none = not any(f[0] for f in fits.values())
    label = vocab.OUTCOMES[o].label
    arith = (f"t = {cells['impact']}/{cells['se']} in [{t_lo:.2f}, {t_hi:.2f}], unadjusted p in [{p_min:.4f}, {p_max:.4f}]; "
             + "; ".join(f"{CONVENTION_LABELS[c]} allows {f[1]}-{f[2]} stars after adjustment" for c, f in fits.items()))
    status = "consistent" if both else "inconsistent" if none else "convention"
    ok_conv = [CONVENTION_LABELS[c] for c, f in fits.items() if f[0]]
    a.add(f"{table}-{o}-stars".replace(" ", ""), "stars vs impact/S.E.", table, f"{label}, stars", stars or "none", arith, status,
          line=line, cells=[f"{rid}.stars"],
          treatment=("fits only " + ok_conv[0] + "; the scorecard reproduces stars under §4.3 and notes footnote 15's")
          if status == "convention" else None)


def _check_star_conventions(a: _Audit):
    """The two conventions in one report, and which the printed stars and the prose follow."""
    conv = {c["id"]: c for c in a.extra.get("star_conventions", [])}
    s43, fn15 = conv.get("section_4_3"), conv.get("footnote_15")
    rows = [r for r in a.rows if r["check"] == "stars vs impact/S.E."]
    n_both = sum(r["status"] == "consistent" for r in rows)
    only = {c: sum(r["status"] == "convention" and CONVENTION_LABELS[c] in r["treatment"] for r in rows) for c in CONVENTIONS}
    prose = [r for r in a.rows if r["check"] == "prose significance vs printed stars"]
    pfit = {c: sum(CONVENTION_LABELS[c] in r["arithmetic"].split("fits:")[-1] for r in prose) for c in CONVENTIONS}
    if s43 and fn15:
        a.add("star-conventions", "star conventions", "§4.3 / footnote 15", "significance stars",
              f"§4.3: '{s43['quote']}' (line {s43['line']}); footnote 15: '{fn15['quote'].replace(chr(92), '')}' (line {fn15['line']})",
              f"of {len(rows)} printed star cells (Tables 4-8..4-15), {n_both} fit both conventions, "
              f"{only['section_4_3']} only §4.3, {only['footnote_15']} only footnote 15; of {len(prose)} prose significance claims "
              f"checked against printed stars, {pfit['section_4_3']} fit §4.3 and {pfit['footnote_15']} fit footnote 15 "
              f"('weak evidence' for a one-star cell is §4.3's 90% level)",
              "convention", line=s43["line"], exclude=False,
              treatment="the scorecard reproduces stars under §4.3 (as the prose reads them) and notes footnote 15's in each cell")
    blog = conv.get("blog")
    if blog:
        a.add("blog-star-convention", "star conventions", "Blog Table 1", "note", blog["quote"],
              "the blog's stars are §4.3's 90/95/99% levels, not footnote 15's p < .05/.01/.001", "convention", doc="BLOG",
              line=blog["line"], exclude=False, treatment="12-month stars reproduced with unadjusted p under the blog's convention")


# =========================================================================================
# Table 4-5 and the SAP prose
# =========================================================================================
def _check_table_4_5(a: _Audit):
    tab = a.raw.get("table_4_5") or {}
    dec = tab.get("decimals", [3, 3, 2])
    excluded = set()
    for inc in a.raw.get("inconsistencies") or []:
        excluded.update(inc.get("exclude") or [])
    for s in a.extra.get("statements", []):
        if s["kind"] == "table_4_5":
            g = s["group"]
            sig = []
            for var, r in tab["rows"].items():
                diff, se_, _ = r[g]
                t_lo, t_hi = _t_range(diff, se_, dec[0], dec[1])
                if _p_two_sided(t_lo) < 0.05:
                    sig.append(f"{var}: {diff}/{se_} gives t in [{t_lo:.2f}, {t_hi:.2f}], p <= {_p_two_sided(t_lo):.3f}")
            claim = s["claims"]["band"]
            ok = not sig if claim == "none" else bool(sig)
            a.add(f"prose-{s['id']}", "prose significance vs the table", "§4.2.1 prose / Table 4-5",
                  f"{vocab.GROUP_LABELS[g]}: 'none of the differences is statistically significant'", s["quote"],
                  ("; ".join(sig) + " (footnote 11: p from the difference over its S.E.; S.E. read at the column's 3 decimals)")
                  if sig else "every |difference/S.E.| < 1.96 within rounding", "consistent" if ok else "inconsistent",
                  line=s["line"], cells=[f"prose.{s['id']}.band"])
        if s["kind"] == "sap":
            g = s["group"]
            d = a.raw["design"]["response_pct"][g]
            gap = d["treatment"] - d["control"]
            if "gap_over_5ppt" in s["claims"]:
                ok = (abs(gap) > 5) == (s["claims"]["gap_over_5ppt"] == "yes")
                a.add(f"prose-{s['id']}", "prose restates a table", "§4.2.1 prose / Table 4-1", f"{vocab.GROUP_LABELS[g]} response gap",
                      s["quote"], f"{d['treatment']} - {d['control']} = {gap:.1f} ppt", "consistent" if ok else "inconsistent",
                      line=s["line"], cells=[f"prose.{s['id']}.gap_over_5ppt"])
            if "decision" in s["claims"]:
                pvals = [r[g][2] for var, r in tab["rows"].items() if f"table_4_5.{var}" not in excluded]
                trig = abs(gap) > 5 and min(pvals) < 0.05
                ok = (s["claims"]["decision"] == "triggered") == trig
                a.add(f"prose-{s['id']}", "SAP decision rule", "§4.2.1 prose / Table 4-5", f"{vocab.GROUP_LABELS[g]} decision",
                      s["claims"]["decision"], f"gap {gap:.1f} ppt {'>' if abs(gap) > 5 else '<='} 5 and smallest adjusted p {min(pvals)} "
                      f"{'<' if min(pvals) < 0.05 else '>='} 0.05 -> {'triggered' if trig else 'not triggered'}",
                      "consistent" if ok else "inconsistent", line=s["line"], cells=[f"prose.{s['id']}.decision"])
        if s["kind"] == "response_rate":
            g = s["group"]
            d = a.raw["design"]
            n1, n0 = d["randomised"][g]["treatment"], d["randomised"][g]["control"]
            r1, r0 = d["respondents"][g]["treatment"], d["respondents"][g]["control"]
            chi2, p, _, _ = stats.chi2_contingency([[r1, n1 - r1], [r0, n0 - r0]], correction=False)
            ok = (p < 0.05) == (s["claims"]["band"] == "significant")
            a.add(f"prose-{s['id']}", "prose significance vs the table", "§4.2.1 prose / Table 4-1", f"{vocab.GROUP_LABELS[g]} response gap",
                  s["quote"], f"{r1:,}/{n1:,} vs {r0:,}/{n0:,}: chi-squared p = {p:.4f}", "consistent" if ok else "inconsistent",
                  line=s["line"], cells=[f"prose.{s['id']}.band"])


# =========================================================================================
# Prose claims vs the tables they summarise
# =========================================================================================
def _band_fits(band: str, stars: str, cuts) -> bool:
    """Can a WY-adjusted p with the printed stars under ``cuts`` be in the prose's band?"""
    n = len(stars)
    edges = [1.0, *cuts, 0.0]  # stars n: p in [edges[n+1], edges[n])
    p_hi, p_lo = edges[n], edges[n + 1]
    band_rng = {"none": (0.10, 1.0), "weak": (0.05, 0.10), "significant": (0.0, 0.05)}[band]
    return p_lo < band_rng[1] and band_rng[0] < p_hi


def _check_prose_claims(a: _Audit):
    by = {f"{sec}.{g}.{o}": (cells, line, table) for sec, g, o, cells, line, table in a.impact_rows()}
    for s in a.extra.get("statements", []):
        ref = s.get("table_cell")
        if s["kind"] != "itt" or not ref or ref not in by:
            continue
        cells, tline, table = by[ref]
        sid = f"prose.{s['id']}"
        if "effect_size" in s["claims"] and cells.get("sd_s") is not None:
            v, tv = s["claims"]["effect_size"], cells["sd_s"]
            ok = abs(round(tv, 1) - v) < 1e-9 or abs(tv - v) <= half(1)
            a.add(f"prose-{s['id']}-es", "prose restates a table", f"{s['section']} / {table}",
                  f"{vocab.GROUP_LABELS[s['group']]} {vocab.OUTCOMES[s['outcome']].label}: {v} sd", s["quote"],
                  f"{table} (line {tline}) prints sd.s {tv}" + ("" if ok else f": the prose's {v} and the table's {tv} cannot both hold"),
                  "consistent" if ok else "inconsistent", line=s["line"], exclude=False,
                  treatment=TREAT_KEPT if ok else "prose cell scored against the kit's ITT effect size; the table cell is published-inconsistent",
                  cells=[f"{sid}.effect_size"])
        if "band" in s["claims"]:
            stars = cells.get("stars") or ""
            fit = [c for c, cuts in CONVENTIONS.items() if _band_fits(s["claims"]["band"], stars, cuts)]
            status = "consistent" if len(fit) == 2 else "convention" if fit else "inconsistent"
            a.add(f"prose-{s['id']}-band", "prose significance vs printed stars", f"{s['section']} / {table}",
                  f"{vocab.GROUP_LABELS[s['group']]} {vocab.OUTCOMES[s['outcome']].label}: {s['claims']['band']}", s["quote"],
                  f"{table} prints '{stars or 'no stars'}'; fits: {', '.join(CONVENTION_LABELS[c] for c in fit) or 'neither convention'}",
                  status, line=s["line"], exclude=False, cells=[f"{sid}.band"],
                  treatment="the scorecard checks the band with WY-adjusted p (none >= .10 > weak >= .05 > significant)")


# =========================================================================================
# Chapter 3
# =========================================================================================
def _check_chapter3(a: _Audit):
    ch3 = a.raw.get("chapter3") or {}
    resp3 = ch3.get("respondents_ch3")
    if not resp3:
        return
    gs = a.groups()
    r4 = {g: a.resp_n(g) for g in gs}
    diff = {g: resp3[g] - r4[g] for g in gs}
    moved = [g for g in gs if diff[g] != 0]
    if moved and sum(diff.values()) == 0:
        parts = [f"{vocab.GROUP_LABELS[g]} {resp3[g]:,} vs {r4[g]:,}" for g in gs]
        cells = [f"chapter3.respondents_ch3.{g}" for g in moved]
        extra_txt = []
        pairs = (("eq5d_base_4m", "participation_impacts", "eq5d"), ("swemwbs_base_4m", "participation_impacts", "swemwbs"))
        for key, sec, o in pairs:
            spec = ch3.get(key)
            if not spec:
                continue
            b4 = {g: a.raw[sec][g]["rows"][o]["values"][-1] for g in moved if g in a.raw.get(sec, {})}
            if len(b4) == len(moved) and sum(spec[g] for g in moved) == sum(b4.values()) and any(spec[g] != b4[g] for g in moved):
                extra_txt.append(f"{key}: {' + '.join(f'{spec[g]:,}' for g in moved)} = {sum(spec[g] for g in moved):,} = "
                                 f"{' + '.join(f'{b4[g]:,}' for g in moved)} (Tables 4-9, 4-11)")
                cells += [f"chapter3.{key}.{g}" for g in moved]
        a.add("ch3-vs-t4-1-groups", "bases vs another table", "Chapter 3 / Table 4-1", "respondents by trial group",
              ", ".join(f"{resp3[g]:,}" for g in gs),
              f"{'; '.join(parts)}: the totals agree ({sum(resp3[g] for g in gs):,}) but {abs(diff[moved[0]])} respondents are "
              f"{vocab.GROUP_LABELS[moved[0]] if diff[moved[0]] > 0 else vocab.GROUP_LABELS[moved[-1]]} in chapter 3 and in the other SCR group in chapter 4"
              + ("; the same split: " + "; ".join(extra_txt) if extra_txt else ""),
              "inconsistent", line=ch3["respondents_ch3"]["line"], cells=cells,
              treatment="published-inconsistent in the scorecard: the kit has one classification (Table 4-1's); chapter 3's counts are not targets")
    for cid, parts_key in (("ch3.respondents.all", "respondents_ch3"), ("ch3.in_work.all", "in_work_at_4_months"),
                           ("ch3.t3_10.total_base", "eq5d_base_4m"), ("ch3.t3_13.total_base", "swemwbs_base_4m")):
        c = a.extra_cell(cid)
        parts = [ch3[parts_key][g] for g in gs]
        ok = sum(parts) == c["value"]
        a.add(f"{cid}-total", "row total", c["table"], c["row"], f"{c['value']:,}", f"{' + '.join(f'{p:,}' for p in parts)} = {sum(parts):,}",
              "consistent" if ok else "inconsistent", line=c["line"], cells=[f"extra.{cid}"])
    c = a.extra_cell("ch3.t3_10.total_mean")
    m, b = ch3["eq5d_mean_4m"], ch3["eq5d_base_4m"]
    lo = sum((m[g] - half(2)) * b[g] for g in gs) / sum(b[g] for g in gs)
    hi = sum((m[g] + half(2)) * b[g] for g in gs) / sum(b[g] for g in gs)
    ok = lo - half(2) <= c["value"] <= hi + half(2)
    a.add("ch3.t3_10.total_mean", "total = weighted average", "Table 3-10", "EQ5D5L mean, Total", c["value"],
          f"base-weighted average of the groups' means lies in [{lo:.4f}, {hi:.4f}]", "consistent" if ok else "inconsistent",
          line=c["line"], cells=["extra.ch3.t3_10.total_mean"])
    # SCR as a whole: always in work
    c = a.extra_cell("ch3.work_history.scr_always")
    wh = {p["group"]: p for p in a.raw["work_history"].get("published", []) if p["level"] == "always"}
    if "SCR_IW" in wh and "SCR_OOW" in wh:
        n = {g: resp3[g] for g in ("SCR_IW", "SCR_OOW")}
        lo = sum((wh[g]["value"] - 0.5) * n[g] for g in n) / sum(n.values())
        hi = sum((wh[g]["value"] + 0.5) * n[g] for g in n) / sum(n.values())
        ok = lo - 0.5 <= c["value"] <= hi + 0.5
        a.add("ch3-scr-always", "total = weighted average", "§3.3.1 prose", "SCR always in paid work", f"{c['value']}%",
              f"SCR IW {wh['SCR_IW']['value']}% of {n['SCR_IW']:,} and SCR OOW {wh['SCR_OOW']['value']}% of {n['SCR_OOW']:,} give [{lo:.1f}%, {hi:.1f}%]",
              "consistent" if ok else "inconsistent", line=c["line"], cells=["extra.ch3.work_history.scr_always"])


# =========================================================================================
# IES blog
# =========================================================================================
def _check_blog(a: _Audit):
    cells = {c["id"]: c for c in a.extra.get("cells", []) if c["section"] == "blog_12m"}
    if not cells:
        return
    for outcome in ("health", "wellbeing"):
        wm = cells[f"blog.t1.wmca.{outcome}"]
        scr = [cells[f"blog.t1.scr_iw.{outcome}"], cells[f"blog.t1.scr_oow.{outcome}"]]
        ok = all(wm["value"] < s["value"] for s in scr)
        a.add(f"blog-{outcome}-order", "prose vs its table", "Blog Table 1", f"WMCA {outcome} ({wm['value']} sd)", f"{wm['value']} sd",
              f"the prose (line 23): 'health and wellbeing outcomes were stronger in SCR than in WMCA'; SCR prints "
              f"{' and '.join(str(s['value']) for s in scr)} sd" + ("" if ok else f", so WMCA's {wm['value']} sd contradicts it "
                                                                      f"({wm['value'] / max(s['value'] for s in scr):.0f} times the largest SCR effect, unstarred); "
                                                                      f"{wm['value'] / 10:g} sd would fit"),
              "consistent" if ok else "inconsistent", doc="BLOG", line=wm["line"], cells=[f"extra.{wm['id']}"],
              treatment=TREAT_KEPT if ok else "published-inconsistent in the scorecard (the kit has no 12-month survey outcomes)")
    adm = a.raw.get("admin_12m") or {}
    if "SCR_IW" in adm and "WMCA_OOW" in adm:
        iw, wm = adm["SCR_IW"], adm["WMCA_OOW"]
        ok = iw["impact"] < wm["impact"] and len(iw["stars"]) < len(wm["stars"])
        a.add("blog-employment-order", "prose vs its table", "Blog Table 1", "sustained employment", f"WMCA {wm['printed']}, SCR IW {iw['printed']}",
              "the prose (line 21): a strong significant effect in WMCA and a weaker, slightly smaller one for SCR IW",
              "consistent" if ok else "inconsistent", doc="BLOG", line=21, cells=[])


# =========================================================================================
# RAND
# =========================================================================================
def _check_rand(a: _Audit):
    from .bcr import audit_rand_tables, load_rand_published

    status_map = {"consistent": "consistent", "convention": "convention", "rounding": "convention",
                  "inconsistent": "inconsistent", "interpretation": "notable"}
    pub = load_rand_published()
    for i, r in enumerate(audit_rand_tables().itertuples()):
        ids = [f"rand.t{c.table}.o{c.option}.{c.kind}.{c.quantity}.{c.basis}.{c.row}" for c in pub.itertuples()
               if c.table == r.table and c.line == r.source_line]
        st = status_map.get(r.status, "notable")
        treat = (f"reproduced under {r.convention}" if r.convention else TREAT_KEPT) + (f" — {r.finding}" if r.finding else "")
        a.add(f"rand-{r.table}-{i}", f"RAND: {r.status}", f"RAND Table {r.table}", r.cell, r.printed, r.arithmetic, st, doc="RAND",
              line=int(r.source_line), treatment=treat, cells=ids, exclude=st == "inconsistent")


# =========================================================================================
# Entry points
# =========================================================================================
def audit_reports(targets=None, extra: dict | None = None, rand: bool = True) -> pd.DataFrame:
    """Run every check on the transcription of the reports; one row per check.

    ``targets``: a targets file path or loaded ``Targets`` (default: the HLT 4-month targets),
    or the raw mapping itself; ``extra``: the parsed ``published_extra.yaml`` (default: the
    kit's). The result's ``status`` says what the arithmetic found (see the module docstring).
    """
    if isinstance(targets, dict):
        raw = targets
    else:
        from .scorecard import load_targets

        raw = load_targets(targets).raw
    if extra is None:
        from .scorecard import load_extra

        extra = load_extra()
    a = _Audit(raw, extra)
    _check_table_4_1(a)
    _check_baseline(a)
    _check_baseline_eq5d_p(a)
    _check_duplicates(a)
    _check_table_4_5(a)
    _check_mi(a)
    _check_mi_prose(a)
    _check_impacts(a)
    _check_prose_claims(a)
    _check_star_conventions(a)
    _check_chapter3(a)
    _check_blog(a)
    if rand:
        _check_rand(a)
    out = pd.DataFrame(a.rows, columns=list(AUDIT_COLUMNS))
    out["line"] = out["line"].astype("Int64")
    if out["id"].duplicated().any():
        raise ValueError(f"duplicate audit ids: {sorted(set(out['id'][out['id'].duplicated()]))[:5]}")
    return out


def findings(audit: pd.DataFrame) -> pd.DataFrame:
    """The checks whose status is not ``consistent``."""
    return audit[audit["status"] != "consistent"].reset_index(drop=True)


_LINE_RE = re.compile(r"lines? (\d+)")


def crosscheck_inconsistencies(audit: pd.DataFrame, targets=None) -> pd.DataFrame:
    """Is every entry of the targets file's ``inconsistencies`` rediscovered by the audit?

    An entry is rediscovered when an ``inconsistent`` finding covers one of its excluded
    cells (or, for an entry that excludes nothing, sits on the line its ``cell`` names).
    ``cells_agree`` / ``cells_disagree`` list the excluded cells the audit does / does not
    find impossible — a disagreement is worth a look: the transcription may overstate it.
    """
    if isinstance(targets, dict):
        raw = targets
    else:
        from .scorecard import load_targets

        raw = load_targets(targets).raw
    inc = audit[audit["status"] == "inconsistent"]

    def covers(ex: str) -> list[str]:
        return [r.id for r in inc.itertuples() if any(c == ex or c.startswith(ex + ".") or ex.startswith(c + ".") for c in r.cells)]

    rows = []
    for entry in raw.get("inconsistencies") or []:
        excl = entry.get("exclude") or []
        by, agree, disagree = [], [], []
        for ex in excl:
            f = covers(ex)
            (agree if f else disagree).append(ex)
            by += f
        if not excl:
            lines = [int(x) for x in _LINE_RE.findall(entry.get("cell", ""))]
            by = [r.id for r in inc.itertuples() if r.doc == entry.get("doc") and r.line in lines]
        rows.append(dict(id=entry["id"], doc=entry.get("doc"), table=entry.get("table"), rediscovered=bool(by),
                         by=", ".join(dict.fromkeys(by)), cells_agree=len(agree), cells_disagree=", ".join(disagree)))
    return pd.DataFrame(rows)
