"""The replication scorecard: every published number the kit can speak to, beside the value
the kit reproduces from a (synthetic) trial with its own analysis modules.

Published values come from the project's one transcription of the reports — the targets
file (``data_synth/targets/hlt_4month.yaml``), RAND's printed cells
(``hlt_replicate/data/rand_bcr_published.yaml``) and the cells and prose statements of
``hlt_replicate/data/published_extra.yaml`` — each with its source line. Reproduced values
are computed from the data, never read from a transcription:

* Table 4-1 — :func:`hlt_replicate.weighting.response_rates`;
* Tables 4-2..4-4 — :func:`hlt_replicate.balance.balance_table` (survey weights from
  :func:`hlt_replicate.weighting.ipw_weights`), with the report's "(-)" suppression rule;
* Table 4-5 — :func:`hlt_replicate.multiple_testing.sap_decision_rule` (Westfall–Young);
* Tables 4-6/4-7 — the IPS management-information columns;
* Tables 4-8..4-15 — :func:`hlt_replicate.impact.impact_table` with Westfall–Young adjusted
  p-values over the table's outcomes, stars under a named convention; participation tables
  with :func:`~hlt_replicate.impact.estimate_participation` (stars from the ITT family's
  adjusted p-values, as ``impact_table`` does);
* prose statements — effect sizes rounded as printed and significance bands;
* blog Table 1 — 12-month sustained employment, :func:`~hlt_replicate.impact.estimate_itt`
  on every recruit;
* RAND Tables 1-4 — :func:`hlt_replicate.bcr.reproduce_rand_table`.

Status of a cell (:func:`classify`):

* ``match`` — the reproduced value rounds to the printed one (a string, e.g. stars or a
  significance band, is equal; a stated bound such as "more than 30%" holds);
* ``close`` — within one published standard error (cells with an S.E. in the same row: the
  impacts of Tables 4-5, 4-8..4-15) or one unit of the last printed decimal; for ordered
  labels (stars, significance bands) one step away;
* ``miss`` — anything else;
* ``published-inconsistent`` — no dataset could produce the printed value: listed under
  ``inconsistencies`` in the targets file or flagged by :mod:`hlt_replicate.audit`; the
  note says why. Not counted in the match rate.

This module sits in the orchestration layer: it reads the targets file through
``data_synth`` (imported lazily), but computes everything else with the analysis core.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import vocab
from .balance import BASELINE_LABELS, LEVEL_LABELS, balance_table
from .impact import STAR_CONVENTIONS, estimate_itt, impact_table, significance_stars
from .multiple_testing import TABLE_4_5_LABELS, sap_decision_rule
from .weighting import ipw_weights, response_rates

#: Columns of ``scorecard.csv``, in order.
COLUMNS: tuple[str, ...] = (
    "source", "table", "row", "group", "arm", "statistic", "published", "reproduced", "decimals", "status", "note",
)
STATUSES: tuple[str, ...] = ("match", "close", "miss", "published-inconsistent")
#: Seed-file prefix of each document (the ``source`` column is ``prefix:line``).
DOC_PREFIX: dict[str, str] = {"R1033": "004", "BLOG": "001", "RAND": "002"}
DOC_TITLES: dict[str, str] = {
    "R1033": "DWP RR 1033, HLT 4-month report (004_315789ed51458f66.txt)",
    "BLOG": "IES blog, May 2023, 12-month results (001_6f6047d76c8c6608.txt)",
    "RAND": "RAND Europe 2014, business cases (002_488ea2fdc6b0c8e5.txt)",
}
#: Significance bands of the prose: (label, p below which it applies). "weak evidence" and
#: "at the 10% level" are p in [0.05, 0.10); "significant" p < 0.05; "none" p >= 0.10.
BANDS: tuple[str, ...] = ("none", "weak", "significant")
BAND_LABELS: dict[str, str] = {"none": "not significant", "weak": "weak (10% level)", "significant": "significant (5% level)"}
STARS: tuple[str, ...] = ("none", "*", "**", "***")
#: The blog's convention (Table 1 note): * 90%, ** 95%, *** 99%.
BLOG_STARS = STAR_CONVENTIONS["section_4_3"]
DEFAULT_STARS = "section_4_3"
OUTCOME_FAMILIES: dict[str, tuple[str, ...]] = {"primary": vocab.PRIMARY_OUTCOMES, "secondary": vocab.SECONDARY_OUTCOMES}
ARM_NAMES = {0: "control", 1: "treatment"}


# =========================================================================================
# Published cells
# =========================================================================================
def extra_path() -> Path:
    return Path(str(resources.files("hlt_replicate") / "data" / "published_extra.yaml"))


@lru_cache(maxsize=4)
def _load_yaml(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_extra(path: str | Path | None = None) -> dict:
    """The published cells and prose statements that are not in the targets file."""
    return _load_yaml(str(path or extra_path()))


def load_targets(targets=None):
    """The targets file via ``data_synth`` (imported here: it sits above the core)."""
    from data_synth.targets import Targets, load_targets as _lt

    return targets if isinstance(targets, Targets) else _lt(targets)


def band(p: float) -> str:
    """Significance band of a p-value: ``none`` (>= 0.10), ``weak`` ([0.05, 0.10)), ``significant``."""
    if p is None or not np.isfinite(p):
        return "none"
    return "significant" if p < 0.05 else "weak" if p < 0.10 else "none"


def stars_label(p: float, convention: str | Sequence[float]) -> str:
    return significance_stars(p, convention) or "none"


def _label_row(section: str, variable: str | None, statistic: str) -> str:
    if section in ("baseline_characteristics", "work_history"):
        if variable and "=" in variable:
            col, lv = variable.split("=", 1)
            return f"{BASELINE_LABELS.get(col, col)} {LEVEL_LABELS.get(col, {}).get(lv, lv)}"
        return BASELINE_LABELS.get(variable, variable)
    if section == "table_4_5":
        return TABLE_4_5_LABELS.get(variable, variable)
    if section in ("secondary_impacts", "participation_impacts", "primary_outcomes"):
        return vocab.OUTCOMES[variable].label if variable in vocab.OUTCOMES else variable
    if section in ("ips_sessions", "first_session"):
        if "[" in statistic:
            return statistic[statistic.index("[") + 1 : -1]
        return {"mean": "Mean", "base": "Base"}[statistic.split("_")[0]]
    if section == "design":
        return {"randomised": "Total randomised", "respondents": "4-month survey respondents",
                "response_pct": "Respondent %"}.get(statistic, statistic)
    if section == "admin_12m":
        return "Sustained employment, 12 months (admin.)"
    return variable or statistic


def _se_lookup(flat: pd.DataFrame) -> dict:
    """Published S.E. of the estimate in the same row: (section, group, variable) -> se."""
    out = {}
    for r in flat[flat["statistic"].isin(["se", "iv_se"])].itertuples():
        out[(r.section, r.group, r.variable)] = float(r.value)
    return out


def published_cells(targets=None, extra: dict | None = None, rand: bool = True) -> pd.DataFrame:
    """Every published cell the scorecard checks, one row each (no reproduced values).

    Columns: ``id`` (a targets id, ``chapter3.*``, ``extra.*``, ``prose.*`` or ``rand.*``),
    ``doc``, ``line``, ``section``, ``table``, ``row``, ``group``, ``arm``, ``variable``,
    ``statistic``, ``published`` (a number in printed units or a string), ``decimals``,
    ``unit`` (printed units per analysis unit: 100 for percentages), ``se`` (published S.E.
    of the same row's estimate, for ``close``), ``op``, ``agg``, ``column``, ``excluded``
    (listed under the targets file's ``inconsistencies``), ``target`` (a generator
    calibration target) and ``spec`` (the statement or extra cell it came from).
    """
    t = load_targets(targets)
    extra = extra if extra is not None else load_extra()
    flat = t.flat()
    se = _se_lookup(flat)
    rows: list[dict] = []

    def add(**kw):
        base = dict(doc="R1033", line=None, arm=None, variable=None, unit=1.0, se=None, op=None, agg=None,
                    column=None, excluded=False, target=False, spec=None, group=None)
        base.update(kw)
        base["row"] = base.get("row") or _label_row(base["section"], base["variable"], base["statistic"])
        rows.append(base)

    pub = flat[(flat["kind"] == "published") & flat["line"].notna()]
    for r in pub.itertuples():
        arm = None if r.arm is None or (isinstance(r.arm, float) and math.isnan(r.arm)) else ARM_NAMES[int(r.arm)]
        val = r.value
        if r.statistic in ("randomised", "respondents", "base_all", "base_resp", "base", "iv_base"):
            val = int(val)
        s = None
        stat = r.statistic
        if r.section in ("ips_sessions", "first_session") and r.variable and "[" in r.variable:
            stat = f"{stat}{r.variable[r.variable.index('['):]}"  # pct_all[1-5], as in the extra cells
        if r.statistic in ("impact", "diff", "iv_impact"):
            s = se.get((r.section, r.group, r.variable))
        extra_kw = {}
        if r.section == "baseline_base":  # the "Base" ranges: variable is the column
            val = int(val)
            extra_kw = dict(column=r.variable, row="Base (lowest)" if r.statistic == "base_min" else "Base (highest)")
        add(id=r.id, doc=r.doc, line=int(r.line), section=r.section, table=r.table, group=r.group, arm=arm,
            variable=r.variable, statistic=stat, published=val, decimals=int(r.decimals), unit=float(r.unit),
            se=s, excluded=bool(r.excluded), target=bool(r.target), **extra_kw)

    # suppressed "(-)" cells of Tables 4-2..4-4 (null in the targets file)
    cols = ("population", "sample", "control", "treatment")
    for g in t.groups:
        block = t.raw["baseline_characteristics"][g]
        for key, row in block["rows"].items():
            if "=" not in key:
                continue
            for j, col in enumerate(cols):
                if row["values"][j] is None:
                    add(id=f"baseline_characteristics.{g}.{key}.{col}", line=int(row["line"]), section="baseline_characteristics",
                        table=block["source"]["table"], group=g, arm=col if col in ("control", "treatment") else None,
                        variable=key, statistic=col, published="(-)", decimals=2)

    # chapter 3 marginals used for calibration
    ch3 = t.raw.get("chapter3") or {}
    ch3_rows = {
        "in_work_at_4_months": ("in_work", "Figure 4:3:3 base", "In employment at 4 months", 0),
        "respondents_ch3": ("respondents", "Figure 3.3.2 base", "4-month survey respondents (chapter 3)", 0),
        "eq5d_mean_4m": ("eq5d_mean", "Table 3-10", "EQ5D5L mean", 2),
        "eq5d_base_4m": ("eq5d_base", "Table 3-10", "EQ5D5L base", 0),
        "swemwbs_base_4m": ("swemwbs_base", "Table 3-13", "SWEMWBS base", 0),
    }
    for key, (stat, table, label, dec) in ch3_rows.items():
        spec = ch3.get(key)
        if not spec:
            continue
        for g in t.groups:
            if g in spec:
                add(id=f"chapter3.{key}.{g}", line=int(spec["line"]), section="chapter3", table=table, row=label, group=g,
                    statistic=stat, published=spec[g], decimals=int(spec.get("decimals", dec)), target=True)

    # extra cells
    for c in extra.get("cells", []):  # blog_12m cells are dropped by build_scorecard unless the audit finds them impossible
        unit = 100.0 if c["section"] in ("ips_sessions", "first_session", "work_history") and (
            c["statistic"].startswith("pct_") or c["section"] == "work_history") else 1.0
        if c["section"] == "design" and c["statistic"] == "response_pct":
            unit = 100.0
        add(id=f"extra.{c['id']}", doc=c["doc"], line=int(c["line"]), section=c["section"], table=c["table"], row=c.get("row"),
            group=c.get("group"), arm=c.get("arm"), variable=c.get("statistic"), statistic=c["statistic"],
            published=c["value"], decimals=int(c["decimals"]), unit=unit, op=c.get("op"), agg=c.get("agg"),
            column=c.get("column"), spec=c)

    # prose statements
    for s in extra.get("statements", []):
        groups = s.get("groups") or [s.get("group")]
        outcomes = s.get("outcomes") or [s.get("outcome")]
        for g in groups:
            for o in outcomes:
                for claim, value in s["claims"].items():
                    parts = ["prose", s["id"]]
                    if len(outcomes) > 1:
                        parts.append(str(o))
                    if len(groups) > 1:
                        parts.append(str(g))
                    parts.append(claim)
                    what = vocab.OUTCOMES[o].label if o in vocab.OUTCOMES else {
                        "response_rate": "Response rate, T vs C", "sap": "SAP decision rule",
                        "table_4_5": "Table 4-5 differences (unadjusted)", "admin_12m": "Sustained employment, 12 months",
                    }.get(s["kind"], s["kind"])
                    stat = {"effect_size": "effect size (sd)", "band": "significance", "sign": "sign",
                            "decision": "decision", "gap_over_5ppt": "response gap > 5 ppt"}[claim]
                    pv = BAND_LABELS[value] if claim == "band" else value
                    add(id=".".join(parts), doc=s["doc"], line=int(s["line"]), section="prose", table=s["section"], row=what,
                        group=g, variable=o, statistic=stat, published=pv, decimals=1 if claim == "effect_size" else 0,
                        spec=dict(s, claim=claim, group=g, outcome=o))

    if rand:
        from .bcr import load_rand_published

        for c in load_rand_published().itertuples():
            basis = "" if c.basis == "none" else f" [{c.basis}]"
            val = "?" if c.value is None or (isinstance(c.value, float) and math.isnan(c.value)) else float(c.value)
            add(id=f"rand.t{c.table}.o{c.option}.{c.kind}.{c.quantity}.{c.basis}.{c.row}", doc="RAND", line=int(c.line),
                section="rand", table=f"RAND Table {c.table}", row=f"{c.row} ({c.kind})", group=f"option {c.option}",
                statistic=f"{c.quantity}{basis}", published=val, decimals=int(c.decimals),
                spec={"table": int(c.table), "option": int(c.option), "kind": c.kind, "row": c.row, "quantity": c.quantity,
                      "basis": c.basis})
    out = pd.DataFrame(rows)
    out["source"] = [f"{DOC_PREFIX[d]}:{int(ln)}" for d, ln in zip(out["doc"], out["line"])]
    dup = out["id"][out["id"].duplicated()]
    if len(dup):
        raise ValueError(f"duplicate published cell ids: {sorted(set(dup))[:5]}")
    return out


# =========================================================================================
# Reproduced values
# =========================================================================================
class Reproducer:
    """Computes each published cell's value from a trial with the analysis modules, caching
    the tables (one balance table, one impact table per group and family, one SAP run …).

    ``data`` holds every randomised recruit (columns of ``DATA_DICTIONARY.md``); survey
    weights are added with :func:`ipw_weights` unless a ``weight`` column is present.
    ``reps``/``seed`` drive every Westfall–Young run; ``stars`` names the star convention
    of the impact tables.
    """

    def __init__(self, data: pd.DataFrame, *, reps: int = 1000, seed: int = 0, stars: str = DEFAULT_STARS,
                 targets=None, progress: Callable[[str], None] | None = None):
        if stars not in STAR_CONVENTIONS:
            raise ValueError(f"stars={stars!r} is not one of {list(STAR_CONVENTIONS)}")
        d = data.copy()
        if vocab.WEIGHT not in d:
            d[vocab.WEIGHT] = ipw_weights(d)
        self.all = d
        self.resp = d[d[vocab.RESPONDED] == 1]
        self.reps, self.seed, self.stars = int(reps), int(seed), stars
        self.targets = targets
        self.progress = progress
        self._cache: dict = {}

    def _get(self, key, fn):
        if key not in self._cache:
            if self.progress is not None and key[0] in ("itt", "sap"):
                self.progress(f"{key[0]} {key[1]}" + (f" ({key[2]})" if len(key) > 2 else ""))
            self._cache[key] = fn()
        return self._cache[key]

    # -- cached analyses -------------------------------------------------------------------
    def rates(self) -> pd.DataFrame:
        return self._get(("rates",), lambda: response_rates(self.all))

    def balance(self, g: str) -> pd.DataFrame:
        return self._get(("balance", g), lambda: balance_table(self.all, g))

    def itt(self, g: str, family: str) -> pd.DataFrame:
        def run():
            tab = impact_table(self.resp, g, OUTCOME_FAMILIES[family], p_adjust="wy", stars=self.stars,
                               binary_scale="share", wy_kwargs=dict(reps=self.reps, seed=self.seed))
            return tab.set_index("outcome")
        return self._get(("itt", g, family), run)

    def iv(self, g: str) -> pd.DataFrame:
        def run():
            tab = impact_table(self.resp, g, vocab.PRIMARY_OUTCOMES, kind="participation", binary_scale="share").set_index("outcome")
            tab["p_adj"] = self.itt(g, "primary")["p_adj"]  # the ITT family's adjusted p (as impact_table does)
            tab["stars"] = [significance_stars(p, self.stars) for p in tab["p_adj"]]
            return tab
        return self._get(("iv", g), run)

    def sap(self, g: str):
        return self._get(("sap", g), lambda: sap_decision_rule(self.all, g, reps=self.reps, seed=self.seed))

    def admin(self, g: str):
        return self._get(("admin", g), lambda: estimate_itt(self.all, vocab.SUSTAINED_EMP_12M, g, weights=None, baseline=False))

    def rand(self) -> pd.DataFrame:
        def run():
            from .bcr import reproduce_rand_table

            r = reproduce_rand_table()
            r.index = [f"rand.t{a}.o{b}.{c}.{d}.{e}.{f}" for a, b, c, d, e, f in
                       zip(r.table, r.option, r.kind, r.quantity, r.basis, r.row)]
            return r
        return self._get(("rand",), run)

    def _groups_rows(self, g: str, respondents: bool) -> pd.DataFrame:
        src = self.resp if respondents else self.all
        if g == "all":
            return src
        return src[src[vocab.GROUP].isin(vocab.groups_in(g))]

    # -- one cell --------------------------------------------------------------------------
    def value(self, c: dict) -> tuple[object, str]:
        """(reproduced value in printed units or a label, note) for one published cell."""
        sec = c["section"]
        fn = getattr(self, f"_v_{sec}", None)
        if fn is None:
            return None, f"no rule to reproduce section {sec!r}"
        return fn(c)

    def _v_design(self, c):
        r = self.rates()
        row = r.loc["Total" if c["group"] == "all" else c["group"]]
        suffix = {"treatment": "_T", "control": "_C", None: ""}[c["arm"]]
        col = {"randomised": "randomised", "respondents": "respondents", "response_pct": "rate"}[c["statistic"]] + suffix
        return float(row[col]), "response_rates()" if c["statistic"] != "response_pct" else "response_rates(), per cent"

    def _balance_row(self, g, key):
        bt = self.balance(g)
        if "=" in key:
            var, lv = key.split("=", 1)
            sel = bt[(bt["variable"] == var) & (bt["level"] == lv)]
        else:
            sel = bt[(bt["variable"] == key) & (bt["kind"] != "level")]
        return sel.iloc[0]

    def _v_baseline_characteristics(self, c):
        row = self._balance_row(c["group"], c["variable"])
        col = c["statistic"]
        if c["published"] == "(-)":
            n = int(row[{"population": "n_population", "sample": "n_sample", "control": "n_control", "treatment": "n_treatment"}[col]])
            rep = "(-)" if 0 < n < 10 else f"{row[col]:.2f}"
            return rep, f"n = {n} (suppressed below 10)"
        if col == "p_value":
            return float(row["p"]), "balance_table() p-value (" + ("joint Wald test of the block" if row["kind"] == "block" else "weighted t test") + ")"
        return float(row[col]), "balance_table(), " + ("unweighted, all recruits" if col == "population" else "weighted by ipw_weights()")

    def _v_baseline_base(self, c):
        bt = self.balance(c["group"])
        n = bt.loc[bt["kind"] != "level", f"n_{c['column']}"]
        return float(n.min() if c["statistic"] == "base_min" else n.max()), "non-missing counts across the table's variables"

    def _v_work_history(self, c):
        rows = self._groups_rows(c["group"], respondents=True)
        lv = c["variable"].split("=", 1)[1]
        share = np.average(rows["work_history"] == lv, weights=rows[vocab.WEIGHT])
        return float(share) * c["unit"], "weighted share of 4-month respondents (the report's base; line 1386: all percentages weighted)"

    def _v_table_4_5(self, c):
        tab = self.sap(c["group"]).table
        row = tab.loc[TABLE_4_5_LABELS[c["variable"]]]
        col = {"diff": "Diff.", "se": "S.E.", "p_wy": "P-val"}[c["statistic"]]
        note = f"sap_decision_rule(), Westfall-Young {self.reps:,} permutations" if c["statistic"] == "p_wy" else "sap_decision_rule()"
        return float(row[col]), note

    def _mi(self, c, column):
        stat = c["statistic"]
        x = self.all[self.all[vocab.TREAT] == 1]
        if c["group"] != "all":
            x = x[x[vocab.GROUP].isin(vocab.groups_in(c["group"]))]
        resp = "_resp" in stat
        if resp:
            x = x[x[vocab.RESPONDED] == 1]

        def one(rows):
            rows = rows[rows[column].notna()]
            v = rows[column]
            if stat.startswith("base"):
                return float(len(v))
            # respondents' percentages and mean are survey-weighted (R1033 line 1386: "All
            # percentages are based on the weighted data"); all recruits' MI has no weights
            w = rows[vocab.WEIGHT] if resp else None
            if stat.startswith("mean"):
                return float(np.average(v, weights=w))
            b = stat[stat.index("[") + 1 : -1]
            spec = _bins(c["section"], self.targets)
            lo, hi = spec[b]
            return float(np.average((v >= lo) & (v <= hi), weights=w)) * 100.0

        if c.get("agg"):
            vals = [one(x[x[vocab.GROUP] == g]) for g in vocab.GROUPS]
            return (min(vals) if c["agg"] == "min" else max(vals)), f"{c['agg']} over the trial groups"
        return one(x), "treatment arm, MI records" + (", respondents, weighted by ipw_weights()" if resp else "")

    def _v_ips_sessions(self, c):
        return self._mi(c, vocab.SESSIONS)

    def _v_first_session(self, c):
        return self._mi(c, vocab.WEEKS_TO_FIRST)

    def _v_chapter3(self, c):
        g, stat = c["group"], c["statistic"]
        groups = vocab.GROUPS if g == "all" else (g,)
        if stat == "in_work":
            t = load_targets(self.targets)
            base = t.raw["chapter3"]["respondents_ch3"]
            total = 0.0
            for gg in groups:
                rows = self._groups_rows(gg, True)
                total += float(rows["paid_work"].mean()) * base[gg]
            return total, "kit's share in paid work x chapter 3's base (the kit's groups follow Table 4-1)"
        rows = self._groups_rows(g, True)
        if stat == "respondents":
            return float(len(rows)), "respondents in the kit's groups (Table 4-1's classification)"
        if stat == "eq5d_mean":
            return float(rows["eq5d"].mean()), "unweighted mean among respondents"
        if stat == "eq5d_base":
            return float(rows["eq5d"].notna().sum()), "respondents with EQ5D5L"
        if stat == "swemwbs_base":
            return float(rows["swemwbs"].notna().sum()), "respondents with SWEMWBS"
        raise KeyError(stat)

    def _impact_cell(self, tab, c, kind):
        o, stat = c["variable"], c["statistic"]
        row = tab.loc[o]
        stat = stat.removeprefix("iv_")
        if stat == "stars":
            other = "footnote_15" if self.stars == "section_4_3" else "section_4_3"
            return (row["stars"] or "none"), (f"WY p_adj = {row['p_adj']:.3f} ({self.reps:,} permutations), {self.stars}; "
                                              f"{other}: {stars_label(row['p_adj'], other)}")
        col = {"control": "control", "treatment": "treatment", "impact": "impact", "se": "se", "sd_s": "effect_size",
               "base": "base"}[stat]
        note = {"control": "raw mean, respondents", "treatment": "raw mean, respondents", "impact": f"{kind}, SAP controls, weighted",
                "se": "robust (HC1)", "sd_s": "impact / weighted SD of control respondents", "base": "regression base"}[stat]
        return float(row[col]), note

    def _v_secondary_impacts(self, c):
        return self._impact_cell(self.itt(c["group"], "secondary"), c, "ITT")

    def _v_participation_impacts(self, c):
        return self._impact_cell(self.iv(c["group"]), c, "IV (2SLS)")

    def _v_admin_12m(self, c):
        res = self.admin(c["group"])
        if c["statistic"] == "stars":
            return stars_label(res.p, BLOG_STARS), f"unadjusted p = {res.p:.4f}, blog convention (* 90%, ** 95%, *** 99%)"
        return float(res.impact), "ITT on all recruits, SAP controls, unweighted"

    def _v_blog_12m(self, c):
        return None, "the kit has no 12-month survey outcomes"

    def _v_rand(self, c):
        r = self.rand().loc[c["id"]]
        model = r["model"]
        if isinstance(model, (int, float, np.floating)) and np.isfinite(model):
            return float(model), f"reproduce_rand_table(): printed as {r['reproduced']}"
        return r["reproduced"], "reproduce_rand_table(): undefined"

    def _v_prose(self, c):
        s = c["spec"]
        kind, claim, g, o = s["kind"], s["claim"], s["group"], s.get("outcome")
        if kind == "itt":
            row = self.itt(g, s["family"]).loc[o]
            if claim == "effect_size":
                return float(row["effect_size"]), f"ITT impact {row['impact']:.3f} / SD {row['sd']:.3f}"
            return BAND_LABELS[band(row["p_adj"])], f"WY p_adj = {row['p_adj']:.3f} over the {s['family']} outcomes"
        if kind == "response_rate":
            p = float(self.rates().loc[g, "p"])
            return BAND_LABELS[band(p)], f"chi-squared p = {p:.4f}"
        if kind == "table_4_5":
            tab = self.sap(g).table
            p = float(tab["P-val (raw)"].min())
            note = f"smallest unadjusted p = {p:.4f} ({tab['P-val (raw)'].idxmin()})"
            if s.get("alpha") is not None:  # the report's own definition of "statistically significant"
                return BAND_LABELS["significant" if p <= s["alpha"] else "none"], f"{note}; significant means p <= {s['alpha']}"
            return BAND_LABELS[band(p)], note
        if kind == "sap":
            res = self.sap(g)
            if claim == "decision":
                return ("triggered" if res.decision else "not triggered"), f"gap {res.response_gap_ppt:.1f} ppt; min WY p = {res.wy['p_wy'].min():.3f}"
            return ("yes" if res.gap_exceeds else "no"), f"gap {res.response_gap_ppt:.1f} ppt"
        if kind == "admin_12m":
            res = self.admin(g)
            if claim == "sign":
                return ("negative" if res.impact < 0 else "positive"), f"impact {res.impact:.3f}"
            return BAND_LABELS[band(res.p)], f"unadjusted p = {res.p:.4f}"
        raise KeyError(kind)


@lru_cache(maxsize=8)
def _bins_cached(section: str, key) -> dict:
    t = load_targets(None if key is None else key)
    spec = t.raw[section]
    return {b: tuple(bb) for b, bb in zip(spec["bins"], spec["bin_bounds"])}


def _bins(section: str, targets) -> dict:
    if targets is None or isinstance(targets, (str, Path)):
        return _bins_cached(section, None if targets is None else str(targets))
    spec = targets.raw[section]
    return {b: tuple(bb) for b, bb in zip(spec["bins"], spec["bin_bounds"])}


# =========================================================================================
# Status
# =========================================================================================
def _ordinal(value: str) -> tuple[tuple[str, ...], int] | None:
    for scale in (STARS, tuple(BAND_LABELS[b] for b in BANDS)):
        if value in scale:
            return scale, scale.index(value)
    return None


def classify(published, reproduced, decimals: int, se: float | None = None, op: str | None = None) -> str:
    """``match``, ``close`` or ``miss`` (see the module docstring)."""
    if reproduced is None or (isinstance(reproduced, float) and not np.isfinite(reproduced)):
        return "miss"
    if isinstance(published, str) or isinstance(reproduced, str):
        if str(published) == str(reproduced):
            return "match"
        a, b = _ordinal(str(published)), _ordinal(str(reproduced))
        if a and b and a[0] == b[0] and abs(a[1] - b[1]) == 1:
            return "close"
        try:  # "(-)" printed where the kit prints a number, or RAND's formatted values
            return classify(float(str(published).replace(",", "")), float(str(reproduced).replace(",", "")), decimals, se)
        except ValueError:
            return "miss"
    p, r = float(published), float(reproduced)
    if op == ">":
        return "match" if r > p else "miss"
    if op == "<":
        return "match" if r < p else "miss"
    unit = 10.0 ** -int(decimals)
    gap = abs(r - p)
    if gap <= 0.5 * unit + 1e-9 * max(1.0, abs(p)):
        return "match"
    if gap <= max(unit, se or 0.0) + 1e-9 * max(1.0, abs(p)):
        return "close"
    return "miss"


def _fmt(v, decimals: int, extra: int = 0) -> str:
    """A number with ``decimals + extra`` decimals, halves rounded up (as reports round)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (float, np.floating)) and not np.isfinite(v):
        return ""
    from decimal import ROUND_HALF_UP, Decimal

    d = int(decimals) + extra
    q = Decimal(repr(float(v))).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP)
    return str(q.copy_abs() if q == 0 else q)  # no "-0.00"


def _untargeted(targets=None) -> dict[str, str]:
    """id -> the targets file's ``untargeted`` entry that lists it (entries marked ``aimed``
    excepted: the generator aims at those, best effort)."""
    t = load_targets(targets)
    return {cell: e["id"] for e in t.raw.get("untargeted") or [] if not e.get("aimed") for cell in e.get("cells") or []}


def _prose_aimed(targets=None) -> set[tuple[str, str]]:
    """(group, outcome) of the prose claims on impacts with no printed table or figure that
    the generator aims at: the targets file's ``primary_prose``."""
    t = load_targets(targets)
    return {(g, o) for g, claims in (t.raw.get("primary_prose") or {}).items() if isinstance(claims, dict)
            for o in claims if o in vocab.OUTCOMES}


def _prose_reason(c: dict, aimed: set[tuple[str, str]]) -> str:
    """What the generator does about a prose claim (``published_extra.yaml``'s statements):
    aims at it (``primary_prose``, Table 4-5's "none ... significant"), leaves it to follow
    a table it restates (its stars, or Table 4-1's counts), or nothing."""
    spec = c.get("spec") if isinstance(c.get("spec"), dict) else {}
    kind, what = spec.get("kind"), "effect sizes" if "effect" in str(c["statistic"]) else "significance claims"
    group, outcome = c.get("group"), c.get("variable")
    if kind == "itt" and (group, outcome) in aimed:
        return (f"prose {what} on impacts with no printed table (aimed at, best effort: targets file "
                "primary_prose, data_synth.stars.prose_t_band)")
    if kind == "itt" and spec.get("table_cell"):
        return f"prose {what} restating {spec['table_cell']} (follow that cell's calibration)"
    if kind == "itt" and group not in vocab.POOLED_GROUPS:
        return f"prose {what} on a trial group's impact table (follow its stars, aimed at, best effort: data_synth.stars)"
    if kind == "table_4_5":
        return "prose significance claims on Table 4-5 (aimed at, best effort: targets file table_4_5.prose)"
    if kind in ("response_rate", "sap"):
        return "prose significance claims on response rates (follow Table 4-1's counts, a calibration target)"
    if kind == "admin_12m":
        return "prose significance claims on the 12-month outcome (follow blog Table 1's targets)"
    return f"prose {what} (not calibrated)"


def _reason(c: dict, untargeted: dict[str, str] | None = None, aimed: set[tuple[str, str]] | None = None) -> str:
    """Why a cell is not (yet) reproduced exactly: the group the lead calibrates next, or
    the targets file's ``untargeted`` entry that says why the kit does not aim at it.
    ``aimed``: the prose claims the generator aims at (:func:`_prose_aimed`)."""
    if untargeted and c["id"] in untargeted:
        return f"untargeted: not produced under the kit's documented assumptions (targets file, {untargeted[c['id']]})"
    sec, stat = c["section"], str(c["statistic"])
    if sec == "baseline_characteristics":
        if stat == "p_value":
            return ("Tables 4-2..4-4 joint p-values of categorical blocks (aimed at, best effort)" if c.get("variable") in vocab.CATEGORICAL_BASELINE
                    else "Tables 4-2..4-4 p-values (calibration target unless listed untargeted)")
        if stat == "population":
            return "Tables 4-2..4-4 population column (calibration target)"
        if c["published"] == "(-)":
            return "Tables 4-2..4-4 suppressed cells (aimed at, best effort)"
        return "Tables 4-2..4-4 weighted sample/arm levels (aimed at, best effort; their T - C differences are targets)"
    if sec == "baseline_base":
        return "Tables 4-2..4-4 bases (calibration target: qualification's item non-response, data_synth.items)"
    if sec == "table_4_5":
        return ("Table 4-5 WY p-values (not calibrated: the family includes the lost SWEMWBS row; targets file "
                "t4-5-wy-pvalues)") if stat == "p_wy" else "Table 4-5 differences (calibration target)"
    if stat in ("stars", "iv_stars"):
        if sec == "participation_impacts" or (sec == "secondary_impacts" and c["group"] not in vocab.POOLED_GROUPS):
            return "stars (WY-adjusted p; impact/S.E. aimed inside their rounding at the stars, best effort: data_synth.stars)"
        return "stars (WY-adjusted p, not calibrated)"
    if sec in ("secondary_impacts", "participation_impacts") and c["group"] in vocab.POOLED_GROUPS:
        return "pooled-group estimates (Tables 4-12/4-13/4-15)"
    if sec in ("secondary_impacts", "participation_impacts"):
        return "trial-group impact tables (calibration target)"
    if sec == "prose":
        return _prose_reason(c, aimed or set())
    if sec in ("ips_sessions", "first_session"):
        return "Tables 4-6/4-7 (MI)"
    if sec in ("chapter3", "work_history"):
        return "chapter 3 marginals"
    if sec == "admin_12m":
        return "blog Table 1 (12 months)"
    if sec == "rand":
        return "RAND business cases"
    if sec == "design":
        return "Table 4-1"
    return sec


def _exclusions(cells: pd.DataFrame, audit: pd.DataFrame | None, targets=None) -> dict[str, str]:
    """id -> note for every published-inconsistent cell.

    A cell is published-inconsistent when the targets file lists it under
    ``inconsistencies`` or an ``inconsistent`` audit finding covers it — unless the audit
    checked that very cell and found that a dataset can print it (then it is scored, and the
    note records the disagreement, see :func:`disputed_exclusions`)."""
    out: dict[str, str] = {}
    feasible = _feasible_cells(audit)
    try:
        incs = load_targets(targets).raw.get("inconsistencies") or []
    except Exception:  # pragma: no cover - the targets file is part of the kit
        incs = []
    ids = list(cells["id"])
    for inc in incs:
        for ex in inc.get("exclude") or []:
            for i in ids:
                if (i == ex or i.startswith(ex + ".")) and i not in feasible:
                    out.setdefault(i, f"{inc['id']} (targets file): " + " ".join(str(inc["arithmetic"]).split())[:400])
    if audit is not None and len(audit):
        for f in audit[(audit["status"] == "inconsistent") & audit["exclude"]].itertuples():
            for ex in f.cells:
                for i in ids:
                    if i == ex or i.startswith(ex + "."):
                        out.setdefault(i, f"audit {f.id}: {f.arithmetic}"[:400])
    return out


def _feasible_cells(audit: pd.DataFrame | None) -> dict[str, str]:
    if audit is None or not len(audit):
        return {}
    return {c: f"{f.id}: {f.arithmetic}" for f in audit[audit["status"] == "consistent"].itertuples() for c in f.cells}


def disputed_exclusions(audit: pd.DataFrame, targets=None) -> pd.DataFrame:
    """Cells the targets file lists as inconsistent but the audit finds printable: columns
    ``cell``, ``entry`` (the targets file's inconsistency id), ``arithmetic`` (the audit's)."""
    feasible = _feasible_cells(audit)
    rows = []
    for inc in load_targets(targets).raw.get("inconsistencies") or []:
        for ex in inc.get("exclude") or []:
            if ex in feasible:
                rows.append({"cell": ex, "entry": inc["id"], "arithmetic": feasible[ex]})
    return pd.DataFrame(rows, columns=["cell", "entry", "arithmetic"])


def build_scorecard(
    data: pd.DataFrame,
    *,
    reps: int = 1000,
    seed: int = 0,
    stars: str = DEFAULT_STARS,
    targets=None,
    extra: dict | None = None,
    audit: pd.DataFrame | None = None,
    rand: bool = True,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The scorecard: every published cell beside the value reproduced from ``data``.

    ``data``: every randomised recruit (a generated trial or any trial with the same
    columns). ``reps``/``seed``: Westfall–Young resampling. ``stars``: the impact tables'
    star convention (default §4.3's 90/95/99 %, which the prose's "weak evidence" for a
    one-star cell follows; the other convention is given in the note). ``audit``: findings
    from :func:`hlt_replicate.audit.audit_reports` (computed when None) — cells it finds
    impossible are ``published-inconsistent``.

    Returns the columns of :data:`COLUMNS` plus ``id``, ``doc``, ``line``, ``section``,
    ``value`` (the reproduced value unrounded), ``reason`` (for close/miss cells: the group
    of cells the calibration has not reached) and ``target``.
    """
    if audit is None:
        from .audit import audit_reports

        audit = audit_reports(targets=targets, extra=extra, rand=rand)
    cells = published_cells(targets, extra, rand=rand)
    excl = _exclusions(cells, audit, targets)
    disputed = {r.cell: r.entry for r in disputed_exclusions(audit, targets).itertuples()}
    # blog 12-month survey cells: only those the audit finds impossible stay (the rest are
    # outside the kit's data and listed in the report instead)
    keep = [not (s == "blog_12m" and i not in excl) for s, i in zip(cells["section"], cells["id"])]
    cells = cells[keep].reset_index(drop=True)
    rep = Reproducer(data, reps=reps, seed=seed, stars=stars, targets=targets, progress=progress)
    untargeted, aimed = _untargeted(targets), _prose_aimed(targets)
    out = []
    for c in cells.to_dict("records"):
        c = {k: (None if not isinstance(v, (str, dict, list, tuple)) and v is not None and pd.isna(v) else v) for k, v in c.items()}
        value, note = rep.value(c)  # in printed units (per cent where the table prints per cent)
        if c["id"] in excl:
            status, note = "published-inconsistent", excl[c["id"]]
        else:
            status = classify(c["published"], value, c["decimals"], c["se"], c["op"])
            if c["id"] in disputed:
                note += f"; listed in the targets file ({disputed[c['id']]}) but the audit finds it printable"
        published = c["published"]
        pub_txt = (f"{c['op']} {published}" if c["op"] else
                   (_fmt(published, c["decimals"]) if not isinstance(published, str) else published))
        integral = isinstance(value, (int, float, np.floating, np.integer)) and float(value).is_integer()
        rep_txt = _fmt(value, c["decimals"], 0 if isinstance(value, str) or (c["decimals"] == 0 and integral) else 2)
        out.append({
            "source": c["source"], "table": c["table"], "row": c["row"], "group": c["group"] or "",
            "arm": c["arm"] or "", "statistic": c["statistic"], "published": pub_txt, "reproduced": rep_txt,
            "decimals": int(c["decimals"]), "status": status,
            "note": note if status in ("published-inconsistent",) else (f"{_reason(c, untargeted, aimed)}; {note}" if status != "match" else note),
            "id": c["id"], "doc": c["doc"], "line": c["line"], "section": c["section"],
            "value": value if not isinstance(value, str) else np.nan, "target": bool(c["target"]),
            "reason": _reason(c, untargeted, aimed) if status in ("close", "miss") else "",
        })
    card = pd.DataFrame(out)
    card.attrs.update(reps=reps, seed=seed, stars=stars)
    return card


# =========================================================================================
# Summaries
# =========================================================================================
def match_rate(card: pd.DataFrame) -> dict:
    """Counts by status and the match rate over the reproducible cells (all but
    ``published-inconsistent``)."""
    n = card["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    reproducible = int(n["match"] + n["close"] + n["miss"])
    return {
        "cells": int(len(card)), "reproducible": reproducible, "match": int(n["match"]), "close": int(n["close"]),
        "miss": int(n["miss"]), "published_inconsistent": int(n["published-inconsistent"]),
        "match_rate": n["match"] / reproducible if reproducible else float("nan"),
        "match_or_close_rate": (n["match"] + n["close"]) / reproducible if reproducible else float("nan"),
    }


def table_order(tables: Iterable[str], docs: Iterable[str] | None = None) -> list[str]:
    """Tables in reading order: the 4-month report's chapter 4 tables by number, its prose,
    chapter 3, then the blog and RAND."""
    import re

    first_doc = dict(zip(tables, docs)) if docs is not None else {}

    def key(t: str):
        doc = {"R1033": 0, "BLOG": 1, "RAND": 2}.get(first_doc.get(t, "R1033"), 0)
        m = re.match(r"(?:RAND )?Table (\d+)(?:-(\d+))?", t)
        if t.startswith("Table 4-") and m:
            return (doc, 0, int(m.group(2)), t)
        if t.startswith("§4") or t.startswith("Ch. 5"):
            return (doc, 1, int(t.startswith("Ch. 5")), t)
        if t.startswith("RAND Table") and m:
            return (doc, 0, int(m.group(1)), t)
        return (doc, 2 if doc == 0 else 0, 0, t)

    return sorted(dict.fromkeys(tables), key=key)


def summary_by_table(card: pd.DataFrame) -> pd.DataFrame:
    """Status counts per source table, in reading order (:func:`table_order`)."""
    order = table_order(card["table"], card["doc"])
    tab = pd.crosstab(card["table"], card["status"]).reindex(index=order, columns=list(STATUSES), fill_value=0)
    repro = tab["match"] + tab["close"] + tab["miss"]
    tab["match rate"] = (tab["match"] / repro.replace(0, np.nan)).round(3)
    tab.insert(0, "doc", card.groupby("table")["doc"].first().reindex(order))
    return tab


def misses_by_reason(card: pd.DataFrame) -> pd.DataFrame:
    """Close and missed cells grouped by reason: what the calibration should reach next."""
    sub = card[card["status"].isin(["close", "miss"])]
    if sub.empty:
        return pd.DataFrame(columns=["reason", "close", "miss", "tables"])
    g = sub.groupby("reason")
    out = pd.DataFrame({
        "close": g["status"].apply(lambda s: int((s == "close").sum())),
        "miss": g["status"].apply(lambda s: int((s == "miss").sum())),
        "tables": g["table"].apply(lambda s: ", ".join(dict.fromkeys(s))),
    }).sort_values(["miss", "close"], ascending=False)
    return out.reset_index()


def write_scorecard(card: pd.DataFrame, path: str | Path, full: bool = False) -> Path:
    """Write the scorecard as CSV: the columns of :data:`COLUMNS` (``full=True``: all)."""
    path = Path(path)
    cols = list(card.columns) if full else list(COLUMNS)
    card[cols].to_csv(path, index=False, lineterminator="\n")
    return path


def sampled_spread(cards: dict[int, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sampling variation over several seeds of ``sampled`` mode.

    Returns ``(per_seed, per_cell)``: ``per_seed`` has one row per seed with the counts of
    :func:`match_rate`; ``per_cell`` one row per numeric cell with the published value, the
    mean, SD, min and max of the reproduced value over seeds and the share of seeds in
    which it matched.
    """
    per_seed = pd.DataFrame([{"seed": s, **match_rate(c)} for s, c in sorted(cards.items())])
    long = pd.concat([c.assign(seed=s) for s, c in cards.items()], ignore_index=True)
    long = long[long["status"] != "published-inconsistent"]
    num = long[pd.to_numeric(long["value"], errors="coerce").notna()].copy()
    g = num.groupby("id", sort=False)
    per_cell = pd.DataFrame({
        "table": g["table"].first(), "row": g["row"].first(), "group": g["group"].first(), "statistic": g["statistic"].first(),
        "published": g["published"].first(), "mean": g["value"].mean(), "sd": g["value"].std(ddof=1),
        "min": g["value"].min(), "max": g["value"].max(),
        "match_share": g["status"].apply(lambda s: float((s == "match").mean())),
    })
    return per_seed, per_cell.reset_index()
