"""Exact mode, best effort: the significance stars of the impact tables.

The report's stars (Tables 4-8, 4-10, 4-14 for the secondary outcomes; Tables 4-9 and 4-11
for the primary ones) mark Westfall-Young adjusted p-values over a family of outcomes: the nine
secondary outcomes, or the three primary ones (whose ITT family the participation tables'
stars use, as :class:`hlt_replicate.scorecard.Reproducer` does), under §4.3's convention
(* 10 %, ** 5 %, *** 1 %). A printed impact and S.E. leave a range of t statistics; the stars
narrow it. :func:`se_band` turns the stars into an S.E. interval inside the printed S.E.'s
rounding, which the outcome calibration then aims at, and :func:`t_band` the band of impact /
S.E. that the pooled pass keeps the trial groups in (:mod:`data_synth.pooled`, which moves
their data again for the pooled tables); for a pooled group's participation
impact (Table 4-13), whose S.E. follows its groups', :func:`coef_band` narrows the impact
instead, which the pooled pass aims at (:mod:`data_synth.pooled`).

The adjusted p of the outcome ranked r-th of k by the printed |impact / S.E.| is taken as
Sidak's over the k - r + 1 outcomes left at that step of the step-down,
1 - (1 - p)^(k - r + 1): the Westfall-Young value with independent tests, and an upper bound
with positively dependent ones (so the aim sits inside the band by ``MARGIN`` in log p). The
scorecard computes the stars with the kit's permutation Westfall-Young and compares them; they
are not calibration targets. Only at the trial's own size (a p-value belongs to its sample).

The same reading turns the prose's claims about primary outcomes that have no table (a
significance band, and sometimes an effect size: the OOW groups' "weak evidence" of 0.1
s.d.; WMCA's "no effect on any of the three primary outcomes") into an interval of impact /
S.E. (:func:`prose_t_band`) and, for a pooled group, of impacts (:func:`prose_coef_band`),
which the pooled pass aims at.
"""
from __future__ import annotations

import math

from scipy import stats

from hlt_replicate import vocab
from hlt_replicate.impact import STAR_CONVENTIONS

from .flatten import _is_excluded
from .targets import PROSE_BANDS, Targets

CONVENTION = "section_4_3"
MARGIN = 0.25  # aim this far inside a star band's edges, as a share of a band's width in log p
HALF = 0.005  # printed S.E.s have two decimals
INSIDE = 0.9  # and the aim stays inside 90 % of their rounding
#: a prose effect size (one decimal) is aimed inside 98 % of its rounding: exact arithmetic of
#: the impact and s.d. the pooled pass computes, and the two prose claims of the OOW groups'
#: EQ5D5L (weak evidence, 0.1 s.d.) leave an effect size of 0.050-0.054 only
ES_INSIDE = 0.98


def _adjusted_band(stars: str) -> tuple[float, float]:
    """Adjusted p-values aimed at for ``stars``: inside the band by ``MARGIN`` of its width in
    log p, at the cut only for the open-ended bands (*** and none)."""
    c1, c2, c3 = STAR_CONVENTIONS[CONVENTION]
    lo, hi = {"***": (0.0, c3), "**": (c3, c2), "*": (c2, c1), "": (c1, 1.0)}[stars.strip()]
    inset = MARGIN * math.log(c1 / c2)  # the width of a closed band in log p
    return (lo * math.exp(inset) if lo else 0.0), (hi * math.exp(-inset) if hi < 1 else 1.0)


def _family(t: Targets, group: str, primary: bool) -> dict[str, tuple[float, float, str]]:
    """Outcome -> (printed impact, printed S.E., printed stars) of one family."""
    if primary:
        rows = (t.raw.get("participation_impacts") or {}).get(group, {}).get("rows", {})
        return {o: (v["values"][0], v["values"][1], v["values"][3]) for o, v in rows.items()
                if o in vocab.PRIMARY_OUTCOMES and None not in v["values"][:2]}
    rows = (t.raw.get("secondary_impacts") or {}).get(group, {}).get("rows", {})
    return {o: (v["values"][2], v["values"][3], v["values"][5]) for o, v in rows.items()
            if o in vocab.SECONDARY_OUTCOMES and None not in v["values"][2:4]}


def _t_band(t: Targets, group: str, outcome: str):
    """(t_lo, t_hi, printed impact, printed S.E.) that the printed stars ask of |impact / S.E.|
    (module docstring); ``None`` without usable stars or at ``--scale``."""
    if t.scale != 1:
        return None
    primary = vocab.OUTCOMES[outcome].primary
    fam = _family(t, group, primary)
    if outcome not in fam or len(fam) < 2:
        return None
    section = "participation_impacts" if primary else "secondary_impacts"
    if _is_excluded(f"{section}.{group}.{outcome}.stars", t.skipped()) or not isinstance(fam[outcome][2], str):
        return None
    order = sorted(fam, key=lambda o: -abs(fam[o][0]) / fam[o][1] if fam[o][1] else 0.0)
    m = len(fam) - order.index(outcome)  # outcomes left at its step of the step-down
    a_lo, a_hi = _adjusted_band(fam[outcome][2])
    p_lo, p_hi = (1 - (1 - a) ** (1 / m) for a in (a_lo, a_hi))
    t_hi, t_lo = stats.norm.isf(p_lo / 2), stats.norm.isf(p_hi / 2)  # t_hi = inf for ***
    return float(t_lo), float(t_hi), fam[outcome][0], fam[outcome][1]


def t_band(t: Targets, group: str, outcome: str, coef: float) -> tuple[float, float] | None:
    """Interval of impact / S.E. that the printed stars need, signed as ``coef`` (the
    module docstring's reading; an open band, ``***``, has ``inf`` at its far end); ``None``
    where :func:`se_band` is (the stars do not narrow the S.E. for this impact). The pooled
    pass keeps a trial group's impact and S.E. inside it (:mod:`data_synth.pooled`)."""
    if se_band(t, group, outcome, coef) is None:
        return None
    t_lo, t_hi, _, _ = _t_band(t, group, outcome)
    return (float(t_lo), float(t_hi)) if coef > 0 else (-float(t_hi), -float(t_lo))


def se_band(t: Targets, group: str, outcome: str, coef: float) -> tuple[float, float] | None:
    """S.E. interval, inside the printed S.E.'s rounding, whose t statistic ``coef`` / S.E.
    gives the adjusted p the printed stars need (module docstring); ``None`` when there are
    no usable stars, the cell is excluded, or no S.E. in the rounding fits.

    For the open-ended bands (``***`` and none) only the half on the open side is aimed
    at: their one edge is Sidak's reading of a permutation p-value from 1,000 draws, and
    seeds 0-23 put SCR OOW's life satisfaction (***) at p 0.010-0.013 on 6 of 24 with
    the whole interval, on 1 of 24 (p 0.011) with the half."""
    band = _t_band(t, group, outcome)
    if band is None or not coef:
        return None
    t_lo, t_hi, _, se = band
    lo = se - INSIDE * HALF if math.isinf(t_hi) else max(se - INSIDE * HALF, abs(coef) / t_hi)
    hi = se + INSIDE * HALF if t_lo <= 0 else min(se + INSIDE * HALF, abs(coef) / t_lo)
    narrower = lo > se - INSIDE * HALF or hi < se + INSIDE * HALF
    if not (lo < hi and narrower):
        return None  # the stars add nothing
    if math.isinf(t_hi):  # *** is open towards larger t: aim at the half of smaller S.E.s
        hi = (lo + hi) / 2
    elif t_lo <= 0:  # and none towards smaller t
        lo = (lo + hi) / 2
    return float(lo), float(hi)


def coef_band(t: Targets, group: str, outcome: str, se: float) -> tuple[float, float] | None:
    """Impact interval, inside the printed impact's rounding, whose t statistic with S.E.
    ``se`` gives the adjusted p the printed stars need: for a pooled group, whose S.E. follows
    its groups' (:mod:`data_synth.pooled`); ``None`` as :func:`se_band`."""
    band = _t_band(t, group, outcome)
    if band is None or not se > 0:
        return None
    t_lo, t_hi, coef, _ = band
    sign = 1.0 if coef >= 0 else -1.0
    a, b = t_lo * se, (t_hi * se if math.isfinite(t_hi) else math.inf)  # |impact| range
    lo_abs, hi_abs = max(abs(coef) - INSIDE * HALF, a), min(abs(coef) + INSIDE * HALF, b)
    narrower = lo_abs > abs(coef) - INSIDE * HALF or hi_abs < abs(coef) + INSIDE * HALF
    if not (lo_abs < hi_abs and narrower) or (coef == 0):
        return None
    return (lo_abs, hi_abs) if sign > 0 else (-hi_abs, -lo_abs)


def prose_claims(t: Targets, group: str) -> dict:
    """Primary outcome -> claim (``band``, ``effect_size``) of a group's prose about its
    primary ITT impacts (``primary_prose`` in the targets file; empty without one)."""
    return {o: c for o, c in ((t.raw.get("primary_prose") or {}).get(group) or {}).items() if o in vocab.PRIMARY_OUTCOMES}


#: the prose's bands as the stars of §4.3's convention that mark them
_BAND_STARS = {"none": "", "weak": "*"}


def _prose_abs_t(t: Targets, group: str, outcome: str) -> tuple[float, float, dict] | None:
    """(lo, hi, claim): the |impact / S.E.| band of a prose claim (:func:`prose_t_band`)."""
    claims = prose_claims(t, group)
    claim = claims.get(outcome)
    if t.scale != 1 or claim is None:
        return None
    rank = PROSE_BANDS.index  # none < weak < significant
    m = sum(rank(c["band"]) <= rank(claim["band"]) for c in claims.values())
    m = max(m, 1) + len(vocab.PRIMARY_OUTCOMES) - len(claims)  # outcomes without a claim: left at every step
    if claim["band"] == "significant":
        c2 = STAR_CONVENTIONS[CONVENTION][1]
        a_lo, a_hi = 0.0, c2 * math.exp(-MARGIN * math.log(STAR_CONVENTIONS[CONVENTION][0] / c2))
    else:
        a_lo, a_hi = _adjusted_band(_BAND_STARS[claim["band"]])
    p_lo, p_hi = (1 - (1 - a) ** (1 / m) for a in (a_lo, a_hi))
    return float(stats.norm.isf(p_hi / 2)), float(stats.norm.isf(p_lo / 2)), claim  # hi = inf when p_lo = 0


def prose_t_band(t: Targets, group: str, outcome: str) -> tuple[float, float] | None:
    """Interval of a group's primary ITT impact / S.E. whose Westfall-Young adjusted p falls
    in the band its prose claims (``primary_prose`` in the targets file).

    The adjusted p is read as in :func:`_t_band`: Sidak's over the outcomes left at the
    outcome's step of the step-down, taking it first among the outcomes claimed in the same
    band (the tighter reading), inside the band by ``MARGIN``; ``section_4_3``'s cuts (10 %
    and 5 %) are the prose's ("weak evidence ... at the 10% confidence level"). A claimed
    effect size gives the sign (a positive impact); without one, only the band ``none``
    gives an interval (symmetric). ``None`` without a claim or at ``--scale`` (a p-value
    belongs to the trial's own sample size)."""
    band = _prose_abs_t(t, group, outcome)
    if band is None:
        return None
    lo, hi, claim = band
    if claim.get("effect_size") is not None:
        return lo, hi
    return (-hi, hi) if claim["band"] == "none" else None


def prose_coef_band(t: Targets, group: str, outcome: str, se: float, sd: float) -> tuple[float, float] | None:
    """Interval of a pooled group's primary ITT impact that the prose asks for
    (``primary_prose`` in the targets file): impact / ``se`` in :func:`prose_t_band`'s
    interval and, with an ``effect_size``, impact / ``sd`` rounding to it (one decimal,
    aimed inside :data:`ES_INSIDE` of its rounding). ``None`` as :func:`prose_t_band`, or
    when the two conditions leave no interval."""
    band = _prose_abs_t(t, group, outcome)
    if band is None or not se > 0:
        return None
    t_lo, t_hi, claim = band
    lo, hi = se * t_lo, se * t_hi  # |impact|
    es = claim.get("effect_size")
    if es is not None and sd > 0:
        lo, hi = max(lo, (es - ES_INSIDE * 0.05) * sd), min(hi, (es + ES_INSIDE * 0.05) * sd)
    if not lo < hi:
        return None
    if es is None:  # no sign: only the band 'none' makes one interval
        return (-float(hi), float(hi)) if claim["band"] == "none" else None
    return float(lo), float(hi)
