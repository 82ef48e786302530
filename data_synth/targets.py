"""Load, validate and flatten a targets file.

A targets file (YAML; the default is ``data_synth/targets/hlt_4month.yaml``) holds every
number the generator aims at, with its source. :func:`load_targets` checks it and raises a
:class:`~data_synth.errors.TargetError` naming the first problem (a missing key, shares that
do not sum to one, more respondents than randomised, a negative count, a probability
outside [0, 1]). :meth:`Targets.flat` lists every target as one row — the calibration
report compares each with the generated data.
"""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from hlt_replicate import vocab

from .errors import TargetError

DEFAULT_TARGETS = "hlt_4month.yaml"
ARMS = {"treatment": 1, "control": 0}
REQUIRED_SECTIONS = (
    "design",
    "work_history",
    "baseline_measures",
    "baseline_characteristics",
    "primary_outcomes",
    "secondary_impacts",
    "outcome_sd",
)
CATEGORICAL_BLOCKS = {"qual": vocab.QUAL_LEVELS, "health": vocab.HEALTH_LEVELS, "area": vocab.AREAS, "cohort": vocab.COHORTS}
IMPACT_COLUMNS = ("control", "treatment", "impact", "se", "sd_s", "stars", "base")
IMPACT_DECIMALS = {"control": 2, "treatment": 2, "impact": 2, "se": 2, "sd_s": 1, "base": 0}
PARTICIPATION_DECIMALS = {"impact": 2, "se": 2, "sd_s": 2, "base": 0}


def default_targets_path() -> Path:
    return Path(str(resources.files("data_synth") / "targets" / DEFAULT_TARGETS))


def _req(d: dict, key: str, where: str):
    if not isinstance(d, dict) or key not in d:
        raise TargetError(f"targets: missing key {where}.{key}")
    return d[key]


def _prob(v, where: str) -> float:
    if not _is_number(v):
        raise TargetError(f"targets: {where} must be a number, got {v!r}")
    if not 0 <= v <= 1:
        raise TargetError(f"targets: {where} = {v} is a probability/share and must lie in [0, 1]")
    return float(v)


def _count(v, where: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TargetError(f"targets: {where} must be a whole number, got {v!r}")
    if v < 0:
        raise TargetError(f"targets: {where} = {v} is a negative count")
    return v


def _shares_sum(shares: dict | list, decimals: int, where: str, total: float = 1.0) -> None:
    vals = list(shares.values()) if isinstance(shares, dict) else list(shares)
    vals = [v for v in vals if v is not None]
    slack = len(vals) * 0.5 * 10.0**-decimals + 1e-9  # decimals in the values' own units (shares or %)
    if abs(sum(vals) - total) > slack:
        raise TargetError(
            f"targets: {where} sum to {sum(vals):.4g}, not {total:g} "
            f"(printed rounding allows ±{slack:.3g} for {len(vals)} cells)"
        )


def _mi_distribution(vals, spec: dict, where: str) -> None:
    """A distribution over the MI tables' bins (Tables 4-6/4-7): one percentage per bin, each
    in [0, 100], summing to 100 within the printed rounding."""
    bins = spec.get("bins") or []
    if len(vals) != len(bins):
        raise TargetError(f"targets: {where} has {len(vals)} percentages for the {len(bins)} bins {bins}")
    for k, v in enumerate(vals):
        if not 0 <= v <= 100:
            raise TargetError(f"targets: {where}[{k}] = {v} is a percentage and must lie in [0, 100]")
    _shares_sum(vals, spec.get("decimals", 1), f"{where} percentages", total=100.0)


@dataclass
class Targets:
    """A validated targets file. ``raw`` is the parsed YAML; ``scale`` multiplies counts."""

    raw: dict
    path: Path
    digest: str
    scale: int = 1

    # -- design ---------------------------------------------------------------------------
    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(g for g in vocab.GROUPS if g in self.raw["design"]["randomised"])

    def randomised(self, group: str) -> dict[int, int]:
        d = self.raw["design"]["randomised"][group]
        return {ARMS[a]: d[a] * self.scale for a in ARMS}

    def respondents(self, group: str) -> dict[int, int]:
        d = self.raw["design"]["respondents"][group]
        return {ARMS[a]: d[a] * self.scale for a in ARMS}

    @property
    def intake(self) -> tuple[str, str]:
        i = self.raw["design"]["intake"]
        return str(i["start"]), str(i["end"])

    # -- baseline -------------------------------------------------------------------------
    def baseline_rows(self, group: str) -> dict:
        return self.raw["baseline_characteristics"][group]["rows"]

    def item_missing(self, group: str) -> tuple[str, dict[tuple[int, int], int]] | None:
        """Baseline item non-response (the tables' "Base" ranges): the characteristic with
        missing values and how many are missing in each (arm, responded) cell; ``None`` when
        the targets give no base. Respondents' counts are the highest minus the lowest base
        of the control and treatment columns; the non-respondents' (population less sample)
        are split between arms in proportion to the arms' non-respondents (rounded)."""
        spec = self.raw["baseline_characteristics"].get("item_nonresponse")
        base = self.raw["baseline_characteristics"][group].get("base")
        if not spec or not base:
            return None
        lo, hi = base["lowest"], base["highest"]
        k = self.scale
        cells = {(0, 1): (hi[2] - lo[2]) * k, (1, 1): (hi[3] - lo[3]) * k}
        nonresp = (hi[0] - lo[0] - (hi[1] - lo[1])) * k
        n_nr = {a: self.randomised(group)[a] - self.respondents(group)[a] for a in (0, 1)}
        share0 = n_nr[0] / max(n_nr[0] + n_nr[1], 1)
        cells[(0, 0)] = int(round(nonresp * share0))
        cells[(1, 0)] = nonresp - cells[(0, 0)]
        return spec["variable"], cells

    def population_value(self, group: str, key: str) -> float | None:
        row = self.baseline_rows(group).get(key)
        return None if row is None else row["values"][0]

    def sample_value(self, group: str, key: str) -> float | None:
        """The weighted respondent ("4-month sample, weighted") value of a Tables 4-2..4-4 row;
        None when the row is missing or the cell suppressed."""
        row = self.baseline_rows(group).get(key)
        return None if row is None else row["values"][1]

    def categorical_shares(self, group: str, block: str) -> dict[str, float]:
        if block == "work_history":
            wh = self.raw["work_history"][group]
            return {lv: float(wh[lv]) for lv in vocab.WORK_HISTORY_LEVELS}
        rows = self.baseline_rows(group)
        return {lv: float(rows[f"{block}={lv}"]["values"][0]) for lv in CATEGORICAL_BLOCKS[block]}

    def measure(self, name: str, group: str) -> dict:
        m = self.raw["baseline_measures"][name]
        out = dict(m.get(group, {}))
        if name == "bl_eq5d" and "mean" not in out:
            out["mean"] = self.population_value(group, "bl_eq5d")
        out["bounds"] = m.get("bounds")
        out["respondents_only"] = m.get("respondents_only", False)
        return out

    def excluded(self) -> set[str]:
        ids: set[str] = set()
        for inc in self.raw.get("inconsistencies", []) or []:
            ids.update(inc.get("exclude", []) or [])
        return ids

    def untargeted(self) -> set[str]:
        """Cells a dataset could produce but the kit's documented assumptions do not (section
        ``untargeted``): compared in the scorecard, not calibrated."""
        ids: set[str] = set()
        for entry in self.raw.get("untargeted", []) or []:
            ids.update(entry.get("cells", []) or [])
        return ids

    def skipped(self) -> set[str]:
        """Ids the generator does not aim at: published inconsistencies and untargeted cells
        (except entries marked ``aimed: true``: aimed at, best effort, never promised)."""
        aimed: set[str] = set()
        for entry in self.raw.get("untargeted", []) or []:
            if entry.get("aimed"):
                aimed.update(entry.get("cells", []) or [])
        return self.excluded() | (self.untargeted() - aimed)

    def reading(self, target_id: str):
        for inc in self.raw.get("inconsistencies", []) or []:
            if target_id in (inc.get("exclude") or []) and "reading" in inc:
                return inc["reading"]
        return None

    # -- outcomes -------------------------------------------------------------------------
    def outcome_targets(self, group: str, outcome: str) -> dict:
        """Raw means by arm, impact, se, sd and base for a trial group's outcome (None when
        not targeted). Primary outcomes come from ``primary_outcomes`` (derived), secondary
        from ``secondary_impacts``; bases are scaled."""
        if outcome in self.raw["primary_outcomes"].get(group, {}):
            c, t, imp, sd, base = self.raw["primary_outcomes"][group][outcome]
            out = {"control": c, "treatment": t, "impact": imp, "se": None, "sd": sd, "base": base, "derived": True}
        else:
            vals = self.raw["secondary_impacts"][group]["rows"][outcome]["values"]
            out = dict(zip(IMPACT_COLUMNS, vals))
            out["sd"] = self.raw["outcome_sd"].get(group, {}).get(outcome)
            out["derived"] = False
        out["base"] = int(out["base"]) * self.scale
        earlier = (self.raw.get("chapter3") or {}).get("worked_earlier_if_not_in_work") or {}
        out["worked_earlier"] = float(earlier.get(group, 0.1))
        part = (self.raw.get("participation_impacts") or {}).get(group, {}).get("rows", {}).get(outcome)
        if part is not None:
            out["iv_impact"], out["iv_se"] = part["values"][0], part["values"][1]
            sd_s = part["values"][2] if len(part["values"]) > 2 else None
            if f"participation_impacts.{group}.{outcome}.sd_s" not in self.skipped():
                out["iv_sd_s"] = sd_s
        return out

    def admin(self, group: str) -> dict | None:
        return (self.raw.get("admin_12m") or {}).get(group)

    # -- report ---------------------------------------------------------------------------
    def flat(self) -> pd.DataFrame:
        """Every target as a row: id, section, table, group, arm, variable, statistic,
        value, decimals, unit scale, doc, line, kind (published/derived/assumed), excluded."""
        from .flatten import flatten_targets

        return flatten_targets(self)

    def with_scale(self, scale: int) -> Targets:
        if not isinstance(scale, int) or scale < 1:
            raise TargetError(f"scale must be a whole number >= 1, got {scale!r}")
        return Targets(copy.deepcopy(self.raw), self.path, self.digest, scale)


def load_targets(path: str | Path | None = None, scale: int = 1) -> Targets:
    """Read and validate a targets file (default: the HLT 4-month targets)."""
    p = Path(path) if path is not None else default_targets_path()
    if not p.exists():
        raise TargetError(f"targets file not found: {p}")
    text = p.read_bytes()
    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        raise TargetError(f"targets file {p} is not valid YAML: {err}") from err
    validate(raw)
    return Targets(raw, p, hashlib.sha256(text).hexdigest(), 1).with_scale(scale)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_types(node, where: str = "<top>") -> None:
    """Raise naming the first entry of the wrong type, before the checks and the generator
    trip over it deeper down: a ``rows`` entry without the ``values`` list its table's
    other rows have, text in a list of numbers (``values: [0.57, "x", ...]``; significance
    stars excepted), or a number written as quoted text (``impact: "0.1"``)."""
    if isinstance(node, dict):
        for key, v in node.items():
            here = f"{where}.{key}" if where != "<top>" else str(key)
            if key == "rows" and isinstance(v, dict) and any(isinstance(r, dict) and "values" in r for r in v.values()):
                for name, row in v.items():  # a table whose rows list their cells as values
                    if not isinstance(row, dict) or not isinstance(row.get("values"), list):
                        raise TargetError(f"targets: {here}.{name} needs a 'values' list (the printed row's cells), got {row!r}")
            if isinstance(v, str):
                try:
                    float(v)
                except ValueError:
                    pass
                else:
                    raise TargetError(f"targets: {here} = {v!r} is quoted text; write the number without quotes")
            _check_types(v, here)
    elif isinstance(node, list):
        if any(_is_number(v) for v in node):
            for i, v in enumerate(node):
                if v is not None and not _is_number(v) and not (isinstance(v, str) and set(v) <= {"*"}):  # stars: '', '*', ...
                    raise TargetError(f"targets: {where}[{i}] = {v!r} is not a number (the list's other entries are)")
        for i, v in enumerate(node):
            if isinstance(v, (dict, list)):
                _check_types(v, f"{where}[{i}]")


#: the range a trial group's mean age must lie in (recruits are adults of working age)
AGE_RANGE = (16.0, 70.0)


def validate(raw: dict) -> None:
    """Raise :class:`TargetError` on the first structural or logical problem found."""
    if not isinstance(raw, dict):
        raise TargetError("targets: the file must hold a mapping at the top level")
    _check_types(raw)
    for key in REQUIRED_SECTIONS:
        _req(raw, key, "<top>")
    design = raw["design"]
    rand = _req(design, "randomised", "design")
    resp = _req(design, "respondents", "design")
    groups = [g for g in rand if g != "line"]
    unknown = [g for g in groups if g not in vocab.GROUPS]
    if unknown:
        raise TargetError(f"targets: design.randomised has unknown group(s) {unknown}; expected {list(vocab.GROUPS)}")
    if not groups:
        raise TargetError("targets: design.randomised lists no trial group")
    intake = _req(design, "intake", "design")
    dates = []
    for end in ("start", "end"):
        v = _req(intake, end, "design.intake")
        try:
            dates.append(dt.date.fromisoformat(str(v)))
        except ValueError:
            raise TargetError(f"targets: design.intake.{end} = {v!r} is not a date (YYYY-MM-DD)") from None
    if dates[0] >= dates[1]:
        raise TargetError(f"targets: design.intake.start = {dates[0]} is not before design.intake.end = {dates[1]}")
    for g in groups:
        for arm in ARMS:
            n = _count(_req(_req(rand, g, "design.randomised"), arm, f"design.randomised.{g}"), f"design.randomised.{g}.{arm}")
            r = _count(_req(_req(resp, g, "design.respondents"), arm, f"design.respondents.{g}"), f"design.respondents.{g}.{arm}")
            if r > n:
                raise TargetError(f"targets: design.respondents.{g}.{arm} = {r} exceeds design.randomised.{g}.{arm} = {n}")
            if n < 2:
                raise TargetError(f"targets: design.randomised.{g}.{arm} = {n}: each arm needs at least 2 recruits")
        # baseline characteristics: population column
        rows = _req(_req(_req(raw, "baseline_characteristics", "<top>"), g, "baseline_characteristics"), "rows", f"baseline_characteristics.{g}")
        for var in ("age", *vocab.BINARY_BASELINE, "bl_eq5d"):
            row = _req(rows, var, f"baseline_characteristics.{g}.rows")
            v = row["values"][0]
            if var in vocab.BINARY_BASELINE:
                _prob(v, f"baseline_characteristics.{g}.rows.{var} (population)")
            elif var == "age" and not (_is_number(v) and AGE_RANGE[0] <= v <= AGE_RANGE[1]):
                raise TargetError(f"targets: baseline_characteristics.{g}.rows.age (population) = {v!r} must be a mean age "
                                  f"in [{AGE_RANGE[0]:g}, {AGE_RANGE[1]:g}]")
        for block, levels in CATEGORICAL_BLOCKS.items():
            shares = {}
            for lv in levels:
                row = _req(rows, f"{block}={lv}", f"baseline_characteristics.{g}.rows")
                shares[lv] = _prob(row["values"][0], f"baseline_characteristics.{g}.rows.{block}={lv} (population)")
            _shares_sum(shares, 2, f"baseline_characteristics.{g} population shares of {block}")
        _check_base(raw, g, rand[g], resp[g])
        wh = _req(raw["work_history"], g, "work_history")
        for lv in vocab.WORK_HISTORY_LEVELS:
            _prob(_req(wh, lv, f"work_history.{g}"), f"work_history.{g}.{lv}")
        _shares_sum({lv: wh[lv] for lv in vocab.WORK_HISTORY_LEVELS}, raw["work_history"].get("decimals", 2), f"work_history.{g} shares")
        # outcomes
        sds = _req(raw["outcome_sd"], g, "outcome_sd")  # the assumed s.d.s of continuous secondary outcomes
        if not isinstance(sds, dict):
            raise TargetError(f"targets: outcome_sd.{g} must map outcomes to s.d.s, got {sds!r}")
        for o, sd in sds.items():
            if not _is_number(sd) or sd <= 0:
                raise TargetError(f"targets: outcome_sd.{g}.{o} = {sd!r} must be a positive number")
        n_resp = sum(resp[g][a] for a in ARMS)
        prim = _req(raw["primary_outcomes"], g, "primary_outcomes")
        for o in vocab.PRIMARY_OUTCOMES:
            vals = _req(prim, o, f"primary_outcomes.{g}")
            if len(vals) != 5:
                raise TargetError(f"targets: primary_outcomes.{g}.{o} must list [control, treatment, impact, sd, base]")
            _check_outcome(o, g, vals[0], vals[1], vals[4], n_resp, "primary_outcomes")
        sec = _req(_req(raw["secondary_impacts"], g, "secondary_impacts"), "rows", f"secondary_impacts.{g}")
        for o in vocab.SECONDARY_OUTCOMES:
            vals = _req(sec, o, f"secondary_impacts.{g}.rows")["values"]
            if len(vals) != len(IMPACT_COLUMNS):
                raise TargetError(f"targets: secondary_impacts.{g}.rows.{o}.values must list {list(IMPACT_COLUMNS)}")
            _check_outcome(o, g, vals[0], vals[1], vals[6], n_resp, "secondary_impacts")
        adm = (raw.get("admin_12m") or {}).get(g)
        if adm is not None:
            _prob(_req(adm, "control_rate", f"admin_12m.{g}"), f"admin_12m.{g}.control_rate")
            imp = _req(adm, "impact", f"admin_12m.{g}")
            if not -1 < imp < 1 or not 0 <= adm["control_rate"] + imp <= 1:
                raise TargetError(f"targets: admin_12m.{g}: control_rate + impact = {adm['control_rate'] + imp:.3g} is not a probability")
        for sect in ("ips_sessions", "first_session"):
            block = (raw.get(sect) or {}).get(g)
            if block is None:
                continue
            for col in ("all", "resp"):
                _mi_distribution(_req(block, col, f"{sect}.{g}"), raw[sect], f"{sect}.{g}.{col}")
            base = _req(block, "base", f"{sect}.{g}")
            if sect == "ips_sessions":
                if base["all"] > rand[g]["treatment"]:
                    raise TargetError(f"targets: ips_sessions.{g}.base.all = {base['all']} exceeds the {rand[g]['treatment']} randomised to treatment")
                if base["resp"] > resp[g]["treatment"]:
                    raise TargetError(f"targets: ips_sessions.{g}.base.resp = {base['resp']} exceeds the {resp[g]['treatment']} treatment respondents")
                if base["resp"] > base["all"]:
                    raise TargetError(f"targets: ips_sessions.{g}.base.resp exceeds base.all")
    for sect in ("ips_sessions", "first_session"):  # the Total columns (best effort)
        total = (raw.get(sect) or {}).get("total")
        for col in ("all", "resp") if total else ():
            if col in total:
                _mi_distribution(total[col], raw[sect], f"{sect}.total.{col}")
    _primary_prose(raw.get("primary_prose"))
    _table_4_5_prose((raw.get("table_4_5") or {}).get("prose"))
    for name, m in raw["baseline_measures"].items():
        if name not in vocab.BASELINE_MEASURES:
            raise TargetError(f"targets: baseline_measures.{name} is not a known baseline measure {list(vocab.BASELINE_MEASURES)}")
        for g in groups:
            spec = m.get(g)
            if spec is None:
                raise TargetError(f"targets: missing key baseline_measures.{name}.{g}")
            if name == "bl_looking":
                _prob(_req(spec, "mean", f"baseline_measures.{name}.{g}"), f"baseline_measures.{name}.{g}.mean")
            if "sd" in spec and spec["sd"] <= 0:
                raise TargetError(f"targets: baseline_measures.{name}.{g}.sd = {spec['sd']} must be positive")


#: characteristics whose item non-response the generator can model: qualification only (a
#: categorical control, so a missing level of its own in every regression; the outcome model
#: draws from the health condition, so that one stays complete)
ITEM_MISSING_VARIABLES = ("qual",)


def _check_base(raw: dict, g: str, rand: dict, resp: dict) -> None:
    """A group's "Base" ranges (Tables 4-2..4-4): the highest base is every recruit or
    respondent of Table 4-1; the lowest fits one characteristic missing for some of them."""
    bc = raw["baseline_characteristics"]
    base = bc[g].get("base")
    spec = bc.get("item_nonresponse")
    if spec is not None:
        var = _req(spec, "variable", "baseline_characteristics.item_nonresponse")
        if var not in ITEM_MISSING_VARIABLES:
            raise TargetError(f"targets: baseline_characteristics.item_nonresponse.variable = {var!r}; "
                              f"the generator models missing values of {list(ITEM_MISSING_VARIABLES)} only")
    if base is None:
        return
    where = f"baseline_characteristics.{g}.base"
    lo, hi = _req(base, "lowest", where), _req(base, "highest", where)
    if not (isinstance(lo, list) and isinstance(hi, list) and len(lo) == len(hi) == 4):
        raise TargetError(f"targets: {where}.lowest and .highest must each list 4 counts [population, sample, control, treatment]")
    for k, (a, b) in enumerate(zip(lo, hi)):
        _count(a, f"{where}.lowest[{k}]")
        _count(b, f"{where}.highest[{k}]")
        if a > b:
            raise TargetError(f"targets: {where}.lowest[{k}] = {a} exceeds highest[{k}] = {b}")
    n = [rand["treatment"] + rand["control"], resp["treatment"] + resp["control"], resp["control"], resp["treatment"]]
    if hi != n:
        raise TargetError(f"targets: {where}.highest = {hi} must be every recruit and respondent of Table 4-1, {n} "
                          "(population, sample, control, treatment): some characteristic is complete")
    if lo[1] != lo[2] + lo[3]:
        raise TargetError(f"targets: {where}.lowest: sample {lo[1]} is not control {lo[2]} + treatment {lo[3]}; "
                          "the kit models one characteristic with missing values, which has the lowest base in every column")
    nonresp = (hi[0] - lo[0]) - (hi[1] - lo[1])
    if not 0 <= nonresp <= n[0] - n[1]:
        raise TargetError(f"targets: {where}: {hi[0] - lo[0]} missing among all recruits but {hi[1] - lo[1]} among "
                          f"respondents leaves {nonresp} for the {n[0] - n[1]} non-respondents")
    if hi != lo and spec is None:
        raise TargetError(f"targets: {where} has missing values but baseline_characteristics.item_nonresponse names no variable")


#: significance bands of the prose (hlt_replicate.scorecard.band)
PROSE_BANDS = ("none", "weak", "significant")


def _primary_prose(block) -> None:
    """The optional ``primary_prose`` section: group (trial or pooled) -> primary outcome ->
    ``band`` (one of :data:`PROSE_BANDS`) and optionally ``effect_size``."""
    if block is None:
        return
    known = [*vocab.GROUPS, *vocab.POOLED_GROUPS]
    if not isinstance(block, dict):
        raise TargetError("targets: primary_prose must be a mapping of groups")
    for g, rows in block.items():
        if g in ("source", "line"):
            continue
        if g not in known:
            raise TargetError(f"targets: primary_prose.{g} is not a trial or pooled group {known}")
        if not isinstance(rows, dict):
            raise TargetError(f"targets: primary_prose.{g} must map primary outcomes to claims")
        for o, claim in rows.items():
            where = f"primary_prose.{g}.{o}"
            if o not in vocab.PRIMARY_OUTCOMES:
                raise TargetError(f"targets: {where}: {o!r} is not a primary outcome {list(vocab.PRIMARY_OUTCOMES)}")
            band = _req(claim, "band", where) if isinstance(claim, dict) else None
            if band not in PROSE_BANDS:
                raise TargetError(f"targets: {where}.band = {band!r}; expected one of {list(PROSE_BANDS)}")
            es = claim.get("effect_size")
            if es is not None and (isinstance(es, bool) or not isinstance(es, (int, float)) or es <= 0):
                raise TargetError(f"targets: {where}.effect_size = {es!r} must be a positive number (s.d.s, as printed)")


def _table_4_5_prose(claim) -> None:
    """The optional ``table_4_5.prose``: the band the prose gives every unadjusted
    difference (``none``: the generator keeps the differences whose row is lost inside it)
    and its level ``alpha``."""
    if claim is None:
        return
    where = "table_4_5.prose"
    if not isinstance(claim, dict):
        raise TargetError(f"targets: {where} must be a mapping with band and alpha")
    band = _req(claim, "band", where)
    if band != "none":
        raise TargetError(f"targets: {where}.band = {band!r}; the generator knows only 'none' (no difference significant)")
    alpha = _req(claim, "alpha", where)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise TargetError(f"targets: {where}.alpha = {alpha!r} must be a level between 0 and 1")


def _check_outcome(o: str, g: str, c, t, base, n_resp: int, section: str) -> None:
    meta = vocab.OUTCOMES[o]
    lo, hi = meta.bounds
    for arm, v in (("control", c), ("treatment", t)):
        if v is None:
            raise TargetError(f"targets: {section}.{g}.{o} {arm} mean is missing")
        if meta.binary:
            _prob(v, f"{section}.{g}.{o} {arm} mean")
        elif not lo <= v <= hi:
            raise TargetError(f"targets: {section}.{g}.{o} {arm} mean {v} lies outside the scale [{lo}, {hi}]")
    if base is None or base > n_resp:
        raise TargetError(f"targets: {section}.{g}.{o} base {base} exceeds the {n_resp} respondents of {g}")
    _count(base, f"{section}.{g}.{o} base")
