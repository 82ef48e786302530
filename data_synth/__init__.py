"""data_synth: a synthetic Health-led Employment Trials population, calibrated to the
published marginals of the 4-month report (DWP RR 1033) and the 12-month summary.

>>> import data_synth
>>> trial = data_synth.generate(seed=0)            # 9,785 recruits, exact mode
>>> gen = data_synth.generate_trial(seed=0)        # .data, .truth, .manifest

Command line: ``python -m data_synth generate --out DIR`` and
``python -m data_synth check --data DIR``. Targets: ``data_synth/targets/hlt_4month.yaml``;
columns: ``data_synth/DATA_DICTIONARY.md``.
"""
from .errors import TargetError
from .generator import Generated, generate, generate_trial
from .targets import Targets, load_targets

__all__ = ["generate", "generate_trial", "Generated", "load_targets", "Targets", "TargetError"]
