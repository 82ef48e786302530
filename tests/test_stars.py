"""Exact mode's aim at the impact tables' stars (data_synth.stars)."""
from __future__ import annotations

import math

import pytest
from scipy import stats

from data_synth.stars import _adjusted_band, se_band
from data_synth.targets import load_targets

T = load_targets()


def test_bands_are_inside_the_convention():
    assert _adjusted_band("***")[0] == 0.0 and 0.005 < _adjusted_band("***")[1] < 0.01
    lo, hi = _adjusted_band("**")
    assert 0.01 < lo < hi < 0.05
    assert 0.1 < _adjusted_band("")[0] and _adjusted_band("")[1] == 1.0


def _sidak_stars(coef, se, m):
    p = 2 * stats.norm.sf(abs(coef) / se)
    adj = 1 - (1 - p) ** m
    return "***" if adj < 0.01 else "**" if adj < 0.05 else "*" if adj < 0.1 else ""


@pytest.mark.parametrize("group,outcome,coef,m", [
    ("SCR_OOW", "jsse", 0.10, 8),      # Table 4-10: printed none; 0.10 / 0.04 alone gives *
    ("SCR_OOW", "lifesat", 0.34, 9),   # Table 4-10: printed ***
    ("SCR_IW", "eq5d", 0.03, 2),       # Table 4-9: printed ** (SWEMWBS ranks first)
])
def test_se_band_gives_the_printed_stars(group, outcome, coef, m):
    lo, hi = se_band(T, group, outcome, coef)
    sec = "participation_impacts" if outcome == "eq5d" else "secondary_impacts"
    vals = T.raw[sec][group]["rows"][outcome]["values"]
    se, printed = (vals[1], vals[3]) if sec == "participation_impacts" else (vals[3], vals[5])
    assert se - 0.005 < lo < hi < se + 0.005  # inside the printed S.E.'s rounding
    assert lo > se - 0.0045 or hi < se + 0.0045  # and narrower than it
    for s in (lo, (lo + hi) / 2, hi):
        assert _sidak_stars(coef, s, m) == printed.strip()


@pytest.mark.parametrize("group,outcome,coef,m,printed", [
    ("SCR_IW", "dda", -0.05, 6, ""),         # Table 4-8: printed none, fourth of nine by |t|
    ("SCR_OOW", "lifesat", 0.34, 9, "***"),  # Table 4-10: printed ***, first of nine
])
def test_t_band_gives_the_printed_stars_and_its_sign(group, outcome, coef, m, printed):
    """The band of impact / S.E. the pooled pass keeps a trial group in: signed as the
    impact, Sidak's stars inside it, and the S.E. band (same impact) is where the impact
    over the S.E. falls in it."""
    from data_synth.stars import t_band

    lo, hi = t_band(T, group, outcome, coef)
    assert lo < hi and (lo >= 0 if coef > 0 else hi <= 0)
    assert math.isinf(lo if coef < 0 else hi) == (printed == "***")  # open-ended only for ***
    for x in (lo, hi):
        if math.isfinite(x):
            inside = x + (1e-3 if x == lo else -1e-3)
            assert _sidak_stars(inside, 1.0, m) == printed
    se_lo, se_hi = se_band(T, group, outcome, coef)
    for se in (se_lo, (se_lo + se_hi) / 2, se_hi):
        assert lo - 1e-9 <= coef / se <= hi + 1e-9
    assert t_band(T.with_scale(10), group, outcome, coef) is None
    assert t_band(T, "SCR_IW", "swemwbs", 0.86) is None  # the stars narrow nothing


def test_open_bands_aim_at_their_open_half():
    """*** (no upper limit on t) aims at the smaller S.E.s of its interval, none at the larger."""
    from data_synth.stars import _t_band

    for group, outcome, coef in (("SCR_OOW", "lifesat", 0.34), ("SCR_IW", "dda", -0.05)):
        t_lo, t_hi, _, se = _t_band(T, group, outcome)
        full_lo = se - 0.0045 if math.isinf(t_hi) else max(se - 0.0045, abs(coef) / t_hi)
        full_hi = min(se + 0.0045, abs(coef) / t_lo) if t_lo > 0 else se + 0.0045
        lo, hi = se_band(T, group, outcome, coef)
        mid = (full_lo + full_hi) / 2
        assert (lo, hi) == pytest.approx((full_lo, mid) if math.isinf(t_hi) else (mid, full_hi))


def test_no_band_at_scale_or_without_stars():
    assert se_band(T.with_scale(10), "SCR_OOW", "jsse", 0.10) is None
    assert se_band(T, "SCR_OOW", "jsse", 0.0) is None
    # a star the printed S.E. already guarantees adds nothing
    assert se_band(T, "SCR_IW", "swemwbs", 0.86) is None
    assert not math.isnan(T.raw["secondary_impacts"]["SCR_OOW"]["rows"]["jsse"]["values"][3])


def test_coef_band_for_a_pooled_group():
    """Table 4-13's SCR EQ5D5L: ** with the S.E. its groups leave (~0.007) needs the pooled
    participation impact below the printed 0.02's centre; SWEMWBS's *** holds anyway."""
    from data_synth.stars import coef_band

    lo, hi = coef_band(T, "SCR", "eq5d", 0.0071)
    assert 0.0155 <= lo < hi < 0.02
    for c in (lo, hi):
        assert _sidak_stars(c, 0.0071, 2) == "**"
    assert coef_band(T, "SCR", "swemwbs", 0.14) is None
    assert coef_band(T.with_scale(100), "SCR", "eq5d", 0.0071) is None


def test_prose_coef_band_gives_the_claimed_band_and_effect_size():
    """The OOW groups pooled: 'weak evidence' (adjusted p in [0.05, 0.10)) of 0.1 s.d. on
    EQ5D5L and SWEMWBS, no significant effect on paid work (targets file,
    primary_prose). Read with Sidak's bound over the three primary outcomes (each weak
    one taken first of the family; paid work, claimed less, last: one outcome left)."""
    from data_synth.stars import prose_coef_band

    for outcome, se, sd in (("eq5d", 0.0070, 0.302), ("swemwbs", 0.126, 4.5)):
        lo, hi = prose_coef_band(T, "OOW_pooled", outcome, se, sd)
        assert 0 < lo < hi
        for c in (lo, (lo + hi) / 2, hi):
            assert _sidak_stars(c, se, 3) == "*"  # the 10 % band, as the prose's "weak"
            assert round(c / sd, 1) == 0.1
    lo, hi = prose_coef_band(T, "OOW_pooled", "paid_work", 0.0118, 0.35)
    assert lo == -hi and _sidak_stars(hi, 0.0118, 1) == "" and _sidak_stars(hi * 1.1, 0.0118, 1) == "*"
    # no interval where the band and the effect size disagree (a tiny S.E. puts 0.1 s.d. at p < 0.001)
    assert prose_coef_band(T, "OOW_pooled", "eq5d", 0.001, 0.30) is None
    # no claim, or --scale (a p-value belongs to the trial's own sample size)
    assert prose_coef_band(T, "SCR", "eq5d", 0.007, 0.30) is None
    assert prose_coef_band(T.with_scale(100), "OOW_pooled", "eq5d", 0.0007, 0.30) is None


def test_prose_t_band_of_a_trial_group():
    """WMCA OOW: 'no effect on any of the three primary outcomes' (§4.3.4; targets file,
    primary_prose): each outcome, read first of three, has impact / S.E. in a symmetric band
    whose edge Sidak puts inside 'none'; a pooled group's claim with an effect size is
    positive and is prose_coef_band's over the S.E."""
    from data_synth.stars import prose_coef_band, prose_t_band

    for outcome in ("paid_work", "eq5d", "swemwbs"):
        lo, hi = prose_t_band(T, "WMCA_OOW", outcome)
        assert lo == -hi and 1.8 < hi < 2.2
        assert _sidak_stars(hi * 0.999, 1.0, 3) == "" and _sidak_stars(hi * 1.08, 1.0, 3) == "*"
    t_lo, t_hi = prose_t_band(T, "OOW_pooled", "eq5d")
    assert 0 < t_lo < t_hi and _sidak_stars((t_lo + t_hi) / 2, 1.0, 3) == "*"
    c_lo, c_hi = prose_coef_band(T, "OOW_pooled", "eq5d", 0.0070, 0.2)  # an s.d. whose 0.1 s.d. leaves the band alone
    assert (c_lo, c_hi) == pytest.approx((t_lo * 0.0070, t_hi * 0.0070))
    assert prose_t_band(T, "SCR_IW", "eq5d") is None and prose_t_band(T.with_scale(10), "WMCA_OOW", "eq5d") is None
