"""Time every function a widget calls, on a trial the size of the HLT (9,785 recruits).

Usage::

    python benchmarks/bench_widget_functions.py [--repeat 5] [--blas-threads 1|auto]

Prints one row per call: median and best wall time over ``--repeat`` runs (after one warm-up)
and whether the median is under the 200 ms widget budget. The data are the synthetic trial
the notebooks use (``data_synth.generate(seed=0)``, exact mode, with its survey weights;
``--data fake`` for the random test trial of ``tests/_fake_trial.py``). Besides the
package's functions, the widget callbacks of notebooks 00-03 (``hlt_replicate.lessons``)
are timed whole, figure included (not rendered to PNG).

BLAS threads: by default the script pins OpenBLAS to one thread *before* numpy loads. The
kit's regressions are small (a few thousand rows × ~30 columns), where a threaded BLAS
gains nothing and, when the two cores of the reference machine are busy with another
process, threads spin and the same call runs 10–40× slower. ``--blas-threads auto`` keeps
numpy's default, to see that effect.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--repeat", type=int, default=5)
parser.add_argument("--blas-threads", default="1", help="OpenBLAS threads ('auto' = numpy's default)")
parser.add_argument("--data", choices=("synthetic", "fake"), default="synthetic",
                    help="the synthetic trial (default) or the random test trial")
args = parser.parse_args()
if args.blas_threads != "auto":
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = args.blas_threads

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import io  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from _fake_trial import make_fake_trial  # noqa: E402
from hlt_replicate import balance, charts, randomisation, vocab, weighting  # noqa: E402
from hlt_replicate import impact as im  # noqa: E402

BUDGET_MS = 200.0


def png(fig) -> int:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.tell()


def main() -> None:
    if args.data == "fake":
        data = make_fake_trial(9785, seed=2026)
        data[vocab.WEIGHT] = weighting.ipw_weights(data)
        trial = None
    else:
        from hlt_replicate.teaching import load_trial

        trial = load_trial(seed=0)  # as the notebooks: weights included, cached after the first run
        data = trial.data
    from hlt_replicate.lessons import ch00, ch01, ch02, ch03
    itt = im.estimate_itt(data, "eq5d", "SCR")
    sub = im.subgroup_table(data, "paid_work", "OOW_pooled")
    asmd = weighting.asmd_table(data, "SCR_IW")
    cases = [
        ("randomisation", "assign_hlt(data, seed)", lambda: randomisation.assign_hlt(data, seed=1)),
        ("randomisation", "block_ra(group × area)", lambda: randomisation.block_ra(data["group"] + data["area"], seed=1)),
        ("randomisation", "hlt_design().permutation_matrix(1000)", lambda: randomisation.hlt_design(data).permutation_matrix(1000, seed=1)),
        ("randomisation", "ri_impact(eq5d, SCR, n_perm=1000)", lambda: randomisation.ri_impact(data, "eq5d", "SCR", n_perm=1000)),
        ("balance", "balance_table(SCR_OOW, weighted)", lambda: balance.balance_table(data, "SCR_OOW")),
        ("balance", "format_balance_table(...)", lambda: balance.format_balance_table(balance.balance_table(data, "WMCA_OOW"))),
        ("weighting", "response_rates(data) [Table 4-1]", lambda: weighting.response_rates(data)),
        ("weighting", "ipw_weights(data)", lambda: weighting.ipw_weights(data)),
        ("weighting", "survey_weights(trim='cap', k=3)", lambda: weighting.survey_weights(data, trim="cap", k=3)),
        ("weighting", "survey_weights(percentile + rake 4 margins)",
         lambda: weighting.survey_weights(data, trim="percentile", upper=0.98, rake_columns=weighting.RAKE_COLUMNS)),
        ("weighting", "trim_weights(cap, by group)", lambda: weighting.trim_weights(data[vocab.WEIGHT], "cap", k=2, by=data["group"])),
        ("weighting", "rake_to_population(4 margins)", lambda: weighting.rake_to_population(data, vocab.WEIGHT)),
        ("weighting", "asmd_table(SCR_IW, arms)", lambda: weighting.asmd_table(data, "SCR_IW")),
        ("weighting", "weight_summary(by group)", lambda: weighting.weight_summary(data[vocab.WEIGHT], data["group"])),
        ("impact", "estimate_itt(eq5d, SCR)", lambda: im.estimate_itt(data, "eq5d", "SCR")),
        ("impact", "estimate_participation(eq5d, SCR)", lambda: im.estimate_participation(data, "eq5d", "SCR")),
        ("impact", "impact_table(OOW_pooled, 12 outcomes)", lambda: im.impact_table(data, "OOW_pooled")),
        ("impact", "impact_table(SCR_IW, 3 primary, p_adjust='wy', reps=1000)",
         lambda: im.impact_table(data, "SCR_IW", vocab.PRIMARY_OUTCOMES, p_adjust="wy", wy_kwargs=dict(reps=1000))),
        ("impact", "impact_table(SCR, participation, 3)",
         lambda: im.impact_table(data, "SCR", vocab.PRIMARY_OUTCOMES, kind="participation")),
        ("impact", "format_impact_table(...)", lambda: im.format_impact_table(im.impact_table(data, "SCR_IW", vocab.SECONDARY_OUTCOMES))),
        ("impact", "subgroup_impacts(jsse, SCR_OOW, work_history)",
         lambda: im.subgroup_impacts(data, "jsse", "SCR_OOW", "work_history")),
        ("impact", "subgroup_table(paid_work, OOW_pooled, 4 dims)", lambda: im.subgroup_table(data, "paid_work", "OOW_pooled")),
        ("impact", "bloom_check(swemwbs, SCR)", lambda: im.bloom_check(data, "swemwbs", "SCR")),
        ("charts", "impact_chart(...) + PNG", lambda: png(charts.impact_chart(itt))),
        ("charts", "forest_plot(4 dims) + PNG", lambda: png(charts.forest_plot(sub))),
        ("charts", "love_plot(...) + PNG", lambda: png(charts.love_plot(asmd))),
        # the notebooks' widget callbacks, whole
        ("notebook 00", "column_view(age)", lambda: ch00.column_view(data, "age")),
        ("notebook 01", "rerandomise_view(blocks group)", lambda: ch01.rerandomise_view(data)),
        ("notebook 01", "rerandomise_view(blocks group × area)", lambda: ch01.rerandomise_view(data, strata=("group", "area"))),
        ("notebook 01", "rerandomise_view(blocks group × area × cohort)",
         lambda: ch01.rerandomise_view(data, strata=("group", "area", "cohort"))),
        ("notebook 02", "propensity_view(trial)", lambda: ch02.propensity_view(trial)),
        ("notebook 02", "weights_view(default)", lambda: ch02.weights_view(data)),
        ("notebook 02", "weights_view(trim cap k=3, rake)", lambda: ch02.weights_view(data, trim="cap", k=3.0, rake=True)),
        ("notebook 03", "impact_view(default)", lambda: ch03.impact_view(trial)),
        ("notebook 03", "impact_view(participation)", lambda: ch03.impact_view(trial, kind="participation")),
        ("notebook 03", "subgroup_view(default)", lambda: ch03.subgroup_view(data)),
    ]
    if trial is None:  # the random test trial has no ground truth for these views
        cases = [c for c in cases if c[1] not in ("propensity_view(trial)", "impact_view(default)", "impact_view(participation)")]
    rows = []
    for module, name, fn in cases:
        fn()  # warm-up
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append(1000 * (time.perf_counter() - t0))
        med = float(np.median(times))
        rows.append(dict(module=module, call=name, median_ms=round(med, 1), best_ms=round(min(times), 1),
                         under_200ms="yes" if med < BUDGET_MS else "NO"))
    table = pd.DataFrame(rows)
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(data):,} recruits; {args.repeat} repeats; OpenBLAS threads: {threads}; load average {load:.2f}")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
