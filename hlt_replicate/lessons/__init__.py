"""The lessons behind notebooks 00-03 and 06: exercises (self-checks and hidden worked solutions)
and the pure functions their widgets call.

* :mod:`~hlt_replicate.lessons.ch00` — start here: the trial, the data dictionary, the
  calibration report (``notebooks/00_start_here.ipynb``);
* :mod:`~hlt_replicate.lessons.ch01` — randomisation, balance and randomisation inference
  (``notebooks/01_randomisation.ipynb``);
* :mod:`~hlt_replicate.lessons.ch02` — survey non-response and weighting
  (``notebooks/02_nonresponse_weighting.ipynb``);
* :mod:`~hlt_replicate.lessons.ch03` — impact estimation (``notebooks/03_impact_estimation.ipynb``);
* :mod:`~hlt_replicate.lessons.ch06` — the replication scorecard and the audit of the reports
  (``notebooks/06_replication_scorecard.ipynb``).

Notebooks 04 and 05 keep their lessons in :mod:`hlt_replicate.teaching_ch04` and
:mod:`hlt_replicate.teaching_bcr` (to be moved here).

Every widget callback is a plain function of the data and the widget values that returns a
:class:`hlt_replicate.teaching.View` (tables and a matplotlib figure); the ``*_controls()``
functions build the matching ipywidgets. Notebooks only wire the two together with
``ipywidgets.interactive_output``. Shared machinery is in :mod:`hlt_replicate.teaching`.
"""
