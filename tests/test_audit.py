"""The arithmetic audit of the published tables: it finds what is wrong, and only that."""
from __future__ import annotations

import copy

import pytest

from hlt_replicate.audit import AUDIT_COLUMNS, STATUSES, audit_reports, crosscheck_inconsistencies, findings
from hlt_replicate.scorecard import disputed_exclusions, load_extra, load_targets

RAW = load_targets().raw


@pytest.fixture(scope="module")
def audit():
    return audit_reports()


def _by_id(aud):
    return aud.set_index("id")


def test_audit_shape(audit):
    assert tuple(audit.columns) == AUDIT_COLUMNS
    assert audit["id"].is_unique
    assert set(audit["status"]) <= set(STATUSES)
    assert len(audit) > 300
    f = findings(audit)
    assert 0 < len(f) < len(audit)
    for col in ("table", "cell", "printed", "arithmetic", "treatment"):
        assert (f[col].astype(str).str.len() > 0).all(), col
    assert (audit.loc[audit["exclude"], "status"] == "inconsistent").all()


def test_every_listed_inconsistency_is_rediscovered(audit):
    cross = crosscheck_inconsistencies(audit)
    assert len(cross) == len(RAW["inconsistencies"])
    assert cross["rediscovered"].all(), cross[~cross["rediscovered"]]


def test_known_findings(audit):
    a = _by_id(audit)
    # duplicated row (Table 4-5): SWEMWBS repeats "Looking for work"
    assert a.loc["dup-Table-4-5-bl_swemwbs", "status"] == "inconsistent"
    assert a.loc["dup-Table-4-5-bl_swemwbs", "cells"] == ("table_4_5.bl_swemwbs",)
    # impossible base (Table 4-12 life satisfaction) and the copied row
    assert a.loc["Table4-12-lifesat-base", "status"] == "inconsistent"
    assert "3,464" in a.loc["Table4-12-lifesat-base", "arithmetic"]
    assert a.loc["Table4-12-lifesat-pooled-base", "status"] == "inconsistent"
    assert "3,436" in a.loc["Table4-12-lifesat-pooled-base", "arithmetic"]
    # impossible effect sizes (Tables 4-11, 4-13)
    for t, o in (("4-11", "eq5d"), ("4-11", "swemwbs"), ("4-13", "eq5d"), ("4-13", "swemwbs")):
        assert a.loc[f"Table{t}-{o}-sds", "status"] == "inconsistent"
    assert a.loc["Table4-9-swemwbs-sds", "status"] == "consistent"  # 0.86 = 0.19 sd is fine
    # impossible means (Table 4-6 "All") and the prose restating them
    for g in ("SCR_IW", "SCR_OOW", "WMCA_OOW", "all"):
        assert a.loc[f"t4_6-{g}-all-mean", "status"] == "inconsistent"
        assert a.loc[f"t4_6-{g}-resp-mean", "status"] == "consistent"
    assert a.loc["prose-s4_2_2.mean_all_max", "status"] == "inconsistent"  # "between 7.0 and 8.8"
    assert a.loc["prose-s4_2_2.nonpart_scr_iw-label", "status"] == "notable"  # "7.0% for the OOW group"
    # the blog's WMCA wellbeing "0.9 sd" against its own prose
    assert a.loc["blog-wellbeing-order", "status"] == "inconsistent"
    assert a.loc["blog-health-order", "status"] == "consistent"
    # prose "none of the differences is statistically significant" vs WMCA EQ5D5L 0.023/0.010
    assert a.loc["prose-s421.t45_raw.WMCA_OOW", "status"] == "inconsistent"
    assert a.loc["prose-s421.t45_raw.SCR_IW", "status"] == "consistent"
    # chapter 3 and chapter 4 split SCR's respondents differently
    assert a.loc["ch3-vs-t4-1-groups", "status"] == "inconsistent"
    assert "17 respondents" in a.loc["ch3-vs-t4-1-groups", "arithmetic"]
    # Total columns: the plain counts are the base-weighted average of the groups; the
    # respondents' columns are survey-weighted, so any group shares that fit every cell will do
    # (the base-weighted average misses Table 4-7's bins 1, 3 and 5)
    assert a.loc["t4_7-total-all-average", "status"] == "consistent"
    assert a.loc["t4_7-total-resp-average", "status"] == "consistent"
    assert "survey-weighted" in a.loc["t4_7-total-resp-average", "arithmetic"]
    assert a.loc["prose-s4_2_2.first_week_resp", "status"] == "consistent"  # "more than 30%"
    assert a.loc["prose-s4_2_2.first_week_all", "status"] == "consistent"
    # Table 4-7's base against Table 4-6's zero-session share: a count for all recruits, a
    # weighted share (no whole count) for respondents
    assert a.loc["t4_7-SCR_IW-all-base-vs-t4_6", "status"] == "consistent"
    assert a.loc["t4_7-SCR_IW-resp-base-vs-t4_6", "status"] == "consistent"


def test_weighted_total_column_no_group_shares_fit():
    """A respondents' Total that no weighting of the groups reproduces is still caught."""
    import numpy as np

    from hlt_replicate.audit import _group_share_range

    P = np.array([[16.2, 23.1], [19.1, 26.8], [51.0, 28.8]])
    assert _group_share_range(P, np.array([30.1, 26.6]), 0) is not None
    assert _group_share_range(P, np.array([60.0, 26.6]), 0) is None  # above every group's 1-week share
    extra = copy.deepcopy(load_extra())
    for c in extra["cells"]:
        if c["id"] == "t4_7.total.resp.1":
            c["value"] = 60.0
    a = _by_id(audit_reports(extra=extra, rand=False))
    assert a.loc["t4_7-total-resp-average", "status"] == "inconsistent"
    assert "extra.t4_7.total.resp.1" in a.loc["t4_7-total-resp-average", "cells"]


def test_arithmetic_that_holds_is_consistent(audit):
    a = _by_id(audit)
    for i in ("t4-1-randomised-total", "t4-1-respondents-total", "t4-1-pct-total", "prose-t4_1.prose.randomised_t",
              "t4_6-total-all-base", "ch3.in_work.all-total", "ch3-scr-always", "Table4-15-lifesat-pooled-base"):
        assert a.loc[i, "status"] == "consistent", i
    shares = audit[audit["check"] == "shares sum to one"]
    assert len(shares) > 40 and (shares["status"] == "consistent").all()


def test_star_conventions(audit):
    a = _by_id(audit)
    stars = audit[audit["check"] == "stars vs impact/S.E."]
    assert len(stars) == 54
    # the copied row's three stars are impossible under footnote 15 (t <= 3.13)
    assert a.loc["Table4-12-lifesat-stars", "status"] == "convention"
    assert "§4.3" in a.loc["Table4-12-lifesat-stars", "treatment"]
    # "weak evidence" for a one-star cell is §4.3's 10% level, not footnote 15's 5%
    assert a.loc["prose-s431.gse-band", "status"] == "convention"
    assert "§4.3" in a.loc["prose-s431.gse-band", "arithmetic"].split("fits:")[-1]
    assert "footnote 15" not in a.loc["prose-s431.gse-band", "arithmetic"].split("fits:")[-1]
    assert a.loc["star-conventions", "status"] == "convention"


def test_rand_findings_included(audit):
    rand = audit[audit["doc"] == "RAND"]
    assert len(rand) >= 15
    assert {"convention", "notable", "consistent"} <= set(rand["status"])


def test_disputed_exclusions(audit):
    """Every cell the targets file excludes is one the audit finds impossible (the two Table
    4-12 means printable at the edge of rounding are targets now, not exclusions)."""
    dis = disputed_exclusions(audit)
    assert dis.empty, dis
    # the check is not vacuous: listing a printable cell as inconsistent is disputed
    t = load_targets()
    raw = copy.deepcopy(t.raw)
    entry = next(e for e in raw["inconsistencies"] if e["id"] == "t4-12-pooled-means")
    entry["exclude"].append("secondary_impacts.SCR.work16.treatment")
    dis = disputed_exclusions(audit, type(t)(raw, t.path, t.digest, t.scale))
    assert set(dis["cell"]) == {"secondary_impacts.SCR.work16.treatment"}
    assert set(dis["entry"]) == {"t4-12-pooled-means"}


# -- the audit follows the transcription: fix a printed error and the finding goes -------------
def _audit(mutate):
    raw = copy.deepcopy(RAW)
    extra = copy.deepcopy(load_extra())
    mutate(raw, extra)
    return _by_id(audit_reports(targets=raw, extra=extra, rand=False))


def test_findings_follow_the_numbers():
    def fix_swemwbs(raw, extra):
        raw["table_4_5"]["rows"]["bl_swemwbs"] = {"line": 2679, "SCR_IW": [0.12, 0.23, 0.97], "SCR_OOW": [0.05, 0.2, 0.9],
                                                  "WMCA_OOW": [0.1, 0.2, 0.8]}
    assert not any(i.startswith("dup-Table-4-5") for i in _audit(fix_swemwbs).index)

    def fix_base(raw, extra):
        raw["secondary_impacts"]["SCR"]["rows"]["lifesat"]["values"][-1] = 3436
    a = _audit(fix_base)
    assert "Table4-12-lifesat-base" not in a.index
    assert a.loc["Table4-12-lifesat-pooled-base", "status"] == "consistent"

    def break_total(raw, extra):
        raw["design"]["total_randomised"]["value"] = 9786
    assert _audit(break_total).loc["t4-1-randomised-total", "status"] == "inconsistent"

    def fix_mean(raw, extra):
        raw["ips_sessions"]["SCR_IW"]["mean"]["all"] = 9.5
    assert _audit(fix_mean).loc["t4_6-SCR_IW-all-mean", "status"] == "consistent"

    def fix_sds(raw, extra):
        raw["participation_impacts"]["SCR_OOW"]["rows"]["swemwbs"]["values"][2] = 0.08
    assert _audit(fix_sds).loc["Table4-11-swemwbs-sds", "status"] == "consistent"

    def fix_blog(raw, extra):
        next(c for c in extra["cells"] if c["id"] == "blog.t1.wmca.wellbeing")["value"] = 0.09
    assert _audit(fix_blog).loc["blog-wellbeing-order", "status"] == "consistent"

    def break_shares(raw, extra):
        raw["baseline_characteristics"]["SCR_IW"]["rows"]["qual=gcse"]["values"][1] = 0.36
    assert _audit(break_shares).loc["t4_2-qual-sample-sum", "status"] == "inconsistent"
