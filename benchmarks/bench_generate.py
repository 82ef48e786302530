"""Time and peak memory of generating the synthetic trial (issue: foundation).

Aims on the 2-core reference machine: 9,785 recruits in <= 2 s; ``--scale 100`` (~1 M rows)
in <= 60 s and <= 4 GB. Each configuration runs in a fresh subprocess; times exclude
interpreter start-up and imports. Peak memory is that of the whole process tree (the trial
groups' stages run in forked workers, ``jobs``): the largest sum, sampled every 250 ms from
the parent (a sampling thread inside would stop generate() from forking), of the
proportional set sizes (shared pages split between the processes sharing them) of the
process and its workers, and at least the process's own peak resident size. The exact
9,785-recruit configuration also runs with ``jobs=1``, and with ``best_effort=False``
(mode ``exact:no-best-effort``: every target met, the best-effort cells of Tables 4-2..4-4
not aimed at); the table's last column gives each configuration's time as a ratio of the
``jobs=1`` run's (same run, same machine). Prints a table.

``--stages`` adds, per configuration, the CPU time spent in each stage of
:func:`data_synth.generator.generate_trial` and the process's peak memory when the stage
last returned (a stage that raises the peak is the one to look at)::

    python benchmarks/bench_generate.py                 # the five configurations
    python benchmarks/bench_generate.py --stages 1:exact 10:exact
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import collections, json, resource, sys, time
import data_synth
from data_synth import generator as G

def peak_mb():  # this process's own peak resident size; the parent samples its workers too
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
jobs = None if sys.argv[4] == "default" else int(sys.argv[4])
if stages:
    for name in STAGES:
        if hasattr(G, name):
            setattr(G, name, timed(name, getattr(G, name)))
t0 = time.perf_counter()
mode, _, option = mode.partition(":")  # "exact:no-best-effort": generate(best_effort=False)
d = data_synth.generate(seed=0, mode=mode, scale=scale, jobs=1 if stages else jobs, best_effort=option != "no-best-effort")
dt = time.perf_counter() - t0
print(json.dumps({"rows": len(d), "seconds": dt, "peak_mb": peak_mb(),
                  "stages": [(s, cpu[s], peak[s]) for s in STAGES if s in peak]}))
"""

#: (scale, mode, jobs, aim seconds, aim MB); jobs "default" is generate()'s own choice
CONFIGS = [(1, "exact", "default", 2.0, None), (1, "exact", "1", 2.0, None), (1, "exact:no-best-effort", "default", 2.0, None),
           (1, "sampled", "default", 2.0, None),
           (100, "sampled", "default", 60.0, 4096), (100, "exact", "default", 60.0, 4096)]
REFERENCE = (1, "exact", "1")  # the ratio column's denominator


def _mb(pid: int) -> float:
    """Proportional set size of a process (resident size where smaps_rollup is missing), MB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _children(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def run(scale: int, mode: str, stages: bool, jobs: str = "default") -> dict:
    """One configuration in a fresh subprocess. Its process tree's memory is sampled from
    here: a sampling thread inside it would make it a process running threads, which
    generate() by default does not fork (data_synth.workers), and time the wrong thing."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(scale), mode, "1" if stages else "0", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = 0.0
    if os.path.isdir("/proc"):
        while proc.poll() is None:
            tree = max(tree, _mb(proc.pid) + sum(_mb(k) for k in _children(proc.pid)))
            time.sleep(0.25)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        return {"error": (stderr.strip().splitlines() or ["?"])[-1][:60]}
    out = json.loads(stdout.strip().splitlines()[-1])
    out["peak_mb"] = max(out["peak_mb"], tree)
    return out


def table(head: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in (head, *rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", nargs="*", metavar="SCALE:MODE",
                    help="per-stage table for these configurations (default: every configuration)")
    args = ap.parse_args()
    if args.stages is None:
        configs, stages = [c[:3] for c in CONFIGS], False
    else:  # stage times are read in the one process: jobs=1
        configs = [(int(c.split(":")[0]), c.split(":")[1], "1") for c in args.stages] or [c[:3] for c in CONFIGS if c[2] == "1"]
        stages = True
    aims = {(s, m): (a, mb) for s, m, _, a, mb in CONFIGS}
    rows, details, results = [], [], {}
    for scale, mode, jobs in configs:
        r = results[scale, mode, jobs] = run(scale, mode, stages, jobs)
        aim_s, aim_mb = aims.get((scale, mode), (None, None))
        aim = (f"<= {aim_s:g} s" if aim_s else "") + (f", <= {aim_mb / 1024:g} GB" if aim_mb else "")
        if "error" in r:
            rows.append([scale, mode, jobs, "error", r["error"], "", aim])
            continue
        rows.append([scale, mode, jobs, f"{r['rows']:,}", f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}", aim])
        if stages:
            details.append((f"scale {scale}, {mode}", r["stages"]))
    ref = results.get(REFERENCE, {}).get("seconds")
    head = ("scale", "mode", "jobs", "rows", "seconds", "peak MB", "aim") + (("x exact 9,785 jobs=1",) if ref else ())
    for row, r in zip(rows, results.values()):
        if ref:
            row.append(f"{r['seconds'] / ref:.2f}" if "seconds" in r else "")
    print(table(head, [tuple(r) for r in rows]))
    for title, st in details:
        print(f"\n{title}: CPU seconds per stage, peak MB when the stage last returned")
        print(table(("stage", "cpu s", "peak MB"), [(s, f"{t:.2f}", f"{p:.0f}") for s, t, p in st]))


if __name__ == "__main__":
    main()
