"""Benefit-cost ratios: RAND Europe's (2014) business cases reproduced, audited and extended.

Source: RAND Europe (2014), *Psychological Wellbeing and Work: Improving Service Provision
and Outcomes*, section 5.2 (Tables 1-4), text in ``shared/seeds/002_488ea2fdc6b0c8e5.txt``.
Published inputs and printed cells live in ``hlt_replicate/data/rand_bcr_*.yaml``.

Layout:

* :mod:`.model` - the explicit model: :class:`BCRInputs` -> :func:`evaluate` ->
  :class:`BCRResult`; drop-out conventions; Green Book appraisal; RAND's rounding.
* :mod:`.rand` - RAND's inputs from data; Tables 1-4 reproduced (:func:`reproduce_rand_table`),
  the drop-out convention audit (:func:`convention_audit`), findings (:func:`audit_rand_tables`),
  Option 3 with a user-supplied effect (:func:`option3`).
* :mod:`.sensitivity` - tornado, two-way grid, break-even, Monte Carlo.
* :mod:`.hlt` - :func:`hlt_bcr`: a BCR with an interval from an estimated HLT impact.
* :mod:`.plots` - figures and the pure widget callback :func:`dashboard`.
"""
from .hlt import HLTBCRResult, hlt_bcr, hlt_bcr_table
from .model import (
    DROPOUT_CONVENTIONS,
    GREEN_BOOK_DISCOUNT_RATE,
    INPUT_LABELS,
    METRICS,
    BCRInputs,
    BCRResult,
    Undefined,
    appraisal_factor,
    evaluate,
    evaluate_many,
    format_printed,
    is_defined,
    round_half_up,
)
from .plots import (
    Dashboard,
    dashboard,
    plot_components,
    plot_convention_audit,
    plot_hlt,
    plot_monte_carlo,
    plot_tornado,
    plot_two_way,
    widget_controls,
)
from .rand import (
    OPTIONS,
    TABLE_OPTION,
    audit_rand_tables,
    convention_audit,
    load_rand_inputs,
    load_rand_published,
    option3,
    rand_input_sources,
    rand_input_value,
    rand_inputs,
    rand_option_info,
    rand_ranges,
    rand_result,
    rand_table,
    reproduce_rand_table,
    table4,
)
from .sensitivity import (
    BreakEven,
    MonteCarloResult,
    Range,
    break_even,
    break_even_table,
    default_ranges,
    monte_carlo,
    tornado,
    two_way,
)

__all__ = [
    "BCRInputs", "BCRResult", "BreakEven", "DROPOUT_CONVENTIONS", "Dashboard", "GREEN_BOOK_DISCOUNT_RATE",
    "HLTBCRResult", "INPUT_LABELS", "METRICS", "MonteCarloResult", "OPTIONS", "Range", "TABLE_OPTION", "Undefined",
    "appraisal_factor", "audit_rand_tables", "break_even", "break_even_table", "convention_audit", "dashboard",
    "default_ranges", "evaluate", "evaluate_many", "format_printed", "hlt_bcr", "hlt_bcr_table", "is_defined",
    "load_rand_inputs", "load_rand_published", "monte_carlo", "option3", "plot_components",
    "plot_convention_audit", "plot_hlt", "plot_monte_carlo", "plot_tornado", "plot_two_way", "rand_input_sources",
    "rand_input_value", "rand_inputs", "rand_option_info", "rand_ranges", "rand_result", "rand_table",
    "reproduce_rand_table", "round_half_up", "table4", "tornado", "two_way", "widget_controls",
]
