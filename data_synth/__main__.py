"""Command line: ``python -m data_synth generate|check``.

generate --out DIR [--seed N] [--mode exact|sampled] [--targets FILE] [--scale K] [--jobs J]
    writes DIR/recruits.csv, DIR/truth.json and DIR/manifest.json, then prints the
    calibration summary.
check --data DIR [--targets FILE] [--all]
    prints every target beside its achieved value, source and met/missed; exits 1 if any
    target is missed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import TargetError
from .io import read_trial, write_trial


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m data_synth", description="Synthetic Health-led Employment Trials data.")
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate the synthetic trial")
    g.add_argument("--out", required=True, type=Path, help="output folder")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    g.add_argument("--mode", choices=("exact", "sampled"), default="exact",
                   help="exact: calibrated to every target (default); sampled: a plain draw from the same process")
    g.add_argument("--targets", type=Path, default=None, help="targets YAML (default: the HLT 4-month targets)")
    g.add_argument("--scale", type=int, default=1, help="multiply every count by K (e.g. 100 for ~1M rows)")
    g.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the independent pieces of work (default, on Linux in exact mode and for large "
                        "sampled trials: one per trial group, then one per CPU, at most 3; else 1; the output is the same)")
    g.add_argument("--quiet", action="store_true", help="do not print the calibration summary")
    c = sub.add_parser("check", help="compare a generated trial with its targets")
    c.add_argument("--data", required=True, type=Path, help="folder written by generate")
    c.add_argument("--targets", type=Path, default=None, help="targets YAML (default: the one recorded in manifest.json)")
    c.add_argument("--all", action="store_true", help="also list published cells that are not generator targets")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .check import calibration_report, format_report

    try:
        if args.command == "generate":
            from .generator import generate_trial

            gen = generate_trial(args.targets, seed=args.seed, mode=args.mode, scale=args.scale, jobs=args.jobs)
            write_trial(gen, args.out)
            print(f"wrote {len(gen.data):,} recruits to {args.out}/recruits.csv (seed {args.seed}, mode {args.mode})")
            if not args.quiet:
                rep = calibration_report(gen.data, args.targets, scale=args.scale)
                print(format_report(rep).splitlines()[-1])
            return 0
        data, manifest = read_trial(args.data)
        targets = args.targets
        rep = calibration_report(data, targets, scale=manifest.get("scale", 1))
        print(format_report(rep, show="all" if args.all else "targets"))
        if manifest.get("mode") == "sampled":
            print("(sampled mode: targets are met only up to sampling error)")
        return 1 if (rep["status"] == "missed").any() else 0
    except (TargetError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
