"""One vocabulary for the whole kit: trial groups, categories, outcomes, SAP controls.

Every column name, category label and outcome definition used by `data_synth`, the
estimators, the notebooks and the scorecard is spelled here once. The names follow
`data_synth/DATA_DICTIONARY.md`; the report tables they come from are cited beside each.

Source: DWP research report 1033, *Evaluation of the Health-led Employment Trials:
implementation and 4-month outcomes report* (``shared/seeds/004_…``), chapter 4.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- design -----------------------------------------------------------------------------
#: The three trial groups (Table 4-1 columns), in the report's order.
GROUPS: tuple[str, ...] = ("SCR_IW", "SCR_OOW", "WMCA_OOW")

#: Pooled groups used in Tables 4-12/4-13 (SCR) and 4-15 (SCR/WMCA OOW).
POOLED_GROUPS: dict[str, tuple[str, ...]] = {
    "SCR": ("SCR_IW", "SCR_OOW"),
    "OOW_pooled": ("SCR_OOW", "WMCA_OOW"),
}

#: Every group label an analysis can be run for: trial groups then pooled groups.
ALL_GROUPS: tuple[str, ...] = GROUPS + tuple(POOLED_GROUPS)

GROUP_LABELS: dict[str, str] = {
    "SCR_IW": "SCR IW",
    "SCR_OOW": "SCR OOW",
    "WMCA_OOW": "WMCA OOW",
    "SCR": "SCR (IW + OOW)",
    "OOW_pooled": "SCR/WMCA OOW",
}

SITE_OF_GROUP: dict[str, str] = {"SCR_IW": "SCR", "SCR_OOW": "SCR", "WMCA_OOW": "WMCA"}

#: Areas (Tables 4-2..4-4, "Area" block), with the site each belongs to.
AREAS: tuple[str, ...] = (
    "Barnsley",
    "Bassetlaw",
    "Doncaster",
    "Rotherham",
    "Sheffield",
    "Sandwell & West B'ham",
    "B'ham and Solihull",
    "Dudley",
    "Wolverhampton",
)
SITE_OF_AREA: dict[str, str] = {a: ("SCR" if i < 5 else "WMCA") for i, a in enumerate(AREAS)}

#: Intake cohorts (Tables 4-2..4-4, "Cohort" block), as printed. The report's labels skip
#: April 2019; the generator folds April 2019 into the "Jan 2019- Mar 2019" cohort and
#: draws October 2019 only for the last cohort, since intake closed on 31 October 2019 (§4.1).
COHORTS: tuple[str, ...] = (
    "May 2018-Jun 2018",
    "Jul 2018-Sep 2018",
    "Oct 2018-Dec 2018",
    "Jan 2019-Mar 2019",
    "May 2019-Jun 2019",
    "Jul 2019-Sep 2019",
    "Oct 2019-Dec 2019",
)

# --- column names -----------------------------------------------------------------------
ID = "recruit_id"
SITE = "site"
GROUP = "group"
AREA = "area"
COHORT = "cohort"
RAND_DATE = "rand_date"
TREAT = "treat"
RESPONDED = "responded"
WEIGHT = "weight"  # survey weight, added by hlt_replicate.weighting (not stored in recruits.csv)

#: Highest qualification (4 levels; Tables 4-2..4-4).
QUAL_LEVELS: tuple[str, ...] = ("below_gcse", "gcse", "a_level", "post_a_level")
QUAL_LABELS: dict[str, str] = {
    "below_gcse": "Below GCSE / Oth. quals",
    "gcse": "GCSE A-C",
    "a_level": "A level",
    "post_a_level": "Post A level",
}

#: Health-condition combination (7 levels; Tables 4-2..4-4). MH mental health, MSK
#: musculoskeletal, OTH other.
HEALTH_LEVELS: tuple[str, ...] = ("MH", "MSK", "OTH", "MH_MSK", "MH_OTH", "MSK_OTH", "MH_MSK_OTH")
HEALTH_LABELS: dict[str, str] = {
    "MH": "MH only",
    "MSK": "MSK only",
    "OTH": "Other only",
    "MH_MSK": "MH & MSK",
    "MH_OTH": "MH & oth.",
    "MSK_OTH": "MSK & oth.",
    "MH_MSK_OTH": "MH, MSK & oth.",
}

#: Work history in the two years before randomisation (chapter 3, §3.3.1).
WORK_HISTORY_LEVELS: tuple[str, ...] = ("never", "under_half", "over_half", "always")

#: Binary baseline characteristics of Tables 4-2..4-4.
BINARY_BASELINE: tuple[str, ...] = ("female", "nonwhite", "partner", "dep_children")

#: Categorical baseline blocks of Tables 4-2..4-4 (column -> levels).
CATEGORICAL_BASELINE: dict[str, tuple[str, ...]] = {
    "qual": QUAL_LEVELS,
    "health": HEALTH_LEVELS,
    "area": AREAS,
    "cohort": COHORTS,
}

#: Baseline outcome measures (Table 4-5 and chapter 3), prefixed ``bl_``.
BASELINE_MEASURES: tuple[str, ...] = (
    "bl_eq5d",
    "bl_eqvas",
    "bl_swemwbs",
    "bl_lifesat",
    "bl_looking",
    "bl_jsse",
    "bl_barriers",
)

#: The SAP's control variables for every impact regression (§4.2.1, "the same control
#: variables as used in the main impact estimates"): age, gender, ethnicity, partner,
#: children, qualification, health condition, area and cohort. Categorical ones enter as
#: dummies; the baseline value of the outcome is added where the outcome has one.
SAP_CONTROLS: tuple[str, ...] = (
    "age",
    "female",
    "nonwhite",
    "partner",
    "dep_children",
    "qual",
    "health",
    "area",
    "cohort",
)
CATEGORICAL_CONTROLS: tuple[str, ...] = ("qual", "health", "area", "cohort")

#: IPS management information (Tables 4-6, 4-7); missing for the control arm.
SESSIONS = "ips_sessions"
WEEKS_TO_FIRST = "weeks_to_first_session"
PARTICIPATED = "participated"  # >= 1 IPS session; 0 for every control

#: 12-month administrative outcome, observed for every recruit (IES blog Table 1).
SUSTAINED_EMP_12M = "sustained_emp_12m"


@dataclass(frozen=True)
class Outcome:
    """Metadata for one 4-month outcome.

    ``binary`` outcomes are reported in percentage points; continuous ones also in
    standard deviations. ``baseline`` names the baseline counterpart added as a control.
    ``bounds`` are the scale's limits (used by the generator and for validation).
    """

    name: str
    label: str
    binary: bool
    primary: bool
    baseline: str | None
    bounds: tuple[float, float]
    table: str


OUTCOMES: dict[str, Outcome] = {
    o.name: o
    for o in (
        # Primary outcomes (§4.3; figures 4-2..4-4 and their siblings, lost in extraction).
        Outcome("paid_work", "In paid work", True, True, None, (0, 1), "Fig 4-2"),
        Outcome("eq5d", "Health (EQ5D5L)", False, True, "bl_eq5d", (-0.285, 1.0), "Fig 4-3"),
        Outcome("swemwbs", "Wellbeing (SWEMWBS)", False, True, "bl_swemwbs", (7, 35), "Fig 4-4"),
        # Secondary outcomes (Tables 4-8, 4-10, 4-12, 4-14, 4-15), in the tables' order.
        Outcome("work16", "Working 16+ hours", True, False, None, (0, 1), "Table 4-8"),
        Outcome("weeks_work", "No. weeks in work", False, False, None, (0, 16), "Table 4-8"),
        Outcome("weeks_work16", "No. weeks in work 16+ hrs", False, False, None, (0, 16), "Table 4-8"),
        Outcome("work16_cont", "Worked 16+ hours continuously", True, False, None, (0, 1), "Table 4-8"),
        Outcome("jsse", "Job search self-efficacy", False, False, "bl_jsse", (1, 5), "Table 4-8"),
        Outcome("msk", "Musculoskeletal problems", True, False, None, (0, 1), "Table 4-8"),
        Outcome("dda", "Disability (DDA definition)", True, False, None, (0, 1), "Table 4-8"),
        Outcome("lifesat", "Life satisfaction (ONS1)", False, False, "bl_lifesat", (0, 10), "Table 4-8"),
        Outcome("gse", "General self-efficacy scale", False, False, None, (10, 40), "Table 4-8"),
    )
}
PRIMARY_OUTCOMES: tuple[str, ...] = tuple(k for k, o in OUTCOMES.items() if o.primary)
SECONDARY_OUTCOMES: tuple[str, ...] = tuple(k for k, o in OUTCOMES.items() if not o.primary)

#: Table 4-5: baseline outcomes tested under the SAP decision rule, in the table's order.
TABLE_4_5_OUTCOMES: tuple[str, ...] = ("bl_looking", "bl_jsse", "bl_barriers", "bl_eq5d", "bl_swemwbs")

#: Secondary-outcome table of each group (the primary-outcome figures are lost).
SECONDARY_TABLE: dict[str, str] = {
    "SCR_IW": "Table 4-8",
    "SCR_OOW": "Table 4-10",
    "SCR": "Table 4-12",
    "WMCA_OOW": "Table 4-14",
    "OOW_pooled": "Table 4-15",
}
#: Participation (IV) table of each group; WMCA has none (non-participation ~0, §4.2.2).
PARTICIPATION_TABLE: dict[str, str] = {"SCR_IW": "Table 4-9", "SCR_OOW": "Table 4-11", "SCR": "Table 4-13"}

#: Subgroup dimensions of the report's exploratory analysis (§4.3).
SUBGROUP_DIMENSIONS: tuple[str, ...] = ("female", "age_band", "work_history", "eqvas_band")


def groups_in(group: str) -> tuple[str, ...]:
    """Trial groups that make up ``group`` (a trial group or a pooled group)."""
    if group in GROUPS:
        return (group,)
    if group in POOLED_GROUPS:
        return POOLED_GROUPS[group]
    raise ValueError(f"unknown group {group!r}: expected one of {', '.join(ALL_GROUPS)}")
