"""The replication run: generate the trial, execute the notebooks, score every published
number, audit the reports, write ``scorecard.csv`` and a self-contained ``report.html``.

:func:`run` is what ``hlt-replicate run`` calls (see :mod:`hlt_replicate.cli`). Steps:

1. generate the synthetic trial with ``data_synth`` (imported here, lazily: it sits above the
   analysis core) and write it to ``OUT/trial/`` (``recruits.csv``, ``truth.json``,
   ``manifest.json``);
2. execute every lesson notebook ``notebooks/NN_*.ipynb`` in order with nbclient into
   ``OUT/notebooks/`` (folders such as ``_build`` are skipped). A notebook that fails is
   written with its outputs up to the error and recorded; the run goes on and exits non-zero;
3. compute the scorecard (:func:`hlt_replicate.scorecard.build_scorecard`) — in ``sampled``
   mode for ``n_seeds`` seeds, to show the spread that sampling alone produces;
4. audit the published tables (:func:`hlt_replicate.audit.audit_reports`);
5. write ``scorecard.csv`` (the columns of :data:`~hlt_replicate.scorecard.COLUMNS`),
   ``scorecard_full.csv`` (with ids, lines and unrounded values), ``audit.csv``,
   ``run.json`` and ``report.html`` (:mod:`hlt_replicate.report`).

Notebooks receive the run's parameters as environment variables (they may ignore them):

========================  ==================================================================
``HLT_RUN``               ``1`` inside a replication run
``HLT_SEED``              the seed (``--seed``)
``HLT_MODE``              ``exact`` or ``sampled``
``HLT_REPS``              Westfall–Young resamples (``--reps``)
``HLT_DATA``              folder of the generated trial (``OUT/trial``; read it with
                          ``data_synth.io.load_trial``)
``HLT_OUT``               the run's output folder
``HLT_SEEDS_DIR``         passed through when set (the source reports)
``HLT_BLAS_THREADS``      passed through when set
========================  ==================================================================

Everything is seeded: the same seed, mode and reps give the same ``scorecard.csv``.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import __version__
from .audit import audit_reports, crosscheck_inconsistencies
from .scorecard import DEFAULT_STARS, build_scorecard, disputed_exclusions, match_rate, sampled_spread, write_scorecard

MODES = ("exact", "sampled")
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hlt-replicate", "numpy", "pandas", "scipy", "statsmodels", "linearmodels", "matplotlib", "pyyaml",
            "nbclient", "nbformat", "ipykernel", "threadpoolctl")


@dataclass
class NotebookResult:
    """One executed notebook: ``status`` is ``ok``, ``failed`` or ``skipped``."""

    name: str
    source: Path
    output: Path | None
    status: str
    seconds: float = 0.0
    error: str = ""
    cell: int | None = None


@dataclass
class RunResult:
    out: Path
    params: dict
    scorecard: pd.DataFrame
    audit: pd.DataFrame
    crosscheck: pd.DataFrame
    disputed: pd.DataFrame
    notebooks: list[NotebookResult]
    spread: tuple[pd.DataFrame, pd.DataFrame] | None
    timings: dict[str, float]
    manifest: dict = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    sampled_cards: pd.DataFrame | None = None  # sampled mode: id, seed, value, status of every seed's cells

    @property
    def notebooks_failed(self) -> list[NotebookResult]:
        return [n for n in self.notebooks if n.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every executed notebook ran; 1 when one failed."""
        return 1 if self.notebooks_failed else 0


def package_versions() -> dict[str, str | None]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def discover_notebooks(folder: str | Path | None = None) -> list[Path]:
    """The lesson notebooks ``NN_*.ipynb`` of ``folder`` (default ``notebooks/`` of the
    checkout), in order. Subfolders (``_build``, checkpoints) are not searched."""
    folder = Path(folder) if folder is not None else ROOT / "notebooks"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(NOTEBOOK_PATTERN) if p.is_file())


def select_notebooks(paths: Sequence[Path], spec: str) -> list[Path]:
    """``all``, ``none``, or a comma-separated list of names or number prefixes (``05,06``)."""
    spec = (spec or "all").strip()
    if spec == "all":
        return list(paths)
    if spec == "none":
        return []
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    out = [p for p in paths if any(p.stem == w or p.name == w or p.stem.startswith(w + "_") or p.stem.split("_")[0] == w for w in wanted)]
    missing = [w for w in wanted if not any(p.stem == w or p.name == w or p.stem.split("_")[0] == w for p in paths)]
    if missing:
        raise ValueError(f"no notebook matches {missing}; available: {[p.name for p in paths]}")
    return out


class SlicedShellWait:
    """Wait for kernel replies in slices of ``step`` seconds instead of one long poll.

    With widget cells, nbclient's single ``shell_channel.get_msg(timeout=cell_timeout)`` can
    miss the socket's wake-up and return the reply only when the whole timeout expires
    (jupyter/nbclient#312): a 300 s stall per affected cell, seen on this machine in the main
    job. Re-polling every ``step`` seconds re-checks the socket, so a missed wake-up costs at
    most ``step``. Used as a context manager around notebook execution."""

    def __init__(self, step: float = 0.5):
        self.step = step

    def __enter__(self):
        from jupyter_client.channels import AsyncZMQSocketChannel

        self._cls, self._orig = AsyncZMQSocketChannel, AsyncZMQSocketChannel.get_msg
        orig, step = self._orig, self.step

        async def get_msg(channel, timeout=None):
            from queue import Empty

            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    return await orig(channel, timeout=step if left is None else min(step, left))
                except Empty:
                    if left is not None and left <= step:
                        raise

        AsyncZMQSocketChannel.get_msg = get_msg
        return self

    def __exit__(self, *exc):
        self._cls.get_msg = self._orig
        return False


def execute_notebooks(paths: Sequence[Path], out_dir: Path, env: dict[str, str], *, timeout: int = 900,
                      log: Callable[[str], None] = print) -> list[NotebookResult]:
    """Execute each notebook in its own folder (so relative paths work) with nbclient and
    write it, outputs included, to ``out_dir``. A failure is recorded, never raised.

    On POSIX the kernels talk over local (IPC) sockets in a temporary folder, not TCP: no
    port is opened, and ipykernel 7 does not print its "running over TCP without
    encryption" warning once per notebook."""
    import tempfile

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hlt-kernels-") as sockets:
        return _execute(paths, out_dir, env, timeout, log, Path(sockets) if os.name == "posix" else None)


def _notebook_client(ipc_dir: Path | None):
    """nbclient's ``NotebookClient``, its kernels on IPC sockets in ``ipc_dir`` when given."""
    from nbclient import NotebookClient

    class Client(NotebookClient):
        def create_kernel_manager(self):
            km = super().create_kernel_manager()
            if ipc_dir is not None:
                km.transport, km.ip = "ipc", str(ipc_dir / "kernel")
            return km

    return Client


def _execute(paths, out_dir: Path, env: dict[str, str], timeout: int, log, ipc_dir: Path | None) -> list[NotebookResult]:
    import nbformat
    from nbclient.exceptions import CellExecutionError

    Client = _notebook_client(ipc_dir)
    results = []
    for i, src in enumerate(paths, 1):
        dest = out_dir / src.name
        t0 = time.perf_counter()
        log(f"    [{i}/{len(paths)}] {src.name} ...")
        try:
            nb = nbformat.read(src, as_version=4)
        except Exception as err:  # unreadable notebook
            results.append(NotebookResult(src.stem, src, None, "failed", 0.0, f"cannot read: {type(err).__name__}: {err}"))
            log(f"        failed: cannot read ({err})")
            continue
        kernel = (nb.metadata.get("kernelspec") or {}).get("name", "python3")
        client = Client(nb, timeout=timeout, kernel_name=kernel, allow_errors=False,
                        resources={"metadata": {"path": str(src.parent)}})
        status, error, cell = "ok", "", None
        try:
            with SlicedShellWait():
                client.execute(env={**os.environ, **env})
        except CellExecutionError as err:
            status = "failed"
            cell = _failed_cell(nb)
            error = f"{getattr(err, 'ename', 'Error')}: {getattr(err, 'evalue', str(err))}"
        except Exception as err:  # timeout, dead kernel, missing kernel …
            status = "failed"
            cell = _failed_cell(nb)
            error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        secs = time.perf_counter() - t0
        try:
            nbformat.write(nb, dest)
        except Exception as err:  # pragma: no cover - disk problems
            error += f" (could not write the executed notebook: {err})"
            dest = None
        results.append(NotebookResult(src.stem, src, dest, status, secs, error, cell))
        log(f"        {status} in {secs:.1f} s" + (f" — cell {cell}: {error}" if status != "ok" else ""))
    return results


def _failed_cell(nb) -> int | None:
    for i, c in enumerate(nb.cells):
        for o in c.get("outputs", []) if c.cell_type == "code" else []:
            if o.get("output_type") == "error":
                return i
    return None


def run(
    out: str | Path = "output/replication",
    *,
    seed: int = 0,
    mode: str = "exact",
    reps: int = 1000,
    notebooks: str = "all",
    notebooks_dir: str | Path | None = None,
    n_seeds: int = 20,
    stars: str = DEFAULT_STARS,
    timeout: int = 900,
    log: Callable[[str], None] = print,
    progress_bar: bool = True,
) -> RunResult:
    """The whole replication run (see the module docstring). Returns a :class:`RunResult`;
    its ``exit_code`` is 1 when a notebook failed."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(reps, int) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    if mode == "sampled" and (not isinstance(n_seeds, int) or n_seeds < 1):
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    import data_synth  # the generator sits above the analysis core: imported here
    from data_synth.io import write_trial

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    selected = select_notebooks(discover_notebooks(notebooks_dir), notebooks)
    steps = 5
    params = dict(seed=seed, mode=mode, reps=reps, notebooks=notebooks, n_seeds=n_seeds if mode == "sampled" else 1,
                  stars=stars, timeout=timeout)

    # 1. the synthetic trial
    t0 = time.perf_counter()
    log(f"[1/{steps}] generating the synthetic trial (seed {seed}, {mode} mode) ...")
    gen = data_synth.generate_trial(seed=seed, mode=mode)
    trial_dir = out / "trial"
    write_trial(gen, trial_dir)
    timings["generate"] = time.perf_counter() - t0
    log(f"      {len(gen.data):,} recruits -> {trial_dir} ({timings['generate']:.1f} s)")

    # 2. notebooks
    t0 = time.perf_counter()
    env = {"HLT_RUN": "1", "HLT_SEED": str(seed), "HLT_MODE": mode, "HLT_REPS": str(reps),
           "HLT_DATA": str(trial_dir.resolve()), "HLT_OUT": str(out.resolve())}
    for k in ("HLT_SEEDS_DIR", "HLT_BLAS_THREADS"):
        if os.environ.get(k):
            env[k] = os.environ[k]
    log(f"[2/{steps}] executing {len(selected)} notebook(s) ...")
    nb_results = execute_notebooks(selected, out / "notebooks", env, timeout=timeout, log=log) if selected else []
    timings["notebooks"] = time.perf_counter() - t0

    # 3. audit (no data needed) and scorecard
    t0 = time.perf_counter()
    log(f"[3/{steps}] auditing the published tables ...")
    audit = audit_reports()
    cross = crosscheck_inconsistencies(audit)
    disputed = disputed_exclusions(audit)
    timings["audit"] = time.perf_counter() - t0
    n_find = int((audit["status"] != "consistent").sum())
    log(f"      {len(audit)} checks, {n_find} findings; {int(cross['rediscovered'].sum())}/{len(cross)} listed inconsistencies rediscovered")

    t0 = time.perf_counter()
    log(f"[4/{steps}] scoring every published number (Westfall-Young: {reps:,} permutations) ...")
    card = build_scorecard(gen.data, reps=reps, seed=seed, stars=stars, audit=audit)
    mr = match_rate(card)
    log(f"      seed {seed}: {mr['match']}/{mr['reproducible']} reproducible cells match ({100 * mr['match_rate']:.1f}%), "
        f"{mr['close']} close, {mr['miss']} miss, {mr['published_inconsistent']} published-inconsistent")
    spread, sampled_long = None, None
    if mode == "sampled":
        cards = {seed: card}
        seeds = [seed + k for k in range(1, n_seeds)]
        try:
            from tqdm.auto import tqdm

            it = tqdm(seeds, desc="sampled seeds", unit="seed", leave=False, file=sys.stderr, disable=len(seeds) < 2 or not progress_bar)
        except ImportError:  # pragma: no cover
            it = seeds
        for s in it:
            d = data_synth.generate(seed=s, mode="sampled")
            cards[s] = build_scorecard(d, reps=reps, seed=s, stars=stars, audit=audit)
        spread = sampled_spread(cards)
        sampled_long = pd.concat([c[["id", "value", "status"]].assign(seed=s) for s, c in cards.items()], ignore_index=True)
        rates = spread[0]["match_rate"]
        log(f"      {len(cards)} seeds: match rate {100 * rates.min():.1f}%-{100 * rates.max():.1f}% (mean {100 * rates.mean():.1f}%)")
    timings["scorecard"] = time.perf_counter() - t0

    # 5. files
    t0 = time.perf_counter()
    log(f"[5/{steps}] writing {out}/scorecard.csv and report.html ...")
    files = {
        "scorecard": write_scorecard(card, out / "scorecard.csv"),
        "scorecard_full": write_scorecard(card, out / "scorecard_full.csv", full=True),
    }
    aud = audit.copy()
    aud["cells"] = aud["cells"].map(lambda c: " ".join(c))
    aud.to_csv(out / "audit.csv", index=False, lineterminator="\n")
    files["audit"] = out / "audit.csv"
    if spread is not None:
        spread[0].to_csv(out / "sampled_seeds.csv", index=False, lineterminator="\n")
        spread[1].to_csv(out / "sampled_cells.csv", index=False, lineterminator="\n")
        files["sampled_seeds"] = out / "sampled_seeds.csv"
        files["sampled_cells"] = out / "sampled_cells.csv"
    manifest = {
        "command": "hlt-replicate run", "argv": sys.argv[1:], "params": params, "version": __version__,
        "versions": package_versions(), "platform": platform.platform(),
        "trial": json.loads((trial_dir / "manifest.json").read_text()),
        "match_rate": {k: (float(v) if not isinstance(v, int) else v) for k, v in mr.items()},
        "audit": {"checks": int(len(audit)), "findings": n_find,
                  "by_status": {k: int(v) for k, v in audit["status"].value_counts().items()}},
        "notebooks": [{"name": n.name, "status": n.status, "seconds": round(n.seconds, 2), "error": n.error, "cell": n.cell}
                      for n in nb_results],
        "env_for_notebooks": sorted(env),
    }
    result = RunResult(out, params, card, audit, cross, disputed, nb_results, spread, timings, manifest, files, sampled_long)
    from .report import write_report

    timings["report"] = 0.0
    timings["total"] = time.perf_counter() - t_start
    files["report"] = write_report(result, out / "report.html")
    timings["report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    manifest["timings_s"] = {k: round(v, 2) for k, v in timings.items()}
    (out / "run.json").write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str) + "\n")
    files["run"] = out / "run.json"
    log(f"done in {timings['total']:.0f} s: {files['scorecard']}, {files['report']}")
    if result.notebooks_failed:
        log(f"{len(result.notebooks_failed)} notebook(s) failed: " + ", ".join(n.name for n in result.notebooks_failed))
    return result
