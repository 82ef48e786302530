"""The replication report: one self-contained HTML file (inline CSS, charts as base64 PNG,
no scripts, no external resources), readable in a browser without a server or network.

:func:`write_report` takes a :class:`hlt_replicate.run.RunResult`; :func:`render_report` returns
the HTML text. Sections: summary, scorecard by table (chart and table), what the calibration
has not reached (misses grouped by reason), sampling variation (sampled mode), the audit of
the reports (findings, cross-check with the targets file), notebooks, the full scorecard,
provenance (seed, parameters, package versions, timings).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .scorecard import DOC_TITLES, STATUSES, match_rate, misses_by_reason, summary_by_table

STATUS_COLOURS = {"match": "#2e7d32", "close": "#f9a825", "miss": "#c62828", "published-inconsistent": "#757575"}
AUDIT_COLOURS = {"consistent": "#2e7d32", "inconsistent": "#c62828", "convention": "#1565c0", "notable": "#f9a825"}

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1180px;padding:1.2em 2em;color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.1em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
h3{margin-top:1.3em}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;font-size:.86em;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 6px;vertical-align:top;text-align:left}
th{background:#f3f3f3}tr:nth-child(even) td{background:#fafafa}
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:150px}
.card b{font-size:1.6em;display:block}.ok{color:#2e7d32}.bad{color:#c62828}.warn{color:#b26a00}
.status-match{color:#2e7d32;font-weight:600}.status-close{color:#b26a00;font-weight:600}.status-miss{color:#c62828;font-weight:600}
.status-published-inconsistent{color:#616161;font-weight:600}.status-inconsistent{color:#c62828;font-weight:600}
.status-convention{color:#1565c0;font-weight:600}.status-notable{color:#b26a00;font-weight:600}.status-consistent{color:#2e7d32}
.status-ok{color:#2e7d32;font-weight:600}.status-failed{color:#c62828;font-weight:600}
img{max-width:100%;height:auto;border:1px solid #eee}details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
code{background:#f5f5f5;padding:0 3px}.note{font-size:.9em;color:#555}
"""


# =========================================================================================
# Charts
# =========================================================================================
def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def fig_status_by_table(card: pd.DataFrame):
    """Horizontal stacked bars: cells of each published table by status."""
    plt = _mpl()
    tab = summary_by_table(card)[list(STATUSES)]
    fig, ax = plt.subplots(figsize=(9, 0.26 * len(tab) + 1.2))
    left = np.zeros(len(tab))
    y = np.arange(len(tab))[::-1]
    for s in STATUSES:
        ax.barh(y, tab[s].to_numpy(), left=left, color=STATUS_COLOURS[s], label=s, height=0.75)
        left += tab[s].to_numpy()
    ax.set_yticks(y, tab.index, fontsize=8)
    ax.set_xlabel("published cells")
    ax.legend(ncol=4, fontsize=8, loc="lower right", frameon=False, bbox_to_anchor=(1, 1))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _family(table: str) -> str:
    for key, fam in (("Table 4-1", "Table 4-1"), ("Table 4-2", "Tables 4-2..4-4"), ("Table 4-3", "Tables 4-2..4-4"),
                     ("Table 4-4", "Tables 4-2..4-4"), ("Table 4-5", "Table 4-5"), ("Table 4-6", "Tables 4-6, 4-7"),
                     ("Table 4-7", "Tables 4-6, 4-7"), ("RAND", "RAND Tables 1-4"), ("Blog", "Blog Table 1")):
        if table.startswith(key):
            return fam
    if table.startswith("Table 4-"):
        return "Tables 4-8..4-15"
    if table.startswith("§4.3") or table.startswith("Ch. 5"):
        return "prose (§4.3, ch. 5)"
    return "chapter 3 and other prose"


def fig_deviation(card: pd.DataFrame):
    """Reproduced minus published, in units of the last printed decimal (|x| <= 0.5: match;
    <= 1: close), one dot per numeric cell, by table family."""
    plt = _mpl()
    sub = card[(card["status"] != "published-inconsistent") & card["value"].notna()].copy()
    sub["pub"] = pd.to_numeric(sub["published"].str.replace(",", ""), errors="coerce")
    sub = sub[sub["pub"].notna()]
    sub["dev"] = ((sub["value"] - sub["pub"]) / 10.0 ** -sub["decimals"].astype(float)).clip(-6, 6)
    fams = list(dict.fromkeys(_family(t) for t in card["table"]))
    sub["fam"] = sub["table"].map(_family)
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(fams) + 1.3))
    ax.axvspan(-0.5, 0.5, color="#2e7d32", alpha=0.12, lw=0)
    ax.axvspan(-1, -0.5, color="#f9a825", alpha=0.12, lw=0)
    ax.axvspan(0.5, 1, color="#f9a825", alpha=0.12, lw=0)
    rng = np.random.default_rng(0)
    for i, f in enumerate(fams):
        part = sub[sub["fam"] == f]
        yy = len(fams) - 1 - i + rng.uniform(-0.28, 0.28, len(part))
        ax.scatter(part["dev"], yy, s=9, c=[STATUS_COLOURS[s] for s in part["status"]], alpha=0.75, lw=0)
    ax.set_yticks(range(len(fams))[::-1], fams, fontsize=8)
    ax.set_xlabel("reproduced − published, in units of the last printed decimal (clipped at ±6)")
    ax.set_xlim(-6.3, 6.3)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def fig_sampled_rates(per_seed: pd.DataFrame):
    plt = _mpl()
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.bar(per_seed["seed"].astype(str), 100 * per_seed["match_rate"], color="#5c6bc0")
    ax.axhline(100 * per_seed["match_rate"].mean(), color="#222", lw=1, ls="--", label="mean over seeds")
    ax.set_ylabel("match rate (%)")
    ax.set_xlabel("seed (sampled mode)")
    ax.set_ylim(0, 100)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=8, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def fig_sampled_impacts(cards: pd.DataFrame, main: pd.DataFrame):
    """Impacts of Tables 4-8/4-10/4-14 over the seeds, in published S.E. from the printed impact."""
    plt = _mpl()
    imp = main[(main["section"] == "secondary_impacts") & (main["statistic"] == "impact") & (main["group"].isin(["SCR_IW", "SCR_OOW", "WMCA_OOW"]))]
    se = main[(main["section"] == "secondary_impacts") & (main["statistic"] == "se")].set_index(["group", "row"])["published"].astype(float)
    rows = []
    for r in imp.itertuples():
        vals = cards.loc[cards["id"] == r.id, "value"].to_numpy(float)
        s = se.get((r.group, r.row), np.nan)
        rows.append((f"{r.table}: {r.row}", (vals - float(r.published)) / s))
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.2))
    ax.axvspan(-1.96, 1.96, color="#90caf9", alpha=0.25, lw=0, label="±1.96 published S.E.")
    for i, (lab, z) in enumerate(rows):
        y = len(rows) - 1 - i
        ax.scatter(z, np.full(len(z), y), s=8, color="#3949ab", alpha=0.6, lw=0)
    ax.axvline(0, color="#222", lw=0.8)
    ax.set_yticks(range(len(rows))[::-1], [r[0] for r in rows], fontsize=7)
    ax.set_xlabel("(reproduced impact − printed impact) / printed S.E., one dot per seed")
    ax.legend(fontsize=8, frameon=False, loc="lower right", bbox_to_anchor=(1, 1))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# =========================================================================================
# HTML
# =========================================================================================
def _e(x) -> str:
    return html.escape("" if x is None or (isinstance(x, float) and np.isnan(x)) else str(x))


def _table(df: pd.DataFrame, status_cols: tuple[str, ...] = ("status",), max_rows: int | None = None) -> str:
    if max_rows is not None:
        df = df.head(max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        tds = []
        for c, v in zip(df.columns, row):
            cls = f' class="status-{_e(v)}"' if c in status_cols else ""
            tds.append(f"<td{cls}>{_e(v)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(src: str, alt: str) -> str:
    return f'<p><img src="{src}" alt="{_e(alt)}"></p>'


def render_report(result) -> str:
    """The report's HTML text for a :class:`hlt_replicate.run.RunResult`."""
    card, audit, p = result.scorecard, result.audit, result.params
    mr = match_rate(card)
    fnd = audit[audit["status"] != "consistent"]
    nb = result.notebooks
    failed = [n for n in nb if n.status == "failed"]
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>HLT replication report</title><style>{CSS}</style></head><body>"]
    parts.append("<h1>HLT replication report</h1>")
    parts.append(f"<p class=\"sub\">hlt-replicate {_e(result.manifest.get('version'))} — seed {p['seed']}, {_e(p['mode'])} mode, "
                 f"Westfall–Young with {p['reps']:,} permutations, stars under {_e(p['stars'])}"
                 + (f", {p['n_seeds']} seeds" if p["mode"] == "sampled" else "") + "</p>")
    parts.append("<p>Every number the kit can speak to in the 4-month report (DWP RR 1033), the IES blog on the 12-month results and "
                 "RAND Europe's business cases, beside the value the kit reproduces from its synthetic trial with its own analysis "
                 "modules; and an arithmetic audit of the published tables. The trial is synthetic: it reproduces published "
                 "marginals, not any real person.</p>")

    # summary cards
    parts.append("<div class=\"cards\">")
    parts.append(f"<div class=\"card\"><b class=\"{'ok' if mr['match_rate'] > 0.99 else 'warn'}\">{100 * mr['match_rate']:.1f}%</b>"
                 f"match rate: {mr['match']:,} of {mr['reproducible']:,} reproducible cells</div>")
    parts.append(f"<div class=\"card\"><b>{mr['close']:,} / {mr['miss']:,}</b>close / miss</div>")
    parts.append(f"<div class=\"card\"><b>{mr['published_inconsistent']:,}</b>published-inconsistent cells (not scored)</div>")
    parts.append(f"<div class=\"card\"><b>{len(fnd):,}</b>audit findings in {len(audit):,} checks</div>")
    cross = result.crosscheck
    parts.append(f"<div class=\"card\"><b class=\"{'ok' if cross['rediscovered'].all() else 'bad'}\">{int(cross['rediscovered'].sum())}/{len(cross)}</b>"
                 "listed inconsistencies rediscovered by the audit</div>")
    parts.append(f"<div class=\"card\"><b class=\"{'bad' if failed else 'ok'}\">{sum(n.status == 'ok' for n in nb)}/{len(nb)}</b>notebooks ran"
                 + (f" — <span class=\"bad\">{len(failed)} failed</span>" if failed else "") + "</div>")
    parts.append("</div>")
    parts.append("<p class=\"note\">Status: <b>match</b> — the reproduced value rounds to the printed one; <b>close</b> — within one "
                 "published S.E. (impacts with an S.E. in the same row) or one unit of the last printed decimal (one step for stars "
                 "and significance bands); <b>miss</b> — otherwise; <b>published-inconsistent</b> — no dataset could produce the "
                 "printed value (the note says why); not counted in the match rate. Sources: "
                 + "; ".join(f"<code>{_e(k)}</code> {_e(v)}" for k, v in (("004", DOC_TITLES["R1033"]), ("001", DOC_TITLES["BLOG"]),
                                                                           ("002", DOC_TITLES["RAND"]))) + ". The <code>source</code> column is file:line.</p>")
    if failed:
        parts.append("<p class=\"bad\"><b>Notebooks failed:</b> " + ", ".join(_e(f"{n.name} ({n.error})") for n in failed) + "</p>")

    toc = [("scorecard", "Scorecard by table"), ("misses", "What the calibration has not reached")]
    if result.spread is not None:
        toc.append(("sampled", "Sampling variation"))
    toc += [("audit", "The audit of the reports"), ("notebooks", "Notebooks"), ("full", "Full scorecard"), ("provenance", "Provenance")]
    parts.append("<p>" + " · ".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in toc) + "</p>")

    # scorecard by table
    parts.append("<h2 id=\"scorecard\">Scorecard by table</h2>")
    parts.append(_img(_png(fig_status_by_table(card)), "cells by table and status"))
    parts.append(_img(_png(fig_deviation(card)), "reproduced minus published"))
    tab = summary_by_table(card).reset_index()
    parts.append(_table(tab))

    # misses
    parts.append("<h2 id=\"misses\">What the calibration has not reached</h2>")
    mb = misses_by_reason(card)
    if mb.empty:
        parts.append("<p class=\"ok\">Every reproducible cell matches.</p>")
    else:
        parts.append("<p>Close and missed cells grouped by reason — the list of what to calibrate next.</p>")
        parts.append(_table(mb, status_cols=()))
        miss = card[card["status"].isin(["close", "miss"])][["source", "table", "row", "group", "arm", "statistic", "published", "reproduced", "status", "note"]]
        parts.append(f"<details><summary>The {len(miss):,} close and missed cells</summary>{_table(miss)}</details>")
    dis = result.disputed
    if dis is not None and len(dis):
        parts.append("<h3>Cells the targets file excludes but arithmetic allows</h3><p>Listed under <code>inconsistencies</code> in the "
                     "targets file, but the audit finds a dataset that prints them (at the edge of rounding). The scorecard scores them.</p>")
        parts.append(_table(dis, status_cols=()))

    # sampled mode
    if result.spread is not None:
        per_seed, per_cell = result.spread
        parts.append("<h2 id=\"sampled\">Sampling variation (sampled mode)</h2>")
        parts.append(f"<p>The same data-generating process without the final calibration, for {len(per_seed)} seeds. Even with the "
                     f"true effects of the calibrated trial, a new draw of 9,785 recruits moves every estimate: the match rate ranges "
                     f"from {100 * per_seed['match_rate'].min():.1f}% to {100 * per_seed['match_rate'].max():.1f}% "
                     f"(mean {100 * per_seed['match_rate'].mean():.1f}%). Impacts scatter around the printed values roughly within "
                     f"their published standard errors — what a confidence interval means.</p>")
        parts.append(_img(_png(fig_sampled_rates(per_seed)), "match rate by seed"))
        cards = getattr(result, "sampled_cards", None)
        if cards is not None:
            parts.append(_img(_png(fig_sampled_impacts(cards, card)), "impacts over seeds"))
        show = per_cell[per_cell["statistic"].isin(["impact", "iv_impact", "diff"])].copy()
        for c in ("mean", "sd", "min", "max"):
            show[c] = show[c].map(lambda v: f"{v:.3f}")
        show["match_share"] = show["match_share"].map(lambda v: f"{100 * v:.0f}%")
        parts.append(f"<details><summary>Impacts over the seeds ({len(show)} cells)</summary>{_table(show, status_cols=())}</details>")
        ps = per_seed.copy()
        ps["match_rate"] = ps["match_rate"].map(lambda v: f"{100 * v:.1f}%")
        ps["match_or_close_rate"] = ps["match_or_close_rate"].map(lambda v: f"{100 * v:.1f}%")
        parts.append(f"<details><summary>Per seed</summary>{_table(ps, status_cols=())}</details>")

    # audit
    parts.append("<h2 id=\"audit\">The audit of the reports</h2>")
    by_status = audit["status"].value_counts()
    parts.append(f"<p>{len(audit):,} arithmetic checks on the published tables and prose: "
                 + ", ".join(f"<span class=\"status-{s}\">{int(by_status.get(s, 0))} {s}</span>" for s in ("consistent", "inconsistent", "convention", "notable"))
                 + ". <b>inconsistent</b>: no dataset could produce the printed cells; <b>convention</b>: holds under one stated convention "
                 "only; <b>notable</b>: possible but at odds with the text or table around it.</p>")
    f = fnd[["id", "doc", "line", "table", "cell", "printed", "arithmetic", "status", "treatment"]]
    parts.append(_table(f))
    parts.append("<h3>Cross-check with the targets file's inconsistencies</h3>")
    parts.append(_table(cross.rename(columns={"rediscovered": "rediscovered by the audit", "by": "findings"}), status_cols=()))
    checks = audit.groupby(["check", "status"]).size().unstack(fill_value=0).reset_index()
    parts.append(f"<details><summary>All checks by kind</summary>{_table(checks, status_cols=())}</details>")

    # notebooks
    parts.append("<h2 id=\"notebooks\">Notebooks</h2>")
    if not nb:
        parts.append(f"<p>No notebook executed (<code>--notebooks {_e(p['notebooks'])}</code>).</p>")
    else:
        rows = pd.DataFrame([{"notebook": n.name, "status": n.status, "seconds": f"{n.seconds:.1f}",
                              "executed copy": str(Path("notebooks") / n.output.name) if n.output else "",
                              "failing cell": "" if n.cell is None else n.cell, "error": n.error} for n in nb])
        parts.append(_table(rows))
        parts.append("<p class=\"note\">Parameters reach the notebooks as environment variables: "
                     + ", ".join(f"<code>{_e(k)}</code>" for k in result.manifest.get("env_for_notebooks", [])) + ".</p>")

    # full scorecard
    parts.append("<h2 id=\"full\">Full scorecard</h2>")
    parts.append(f"<details><summary>All {len(card):,} cells (also in <code>scorecard.csv</code>)</summary>"
                 f"{_table(card[['source', 'table', 'row', 'group', 'arm', 'statistic', 'published', 'reproduced', 'decimals', 'status', 'note']])}</details>")

    # provenance
    parts.append("<h2 id=\"provenance\">Provenance</h2>")
    m = result.manifest
    prov = [("seed", p["seed"]), ("mode", p["mode"]), ("Westfall–Young permutations", f"{p['reps']:,}"), ("star convention", p["stars"]),
            ("notebooks", p["notebooks"]), ("targets file", f"{m.get('trial', {}).get('targets', {}).get('file')} "
                                                            f"(sha256 {m.get('trial', {}).get('targets', {}).get('sha256', '')[:16]}…)"),
            ("recruits.csv sha256", (m.get("trial", {}).get("files", {}) or {}).get("recruits.csv", {}).get("sha256", "")),
            ("platform", m.get("platform")), ("command", "hlt-replicate run " + " ".join(m.get("argv") or []))]
    prov += [(f"version: {k}", v) for k, v in (m.get("versions") or {}).items()]
    prov += [(f"time: {k}", f"{v:.1f} s") for k, v in result.timings.items()]
    parts.append(_table(pd.DataFrame(prov, columns=["", "value"]), status_cols=()))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(result, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_report(result), encoding="utf-8")
    return path
