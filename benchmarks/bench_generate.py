"""Time and peak memory of generating the synthetic trial (issue: foundation).

Aims on the 2-core reference machine: 9,785 recruits in <= 2 s; ``--scale 100`` (~1 M rows)
in <= 60 s and <= 4 GB. Each configuration runs in a fresh subprocess so its peak resident
memory can be read; times exclude interpreter start-up and imports. Prints a table.

``--stages`` adds, per configuration, the CPU time spent in each stage of
:func:`data_synth.generator.generate_trial` and the process's peak memory when the stage
last returned (a stage that raises the peak is the one to look at)::

    python benchmarks/bench_generate.py                 # the four configurations
    python benchmarks/bench_generate.py --stages 1:exact 10:exact
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import collections, json, resource, sys, time
import data_synth
from data_synth import generator as G

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

# the stage functions generate_trial calls by name (those present in this version)
STAGES = ["draw_group", "draw_response", "calibrate_weighted_sample", "ipw_weights",
          "calibrate_baseline_differences", "draw_ips", "draw_outcomes", "draw_admin", "resolve_pooled_means",
          "calibrate_pooled_estimates", "_assign_ids"]
cpu, peak = collections.defaultdict(float), {}

def timed(name, f):
    def run(*args, **kwargs):
        t = time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            cpu[name] += time.process_time() - t
            peak[name] = peak_mb()
    return run

scale, mode, stages = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
if stages:
    for name in STAGES:
        if hasattr(G, name):
            setattr(G, name, timed(name, getattr(G, name)))
t0 = time.perf_counter()
d = data_synth.generate(seed=0, mode=mode, scale=scale)
dt = time.perf_counter() - t0
print(json.dumps({"rows": len(d), "seconds": dt, "peak_mb": peak_mb(),
                  "stages": [(s, cpu[s], peak[s]) for s in STAGES if s in peak]}))
"""

CONFIGS = [(1, "exact", 2.0, None), (1, "sampled", 2.0, None), (100, "sampled", 60.0, 4096), (100, "exact", 60.0, 4096)]


def run(scale: int, mode: str, stages: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(scale), mode, "1" if stages else "0"], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:60]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(head: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in (head, *rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", nargs="*", metavar="SCALE:MODE",
                    help="per-stage table for these configurations (default: every configuration)")
    args = ap.parse_args()
    aims = {(s, m): (a, mb) for s, m, a, mb in CONFIGS}
    if args.stages is None:
        configs, stages = [(s, m) for s, m, _, _ in CONFIGS], False
    else:
        configs = [(int(c.split(":")[0]), c.split(":")[1]) for c in args.stages] or [(s, m) for s, m, _, _ in CONFIGS]
        stages = True
    rows, details = [], []
    for scale, mode in configs:
        r = run(scale, mode, stages)
        aim_s, aim_mb = aims.get((scale, mode), (None, None))
        aim = (f"<= {aim_s:g} s" if aim_s else "") + (f", <= {aim_mb / 1024:g} GB" if aim_mb else "")
        if "error" in r:
            rows.append((scale, mode, "error", r["error"], "", aim))
            continue
        rows.append((scale, mode, f"{r['rows']:,}", f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}", aim))
        if stages:
            details.append((f"scale {scale}, {mode}", r["stages"]))
    print(table(("scale", "mode", "rows", "seconds", "peak MB", "aim"), rows))
    for title, st in details:
        print(f"\n{title}: CPU seconds per stage, peak MB when the stage last returned")
        print(table(("stage", "cpu s", "peak MB"), [(s, f"{t:.2f}", f"{p:.0f}") for s, t, p in st]))


if __name__ == "__main__":
    main()
