"""Command line: ``hlt-replicate run|audit|scorecard``.

``hlt-replicate run [--out DIR] [--seed N] [--mode exact|sampled] [--reps B] [--notebooks all|none|05,06]``
    the full replication run (:func:`hlt_replicate.run.run`): generate the synthetic trial,
    execute the notebooks into DIR/notebooks/, write DIR/scorecard.csv and DIR/report.html.
    Exits 1 when a notebook fails, 2 on a usage or input error.
``hlt-replicate audit [--all]``
    print the audit's findings on the published tables (no data needed).
``hlt-replicate scorecard --data DIR [--reps B] [--seed N] [--out FILE]``
    score an existing generated trial (a folder written by ``python -m data_synth generate``).

Until the console script is installed, run it as ``python -m hlt_replicate.cli ...``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .impact import STAR_CONVENTIONS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hlt-replicate", description="Replicate the Health-led Employment Trials evaluation on a synthetic trial.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="generate, execute the notebooks, score every published number, write the report")
    r.add_argument("--out", type=Path, default=Path("output/replication"), help="output folder (default output/replication)")
    r.add_argument("--seed", type=int, default=0, help="random seed for the trial and every resampling (default 0)")
    r.add_argument("--mode", choices=("exact", "sampled"), default="exact",
                   help="exact: the calibrated trial (default); sampled: plain draws, scored for --n-seeds seeds")
    r.add_argument("--reps", type=int, default=1000, help="Westfall-Young permutations (default 1000; the report used 10,000)")
    r.add_argument("--notebooks", default="all", help="all (default), none, or a comma list of names or numbers, e.g. 05,06")
    r.add_argument("--notebooks-dir", type=Path, default=None, help="folder of NN_*.ipynb (default: notebooks/ of the checkout)")
    r.add_argument("--n-seeds", type=int, default=20, help="sampled mode: number of seeds (default 20)")
    r.add_argument("--stars", choices=tuple(STAR_CONVENTIONS), default="section_4_3",
                   help="star convention of the impact tables (default section_4_3: 90/95/99%%)")
    r.add_argument("--timeout", type=int, default=900, help="seconds per notebook cell (default 900)")
    r.add_argument("--quiet", action="store_true", help="print only the final summary")
    a = sub.add_parser("audit", help="print the arithmetic audit of the published tables")
    a.add_argument("--all", action="store_true", help="also list the checks that pass")
    a.add_argument("--csv", type=Path, default=None, help="write every check to this CSV file")
    s = sub.add_parser("scorecard", help="score an existing generated trial")
    s.add_argument("--data", type=Path, required=True, help="folder written by `python -m data_synth generate`")
    s.add_argument("--reps", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--stars", choices=tuple(STAR_CONVENTIONS), default="section_4_3")
    s.add_argument("--out", type=Path, default=None, help="write the scorecard CSV here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            from .run import run

            def log(msg: str) -> None:
                print(msg, file=sys.stderr, flush=True)

            res = run(args.out, seed=args.seed, mode=args.mode, reps=args.reps, notebooks=args.notebooks,
                      notebooks_dir=args.notebooks_dir, n_seeds=args.n_seeds, stars=args.stars, timeout=args.timeout,
                      log=(lambda m: None) if args.quiet else log, progress_bar=not args.quiet)
            from .scorecard import match_rate

            mr = match_rate(res.scorecard)
            print(f"match rate {100 * mr['match_rate']:.1f}% ({mr['match']}/{mr['reproducible']} reproducible cells; "
                  f"{mr['close']} close, {mr['miss']} miss, {mr['published_inconsistent']} published-inconsistent); "
                  f"audit: {int((res.audit['status'] != 'consistent').sum())} findings; "
                  f"notebooks: {sum(n.status == 'ok' for n in res.notebooks)}/{len(res.notebooks)} ran; "
                  f"report: {res.files['report']}")
            return res.exit_code
        if args.command == "audit":
            from .audit import audit_reports, crosscheck_inconsistencies

            aud = audit_reports()
            show = aud if args.all else aud[aud["status"] != "consistent"]
            for r in show.itertuples():
                print(f"[{r.status}] {r.table} — {r.cell} (line {r.line}): printed {r.printed}\n    {r.arithmetic}\n    kit: {r.treatment}")
            cross = crosscheck_inconsistencies(aud)
            print(f"\n{len(aud)} checks, {int((aud['status'] != 'consistent').sum())} findings; "
                  f"{int(cross['rediscovered'].sum())}/{len(cross)} of the targets file's inconsistencies rediscovered")
            if args.csv:
                out = aud.copy()
                out["cells"] = out["cells"].map(" ".join)
                out.to_csv(args.csv, index=False)
            return 0
        if args.command == "scorecard":
            from data_synth.io import read_trial

            from .scorecard import build_scorecard, match_rate, misses_by_reason, write_scorecard

            data, _ = read_trial(args.data)
            card = build_scorecard(data, reps=args.reps, seed=args.seed, stars=args.stars)
            mr = match_rate(card)
            print(misses_by_reason(card).to_string(index=False))
            print(f"\nmatch rate {100 * mr['match_rate']:.1f}% ({mr['match']}/{mr['reproducible']}); {mr['close']} close, "
                  f"{mr['miss']} miss, {mr['published_inconsistent']} published-inconsistent")
            if args.out:
                write_scorecard(card, args.out)
            return 0
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
