"""The lessons behind notebooks 00-06: exercises (self-checks and hidden worked solutions) and the
pure functions their widgets call.

* :mod:`~hlt_replicate.lessons.ch00` — start here: the trial, the data dictionary, the
  calibration report (``notebooks/00_start_here.ipynb``);
* :mod:`~hlt_replicate.lessons.ch01` — randomisation, balance and randomisation inference
  (``notebooks/01_randomisation.ipynb``);
* :mod:`~hlt_replicate.lessons.ch02` — survey non-response and weighting
  (``notebooks/02_nonresponse_weighting.ipynb``);
* :mod:`~hlt_replicate.lessons.ch03` — impact estimation (``notebooks/03_impact_estimation.ipynb``);
* :mod:`~hlt_replicate.lessons.ch04` — multiple testing, Westfall–Young and the SAP decision
  rule, and the simulated null trials behind the FWER simulator dashboard
  (``notebooks/04_multiple_testing.ipynb``);
* :mod:`~hlt_replicate.lessons.ch05` — RAND's business cases and a benefit-cost ratio for IPS
  from the kit's own impact estimates (``notebooks/05_benefit_cost_ratios.ipynb``);
* :mod:`~hlt_replicate.lessons.ch06` — the replication scorecard and the audit of the reports
  (``notebooks/06_replication_scorecard.ipynb``).

Every widget callback is a plain function of the data and the widget values that returns a
:class:`hlt_replicate.teaching.View` (tables and a matplotlib figure); the ``*_controls()``
functions build the matching ipywidgets. Notebooks only wire the two together with
:func:`hlt_replicate.teaching.wire`. Every lesson's exercises are an
:class:`hlt_replicate.teaching.ExerciseSet` with keys ``ex1``, ``ex2``, …: ``check(key, answer)``,
``show_solution(key)``, ``solution(key)``, ``expected(key)``. Shared machinery is in
:mod:`hlt_replicate.teaching`.
"""
