"""Start Voila on the dashboards in ``dashboards/`` (one server for all five).

Usage, from the repository root::

    .venv/bin/python scripts/serve_dashboards.py                 # http://127.0.0.1:8866/
    .venv/bin/python scripts/serve_dashboards.py --port 8870 --seed 7
    .venv/bin/python scripts/serve_dashboards.py --data output/trial-seed7
    .venv/bin/python scripts/serve_dashboards.py --ip 0.0.0.0     # let laptops on the room's network connect

It prepares the data once (generating and caching the synthetic trial takes a few seconds the
first time; every dashboard page then loads it from the cache), prints the address of each
dashboard and then runs, in place of this script::

    JUPYTER_PATH=dashboards/_voila python -m voila dashboards/ --no-browser --port PORT --Voila.ip=IP \\
        --template=hlt --show_tracebacks=True --MappingKernelManager.cull_interval=60 \\
        --MappingKernelManager.cull_idle_timeout=300 \\
        --KernelManager.transport=ipc --KernelManager.ip=/tmp/hlt-kernels-XXXX/kernel

(the last line on Linux and macOS: the kernels talk to Voila over local sockets in a fresh
temporary folder, not TCP ports).

The "hlt" template (``dashboards/_voila``) is Voila's "lab" template without the two Font
Awesome stylesheets it links from a CDN, so no page fetches anything from the internet.
Stop it with Ctrl+C. Each open browser tab runs its own kernel (a few hundred MB); closing the
tab ends it.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "dashboards"
#: A Voila template ("hlt": the stock "lab" template without its two CDN stylesheet links).
TEMPLATES = DASHBOARDS / "_voila"


def voila_command(port: int, ip: str, preheat: bool = False, sockets: str | None = None) -> list[str]:
    """Voila's command line. ``sockets``: a folder for the kernels' local (IPC) sockets, so
    they open no TCP port and ipykernel 7 does not log "running over TCP without
    encryption" for every visitor's kernel (POSIX; None keeps TCP)."""
    cmd = [sys.executable, "-m", "voila", str(DASHBOARDS), "--no-browser", f"--port={port}", f"--Voila.ip={ip}",
           "--template=hlt", "--show_tracebacks=True",
           # shut down the kernel of a page nobody has had open for 5 minutes (a closed laptop)
           "--MappingKernelManager.cull_interval=60", "--MappingKernelManager.cull_idle_timeout=300"]
    if sockets is not None:
        cmd += ["--KernelManager.transport=ipc", f"--KernelManager.ip={Path(sockets) / 'kernel'}"]
    if preheat:  # run each dashboard once in the background so the first visitor waits less
        cmd += ["--preheat_kernel=True", "--pool_size=1"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the hlt-replicate dashboards with Voila.")
    parser.add_argument("--port", type=int, default=8866)
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0: every network interface)")
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--seed", type=int, default=None, help="synthetic trial seed (default $HLT_SEED or 0)")
    src.add_argument("--data", default=None, help="a folder written by `python -m data_synth generate --out DIR`")
    parser.add_argument("--no-warm", action="store_true", help="do not prepare the data before starting")
    parser.add_argument("--preheat", action="store_true", help="keep one pre-run kernel per dashboard (more memory)")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join([str(TEMPLATES), *filter(None, [env.get("JUPYTER_PATH")])])
    if args.seed is not None:
        env["HLT_SEED"] = str(args.seed)
    if args.data is not None:
        folder = Path(args.data).resolve()
        if not (folder / "recruits.csv").exists():
            parser.error(f"{folder} has no recruits.csv: run `python -m data_synth generate --out {args.data}` first")
        env["HLT_DATA"] = str(folder)
    if not args.no_warm and "HLT_DATA" not in env:
        os.environ.update(env)
        from hlt_replicate.dashboards import load_data

        print("Preparing the synthetic trial (seed %s)..." % env.get("HLT_SEED", "0"), flush=True)
        load_data()

    from hlt_replicate.dashboards import DASHBOARDS as NAMES

    shown = "127.0.0.1" if args.ip in ("0.0.0.0", "::") else args.ip
    print(f"Dashboards at http://{shown}:{args.port}/ (if that port is taken, Voila picks the next free one and "
          "says so below):", flush=True)
    for name, what in NAMES.items():
        print(f"  http://{shown}:{args.port}/voila/render/{name}.ipynb   {what}", flush=True)
    if os.name == "posix":  # become Voila: Ctrl+C and SIGTERM reach it directly
        # the kernels' sockets: a fresh folder (jupyter_client removes each kernel's socket
        # files when it shuts down; the empty folder stays in the temporary directory)
        cmd = voila_command(args.port, args.ip, args.preheat, sockets=tempfile.mkdtemp(prefix="hlt-kernels-"))
        os.execve(sys.executable, cmd, env)
    return subprocess.call(voila_command(args.port, args.ip, args.preheat), env=env)


if __name__ == "__main__":
    sys.exit(main())
