"""hlt-replicate: redo the Health-led Employment Trials evaluation on a synthetic trial.

Modules, one per evaluation step:

* :mod:`hlt_replicate.vocab` — groups, outcomes, controls: the kit's one vocabulary;
* :mod:`hlt_replicate.regression` — weighted OLS / 2SLS with robust standard errors;
* :mod:`hlt_replicate.weighting` — non-response weights (response propensity);
* :mod:`hlt_replicate.impact` — intention-to-treat and participation impacts.
"""
from __future__ import annotations

import os

__version__ = "0.1.0"


def _limit_blas_threads() -> None:
    """Run numpy's BLAS on one thread unless ``HLT_BLAS_THREADS`` says otherwise.

    The kit's regressions are small (thousands of rows, tens of columns): on a 2-core
    laptop a multi-threaded BLAS makes them 2x slower when idle and up to 40x slower when
    another process is busy, and threaded reductions are not bit-reproducible, which the
    generator's "same seed, same bytes" promise needs.
    """
    import numpy  # noqa: F401  (threadpoolctl only sees BLAS libraries already loaded)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=int(os.environ.get("HLT_BLAS_THREADS", "1")), user_api="blas")


_limit_blas_threads()

from .multiple_testing import sap_decision_rule, westfall_young  # noqa: E402  (documented entry points)

__all__ = ["westfall_young", "sap_decision_rule", "__version__"]
