"""Every published value in the targets file appears on the line of the source it cites."""
from __future__ import annotations

import re

import pytest

from data_synth import load_targets

TARGETS = load_targets()


def _printed_forms(value, decimals: int) -> set[str]:
    """How a value may be printed: fixed decimals, thousands separators, '0.010' as '0.01'."""
    if isinstance(value, str):
        return {value}
    forms = set()
    for d in {decimals, max(decimals - 1, 0), decimals + 1}:
        s = f"{value:.{d}f}"
        forms |= {s, f"{value:,.{d}f}"}
    if float(value).is_integer():
        forms |= {str(int(value)), f"{int(value):,}"}
    return forms


def _cells(line: str) -> set[str]:
    """Cells of a line; a printed range ("675-683", the tables' bases) gives both ends."""
    text = re.sub(r"<[^>]+>", "", line)
    return {c.strip() for c in re.split(r"[\t ]+|(?<=\d)-(?=\d)", text) if c.strip()}


def published_rows():
    flat = TARGETS.flat()
    pub = flat[(flat.kind == "published") & flat.line.notna()]
    return [r for _, r in pub.iterrows()]


def test_there_are_many_published_values():
    assert len(published_rows()) > 600


def test_every_value_is_on_its_cited_line(seeds):
    lines = {}
    for key, src in TARGETS.raw["sources"].items():
        lines[key] = (seeds / src["file"]).read_text(encoding="utf-8").split("\n")
    problems = []
    for r in published_rows():
        if r.statistic == "stars":
            continue
        text = lines[r.doc][int(r.line) - 1]
        value = r.value
        if r.statistic in ("randomised", "respondents", "base_all", "base_resp") and TARGETS.scale == 1:
            value = int(value)
        if r.section == "work_history":  # printed as a percentage in the prose
            ok = f"{round(value * 100):d}%" in text
        elif r.doc == "BLOG":
            ok = f"{round(abs(value) * 100):d}ppt" in text
        else:
            ok = bool(_printed_forms(value, int(r.decimals)) & _cells(text)) or any(
                f in text for f in _printed_forms(value, int(r.decimals)) if len(f) >= 4
            )
        if not ok:
            problems.append(f"{r.id}: {value!r} not on {r.doc} line {int(r.line)}: {text[:120]!r}")
    assert not problems, "\n".join(problems[:20])


@pytest.mark.parametrize("inc", TARGETS.raw["inconsistencies"], ids=lambda i: i["id"])
def test_inconsistencies_are_documented(inc):
    for key in ("doc", "table", "cell", "printed", "arithmetic"):
        assert inc.get(key), f"{inc['id']} lacks {key}"
    flat_ids = set(TARGETS.flat().id)
    for ex in inc.get("exclude") or []:
        assert any(i == ex or i.startswith(ex + ".") for i in flat_ids), f"{ex} matches no target"


def test_check_would_catch_a_mistyped_value(seeds):
    """The matcher is not vacuous: a value one printed unit off is not found on its line."""
    lines = (seeds / TARGETS.raw["sources"]["R1033"]["file"]).read_text(encoding="utf-8").split("\n")
    misses = 0
    rows = [r for r in published_rows() if r.doc == "R1033" and r.statistic in ("control", "treatment", "impact", "se")]
    for r in rows[:40]:
        wrong = r.value + 10.0 ** -int(r.decimals) * 3
        if not (_printed_forms(wrong, int(r.decimals)) & _cells(lines[int(r.line) - 1])):
            misses += 1
    assert misses >= 35


@pytest.mark.parametrize("entry", TARGETS.raw.get("untargeted") or [], ids=lambda e: e["id"])
def test_untargeted_cells_are_documented_and_exist(entry):
    """Each `untargeted` entry says why, and names cells that exist and are then not targets."""
    assert entry.get("why") and entry.get("cells"), f"{entry['id']} lacks why or cells"
    flat = TARGETS.flat().set_index("id")
    for cell in entry["cells"]:
        assert cell in flat.index, f"{cell} matches no published cell"
        assert not flat.loc[cell, "target"], f"{cell} is listed untargeted but is still a target"
