"""Flatten a targets file into one row per published, derived or assumed number.

Each row: ``id`` (a dotted path into the YAML, used by ``inconsistencies.exclude``),
``section``, ``table``, ``group``, ``arm``, ``variable``, ``statistic``, ``value`` (in printed
units), ``decimals``, ``unit`` (printed units per analysis unit: 100 for percentages),
``doc``/``line`` (source), ``kind`` (published / derived / assumed), ``target`` (True when
the generator calibrates to it; False for cells reproduced by the analysis modules and
compared in the scorecard), ``excluded`` (a published inconsistency) and ``slack`` (extra
tolerance in printed units, e.g. one case for weighted percentages).
"""
from __future__ import annotations

import pandas as pd

from hlt_replicate import vocab

from .targets import ARMS, IMPACT_COLUMNS, IMPACT_DECIMALS, PARTICIPATION_DECIMALS, Targets

BASELINE_COLUMNS = ("population", "sample", "control", "treatment", "p_value")


def _is_excluded(id_: str, excluded: set[str]) -> bool:
    """An id is excluded when listed, or when a listed id is a prefix of it (a whole row)."""
    return any(id_ == e or id_.startswith(e + ".") for e in excluded)


def flatten_targets(t: Targets) -> pd.DataFrame:
    raw, rows = t.raw, []
    excluded, untargeted = t.excluded(), t.untargeted()
    s = t.scale

    def add(id_, section, table, group, arm, variable, statistic, value, decimals, *, doc="R1033", line=None,
            kind="published", target=True, unit=1.0, slack=0.0, shrink=1.0):
        """``shrink`` scales a standard error and its tolerance for ``--scale`` (SE ~ 1/sqrt(n))."""
        if value is None or value == "":
            return
        if shrink != 1.0 and isinstance(value, (int, float)):
            value = value * shrink
        tol = 0.5 * 10.0**-decimals * shrink + slack
        rows.append(dict(id=id_, section=section, table=table, group=group, arm=arm, variable=variable,
                         statistic=statistic, value=value, decimals=decimals, unit=unit, doc=doc, line=line,
                         kind=kind, target=target and not _is_excluded(id_, untargeted),
                         excluded=_is_excluded(id_, excluded), tol=tol))

    d = raw["design"]
    for stat in ("randomised", "respondents"):
        for g in t.groups:
            for arm, a in ARMS.items():
                add(f"design.{stat}.{g}.{arm}", "design", "Table 4-1", g, a, None, stat, d[stat][g][arm] * s, 0, line=d[stat].get("line"))
    if "response_pct" in d:
        for g in t.groups:
            for arm, a in ARMS.items():
                add(f"design.response_pct.{g}.{arm}", "design", "Table 4-1", g, a, None, "response_pct",
                    d["response_pct"][g][arm], d["response_pct"].get("decimals", 1), line=d["response_pct"]["line"],
                    unit=100.0, target=False)  # follows from the counts
    for key, stat in (("total_randomised", "randomised"), ("total_respondents", "respondents")):
        if key in d:
            add(f"design.{key}", "design", "Table 4-1", "all", None, None, stat, d[key]["value"] * s, 0, line=d[key]["line"])

    for g in t.groups:
        block = raw["baseline_characteristics"][g]
        table = block["source"]["table"]
        for key, row in block["rows"].items():
            for col, v in zip(BASELINE_COLUMNS, row["values"]):
                add(f"baseline_characteristics.{g}.{key}.{col}", "baseline_characteristics", table, g,
                    {"control": 0, "treatment": 1}.get(col), key, col, v, 2, line=row["line"],
                    target=col == "population" or (col == "p_value" and s == 1))  # levels: scorecard only;
                # a p-value belongs to the trial's sample size, so not a target under --scale
            c, tr = row["values"][2], row["values"][3]
            if c is not None and tr is not None:  # derived: the printed arms pin T - C to +/-0.01
                add(f"baseline_characteristics.{g}.{key}.difference", "baseline_characteristics", table, g, None,
                    key, "difference", round(tr - c, 2), 2, line=row["line"], kind="derived", slack=0.005)
        base = block.get("base")
        if base:  # the "Base" ranges: lowest and highest non-missing counts across the rows, exact
            for end, stat in (("lowest", "base_min"), ("highest", "base_max")):
                for col, v in zip(BASELINE_COLUMNS, base[end]):
                    add(f"baseline_characteristics.{g}.base.{col}.{end}", "baseline_base", table, g,
                        {"control": 0, "treatment": 1}.get(col), col, stat, v * s, 0, line=base["line"])
        wh = raw["work_history"]
        published = {(p["group"], p["level"]) for p in wh.get("published", [])}
        for lv in vocab.WORK_HISTORY_LEVELS:
            pub = (g, lv) in published
            add(f"work_history.{g}.{lv}", "work_history", "§3.3.1", g, None, f"work_history={lv}", "sample",
                wh[g][lv], wh.get("decimals", 2), line=wh["source"]["line"] if pub else None, kind="published" if pub else "assumed")

    for name, m in raw["baseline_measures"].items():
        for g in t.groups:
            spec = t.measure(name, g)
            if name == "bl_eq5d":
                continue  # its population mean is a Tables 4-2..4-4 row
            kind = "derived" if m.get("derived") else "assumed"
            add(f"baseline_measures.{name}.{g}.mean", "baseline_measures", "baseline measures", g, None, name,
                "respondent_mean" if spec.get("respondents_only") else "population", spec["mean"],
                m.get("decimals", 2), line=None, kind=kind)

    tab = raw.get("table_4_5")
    if tab:
        for var, row in tab["rows"].items():
            for g in t.groups:
                if g not in row:
                    continue
                for col, dec, v in zip(tab["columns"], tab["decimals"], row[g]):
                    add(f"table_4_5.{var}.{g}.{col}", "table_4_5", "Table 4-5", g, None, var, col, v, dec,
                        line=row["line"], target=col != "p_wy", shrink=s**-0.5 if col == "se" else 1.0)

    for sect, table in (("ips_sessions", "Table 4-6"), ("first_session", "Table 4-7")):
        spec = raw.get(sect)
        if not spec:
            continue
        for g in t.groups:
            block = spec.get(g)
            if block is None:
                continue
            for col in ("all", "resp"):
                base = block["base"][col] * s
                for b, v, line in zip(spec["bins"], block[col], spec["lines"]):
                    add(f"{sect}.{g}.{col}.{b}", sect, table, g, 1, f"{sect}[{b}]", f"pct_{col}", v,
                        spec.get("decimals", 1), line=line, unit=100.0,
                        slack=100.0 / base if col == "all" else 0.0)  # weighted respondents: printed rounding
                add(f"{sect}.{g}.base.{col}", sect, table, g, 1, sect, f"base_{col}", base, 0, line=block["base"]["line"])
            if "mean" in block:
                for col in ("all", "resp"):
                    add(f"{sect}.{g}.mean.{col}", sect, table, g, 1, sect, f"mean_{col}", block["mean"][col], 1,
                        line=block["mean"]["line"])

    prim = raw["primary_outcomes"]
    part = raw.get("participation_impacts") or {}
    for g in t.groups:
        for o in vocab.PRIMARY_OUTCOMES:
            c, tr, imp, sd, base = prim[g][o]
            has_iv = o in part.get(g, {}).get("rows", {})
            for stat, v, arm, dec in (("control", c, 0, 2), ("treatment", tr, 1, 2), ("impact", imp, None, 2),
                                     ("sd", sd, None, 2), ("base", base * s if base is not None else None, None, 0)):
                add(f"primary_outcomes.{g}.{o}.{stat}", "primary_outcomes", "Figs (derived)", g, arm, o, stat, v, dec,
                    kind="derived", target=not (stat == "impact" and has_iv))
    from .pooled import common_slope_se, pooled_mean_reachable  # which pooled cells the generator can reach

    for g, block in raw["secondary_impacts"].items():
        if g not in vocab.ALL_GROUPS:
            continue
        table = block["source"]["table"]
        for o, row in block["rows"].items():
            for col, v in zip(IMPACT_COLUMNS, row["values"]):
                if col == "stars":
                    add(f"secondary_impacts.{g}.{o}.stars", "secondary_impacts", table, g, None, o, "stars", v or "none", 0,
                        line=row["line"], target=False)
                    continue
                val = v * s if col == "base" and v is not None else v
                # Pooled impacts, S.E.s and effect sizes (Tables 4-12, 4-15) are targets
                # (data_synth/pooled.py reaches them without moving the trial groups' cells),
                # except a pooled S.E. above what the groups' printed S.E.s and bases allow with
                # common covariate slopes: that one needs the groups' slopes to differ, which the
                # kit's outcome model does not build in (compared in the scorecard instead); and a
                # pooled raw mean that no choice of group means inside their rounding reaches
                # (e.g. after editing a group's base; the published ones listed in
                # `inconsistencies` are excluded there).
                target = True
                if g in vocab.POOLED_GROUPS and col in ("control", "treatment") and v is not None:
                    target = pooled_mean_reachable(t, g, o, {"control": 0, "treatment": 1}[col], v)
                if g in vocab.POOLED_GROUPS and col == "se" and v is not None:
                    half = 0.5 * 10.0 ** -IMPACT_DECIMALS["se"]
                    reach = common_slope_se(raw["secondary_impacts"], g, o, half)
                    target = reach is not None and reach[0] - half <= v <= reach[1] + half
                add(f"secondary_impacts.{g}.{o}.{col}", "secondary_impacts", table, g,
                    {"control": 0, "treatment": 1}.get(col), o, col, val, IMPACT_DECIMALS[col], line=row["line"],
                    shrink=s**-0.5 if col == "se" else 1.0, target=target)
    for g, block in part.items():
        if g not in vocab.ALL_GROUPS:
            continue
        table = block["source"]["table"]
        for o, row in block["rows"].items():
            for col, v in zip(("impact", "se", "sd_s", "stars", "base"), row["values"]):
                if col == "stars":
                    add(f"participation_impacts.{g}.{o}.stars", "participation_impacts", table, g, None, o, "stars",
                        v or "none", 0, line=row["line"], target=False)
                    continue
                val = v * s if col == "base" else v
                add(f"participation_impacts.{g}.{o}.{col}", "participation_impacts", table, g, None, o, f"iv_{col}", val,
                    PARTICIPATION_DECIMALS[col], line=row["line"], shrink=s**-0.5 if col == "se" else 1.0,
                    target=g not in vocab.POOLED_GROUPS or col == "base")

    adm = raw.get("admin_12m") or {}
    for g in t.groups:
        spec = adm.get(g)
        if not spec:
            continue
        kind = "assumed" if spec.get("assumed") else "published"
        add(f"admin_12m.{g}.impact", "admin_12m", "Blog Table 1", g, None, vocab.SUSTAINED_EMP_12M, "impact",
            spec["impact"], adm.get("decimals", 2), doc="BLOG", line=spec.get("line"), kind=kind)
        add(f"admin_12m.{g}.control_rate", "admin_12m", "Blog Table 1", g, 0, vocab.SUSTAINED_EMP_12M, "control",
            spec["control_rate"], adm.get("decimals", 2), doc="BLOG", kind="assumed")
        add(f"admin_12m.{g}.stars", "admin_12m", "Blog Table 1", g, None, vocab.SUSTAINED_EMP_12M, "stars",
            spec.get("stars") or "none", 0, doc="BLOG", line=spec.get("line"), kind=kind, target=False)
    return pd.DataFrame(rows)
