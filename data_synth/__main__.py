"""Command line: ``python -m data_synth generate|check``.

generate --out DIR [--seed N] [--mode exact|sampled] [--targets FILE] [--scale K] [--jobs J] [--no-best-effort]
    writes DIR/recruits.csv, DIR/truth.json and DIR/manifest.json (and, for a targets file
    other than the kit's own, a copy of it as DIR/targets.yaml), then prints the
    calibration summary.
check --data DIR [--targets FILE] [--all]
    prints every target beside its achieved value, source and met/missed; exits 1 if any
    target is missed. Without --targets: the targets file the data were generated from
    (manifest.json records its SHA-256: the kit's own, or DIR/targets.yaml).
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

from .errors import TargetError
from .io import read_trial, write_trial
from .targets import load_targets


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
    g.add_argument("--no-best-effort", dest="best_effort", action="store_false",
                   help="exact mode: meet every target but skip the best-effort cells of Tables 4-2..4-4 (joint p-values, "
                        "weighted levels just outside their rounding) that the scorecard compares; about half the time")
    g.add_argument("--quiet", action="store_true", help="do not print the calibration summary")
    c = sub.add_parser("check", help="compare a generated trial with its targets")
    c.add_argument("--data", required=True, type=Path, help="folder written by generate")
    c.add_argument("--targets", type=Path, default=None, help="targets YAML (default: the one the data were generated from, by manifest.json's SHA-256: "
                        "the kit's own or DIR/targets.yaml)")
    c.add_argument("--all", action="store_true", help="also list published cells that are not generator targets")
    return p


#: the copy of a targets file other than the kit's own that ``generate`` writes beside the data
TARGETS_COPY = "targets.yaml"


def targets_for_check(given: Path | None, manifest: dict, folder: Path) -> Path | None:
    """The targets file ``check`` compares the data with: ``given`` (``--targets``), else
    the one ``manifest.json`` records by its SHA-256 — ``None`` for the kit's own file,
    ``folder/targets.yaml`` for a copy ``generate`` wrote. Raises :class:`TargetError`
    when the recorded file is found nowhere (a check against another file would report
    misses that are not the generator's). A ``given`` file other than the recorded one is
    used, with a note on standard error."""
    recorded = manifest.get("targets") or {}
    sha = recorded.get("sha256")
    if given is not None:
        if sha and load_targets(given).digest != sha:
            print(f"note: {given} is not the targets file these data were generated from ({recorded.get('file')}, "
                  f"sha256 {sha[:12]}...); checking against it as asked", file=sys.stderr)
        return given
    if not sha or load_targets().digest == sha:
        return None
    copy = Path(folder) / TARGETS_COPY
    if copy.is_file() and hashlib.sha256(copy.read_bytes()).hexdigest() == sha:
        return copy
    raise TargetError(f"{Path(folder) / 'manifest.json'} records that these data were generated from targets file "
                      f"{recorded.get('file')!r} (sha256 {sha[:12]}...), which is not the kit's own and is not in {folder} "
                      f"as {TARGETS_COPY}: pass it with --targets FILE")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from .check import calibration_report, format_report

    try:
        if args.command == "generate":
            from .generator import generate_trial

            gen = generate_trial(args.targets, seed=args.seed, mode=args.mode, scale=args.scale, jobs=args.jobs,
                                 best_effort=args.best_effort)
            write_trial(gen, args.out)
            if args.targets is not None and gen.manifest["targets"]["sha256"] != load_targets().digest:
                shutil.copyfile(args.targets, args.out / TARGETS_COPY)  # so that `check --data` finds it
            print(f"wrote {len(gen.data):,} recruits to {args.out}/recruits.csv (seed {args.seed}, mode {args.mode})")
            if not args.quiet:
                rep = calibration_report(gen.data, args.targets, scale=args.scale)
                print(format_report(rep).splitlines()[-1])
            return 0
        data, manifest = read_trial(args.data)
        targets = targets_for_check(args.targets, manifest, args.data)
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
