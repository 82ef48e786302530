"""Time and peak memory of generating the synthetic trial (issue: foundation).

Aims on the 2-core reference machine: 9,785 recruits in <= 2 s; ``--scale 100`` (~1 M rows)
in <= 60 s and <= 4 GB. Each configuration runs in a fresh subprocess so its peak resident
memory can be read; times exclude interpreter start-up and imports. Prints a table.
"""
from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import data_synth
scale, mode = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
d = data_synth.generate(seed=0, mode=mode, scale=scale)
dt = time.perf_counter() - t0
print(json.dumps({"rows": len(d), "seconds": dt, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CONFIGS = [(1, "exact", 2.0, None), (1, "sampled", 2.0, None), (100, "sampled", 60.0, 4096), (100, "exact", 60.0, 4096)]


def main() -> None:
    rows = []
    for scale, mode, aim_s, aim_mb in CONFIGS:
        out = subprocess.run([sys.executable, "-c", CHILD, str(scale), mode], capture_output=True, text=True)
        if out.returncode != 0:
            rows.append((scale, mode, "error", out.stderr.strip().splitlines()[-1][:60], "", ""))
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((scale, mode, f"{r['rows']:,}", f"{r['seconds']:.2f}", f"{r['peak_mb']:.0f}",
                     f"<= {aim_s:g} s" + (f", <= {aim_mb / 1024:g} GB" if aim_mb else "")))
    head = ("scale", "mode", "rows", "seconds", "peak MB", "aim")
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for line in (head, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))


if __name__ == "__main__":
    main()
