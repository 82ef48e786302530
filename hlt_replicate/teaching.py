"""Shared helpers for the lesson notebooks: a cached synthetic trial, published values,
result views for widgets, and a small exercise framework (self-checks with hints and worked
solutions hidden until asked for).

Nothing here is specific to one lesson; the lessons live in :mod:`hlt_replicate.lessons`.

* :func:`load_trial` — the synthetic trial of :mod:`data_synth` (data with survey weights,
  truth, manifest), generated once per ``(seed, mode)`` and handed out as a fresh copy, so a
  notebook may modify it freely; cached in memory and on disk (:func:`disk_cached`, keyed by
  a fingerprint of the generator's source) so that each notebook's fresh kernel does not
  regenerate it;
* :func:`published` — published (or derived/assumed) numbers of the targets file, one row
  each, so a notebook can show "published vs reproduced" without typing a number in;
* :class:`View` — what a widget callback returns: a title, a few tables and a figure, shown
  together by Jupyter (``display(view)``);
* :func:`wire` — a notebook's widget: the controls of a callback above an output that shows
  the callback's result again whenever a control changes;
* :class:`Exercise`, :class:`ExerciseSet` — ``check(key, answer)`` says right or wrong with a
  hint, ``show_solution(key)`` returns the worked solution collapsed in an HTML
  ``<details>`` block, ``solution(key)`` runs exactly that code and returns its ``answer``
  (the tests pass every solution through its own check);
* :func:`check_number`, :func:`check_choice`, :func:`check_set` — the generic comparisons.

The kit's regressions run on one BLAS thread (see :mod:`hlt_replicate`); importing this
module applies the same limit, so a notebook kernel gets it however the package was imported.
"""
from __future__ import annotations

import contextlib
import copy
import getpass
import hashlib
import html
import io
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd


def _limit_blas_threads() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=int(os.environ.get("HLT_BLAS_THREADS", "1")), user_api="blas")


_limit_blas_threads()


# =========================================================================================
# The synthetic trial, cached
# =========================================================================================
def cache_dir() -> Path | None:
    """Folder of the on-disk cache (``HLT_CACHE_DIR``, default a folder in the system's
    temporary directory), or None when ``HLT_CACHE=0`` switches the disk cache off."""
    if os.environ.get("HLT_CACHE", "1") == "0":
        return None
    base = os.environ.get("HLT_CACHE_DIR")
    if base:
        return Path(base)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name (some containers)
        user = "user"
    return Path(tempfile.gettempdir()) / f"hlt-replicate-cache-{user}"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of everything a generated trial depends on: the source of ``data_synth``
    (code and targets) and of the kit's core modules, and the numpy/pandas versions. A
    cached trial is used only while this is unchanged."""
    import numpy as np
    from data_synth import generator

    h = hashlib.sha256(f"numpy {np.__version__} pandas {pd.__version__}".encode())
    ds = Path(generator.__file__).parent
    core = Path(__file__).parent
    files = sorted([*ds.rglob("*.py"), *ds.rglob("*.yaml"), *(f for f in core.glob("*.py") if not f.name.startswith("teaching"))])
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def disk_cached(name: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, stored in :func:`cache_dir` under ``name`` and the
    :func:`code_fingerprint`, and read back on later calls (also from other processes: each
    notebook runs in a fresh kernel). Falls back to computing when the cache is off or
    unreadable."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / f"{name}-{code_fingerprint()}.pkl"
    if path.exists():
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own cache file
        except Exception:  # noqa: BLE001 - a damaged cache entry is simply recomputed
            pass
    value = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in folder.glob(f"{name}-*.pkl"):  # entries of older code: never read again
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass
    return value


def _generate(seed: int, mode: str):
    # data_synth sits above the core in the kit's layers: import it only when asked for.
    from data_synth.generator import generate_trial

    from . import vocab
    from .weighting import ipw_weights

    gen = generate_trial(seed=seed, mode=mode)
    gen.data[vocab.WEIGHT] = ipw_weights(gen.data)
    return gen


@lru_cache(maxsize=4)
def _generated(seed: int, mode: str):
    return disk_cached(f"trial-{mode}-seed{seed}", lambda: _generate(seed, mode))


def load_trial(seed: int = 0, mode: str = "exact"):
    """The synthetic HLT trial (:func:`data_synth.generate_trial`) with a ``weight`` column
    (the survey weights of :func:`hlt_replicate.weighting.ipw_weights`, NaN for
    non-respondents). Returns a :class:`data_synth.Generated` (``.data``, ``.truth``,
    ``.manifest``) that is a copy: changing it does not change the next call's result.

    Generating the exact trial takes seconds, so the result is cached in memory and on disk
    (see :func:`disk_cached`; ``HLT_CACHE=0`` turns the disk cache off): the first notebook
    pays, the others load it in a fraction of a second. The cache is keyed by the seed, the
    mode and a fingerprint of the generator's source, so a changed generator regenerates."""
    gen = _generated(int(seed), str(mode))
    return type(gen)(gen.data.copy(), copy.deepcopy(gen.truth), copy.deepcopy(gen.manifest))


def respondents(data: pd.DataFrame) -> pd.DataFrame:
    """Rows of recruits who answered the 4-month survey."""
    from . import vocab

    return data[data[vocab.RESPONDED] == 1]


# =========================================================================================
# Published numbers (one transcription: data_synth's targets file)
# =========================================================================================
@lru_cache(maxsize=1)
def _targets_flat() -> pd.DataFrame:
    from data_synth.targets import load_targets

    return load_targets().flat()


def published(
    table: str | Sequence[str] | None = None,
    group: str | Sequence[str] | None = None,
    variable: str | Sequence[str] | None = None,
    statistic: str | Sequence[str] | None = None,
    section: str | Sequence[str] | None = None,
    arm: int | None = None,
) -> pd.DataFrame:
    """Rows of the targets file (``data_synth.load_targets().flat()``) matching every filter
    given (a value or a list of values). Columns: id, section, table, group, arm, variable,
    statistic, value (as printed), decimals, unit, doc, line, kind (published, derived or
    assumed), target, excluded, tol. Adds ``printed``: the value with its printed decimals."""
    df = _targets_flat()
    for col, want in (("table", table), ("group", group), ("variable", variable), ("statistic", statistic), ("section", section)):
        if want is None:
            continue
        values = [want] if isinstance(want, str) else list(want)
        df = df[df[col].isin(values)]
    if arm is not None:
        df = df[df["arm"] == arm]
    out = df.copy()
    out["printed"] = [printed(v, d) for v, d in zip(out["value"], out["decimals"])]
    return out.reset_index(drop=True)


def published_value(target_id: str) -> Any:
    """The value of one target by its id (e.g. ``"design.respondents.SCR_IW.treatment"``)."""
    df = _targets_flat()
    hit = df.loc[df["id"] == target_id, "value"]
    if hit.empty:
        raise KeyError(f"no published value with id {target_id!r}")
    return hit.iloc[0]


def printed(value: Any, decimals: int | float) -> str:
    """A number as the report prints it: fixed decimals, thousands separators for counts."""
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    d = int(decimals)
    return f"{value:,.0f}" if d == 0 else f"{value:.{d}f}"


# =========================================================================================
# Widgets: what a callback returns, and its wiring
# =========================================================================================
@dataclass
class View:
    """The result of a widget callback: a title, captioned tables, a figure and a note.

    ``display(view)`` in Jupyter shows them in that order. The tests read the parts."""

    title: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figure: Any = None
    note: str = ""

    @property
    def table(self) -> pd.DataFrame | None:
        """The first table (most views have one main table)."""
        return next(iter(self.tables.values()), None)

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        if self.title:
            display(HTML(f"<h4>{html.escape(self.title)}</h4>"))
        for caption, tab in self.tables.items():
            if caption:
                display(HTML(f"<b>{html.escape(caption)}</b>"))
            display(tab)
        if self.figure is not None:
            display(self.figure)
        if self.note:
            display(HTML(f"<p><i>{html.escape(self.note)}</i></p>"))

    def __repr__(self) -> str:
        parts = [self.title] + [f"{c}\n{t.to_string()}" for c, t in self.tables.items()] + ([self.note] if self.note else [])
        return "\n\n".join(p for p in parts if p)


def wire(callback: Callable[..., Any], controls: Mapping[str, Any], /, *args: Any, row: bool = False, **kwargs: Any):
    """The widget of a notebook cell: ``controls`` (``{argument: widget}``, e.g. a lesson's
    ``*_controls()``) above an ``Output`` that shows ``callback(*args, **kwargs, **values)``
    (usually a :class:`View`; nothing when it returns None), cleared and shown again whenever a
    control changes (``ipywidgets.interactive_output``). The controls stand one per line, or
    side by side (wrapping) with ``row=True``. Returns the ``VBox`` of the two: the last line
    of a cell, or ``display(...)``::

        wire(lesson.column_view, lesson.column_controls(data), data)

    The callback stays a plain function of the data and the widget values, tested without
    widgets; only this wiring needs a frontend."""
    import ipywidgets as w
    from IPython.display import display

    clash = set(kwargs) & set(controls)
    if clash:
        raise TypeError(f"{sorted(clash)} given both as a fixed argument and as a control")

    def show(**values: Any) -> None:
        result = callback(*args, **kwargs, **values)
        if result is not None:
            display(result)

    out = w.interactive_output(show, dict(controls))
    widgets = list(controls.values())
    box = w.HBox(widgets, layout=w.Layout(flex_flow="row wrap", align_items="flex-start")) if row else w.VBox(widgets)
    return w.VBox([box, out])


# =========================================================================================
# Exercises
# =========================================================================================
@dataclass(frozen=True)
class CheckResult:
    """Outcome of a self-check: right or wrong, with a message (and a hint if wrong)."""

    key: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.correct else "#b42318"
        return f'<div style="color:{colour}"><b>{html.escape(self.message)}</b></div>'


@dataclass(frozen=True)
class Solution:
    """A worked solution: collapsed in Jupyter (HTML ``<details>``), plain text elsewhere."""

    key: str
    title: str
    code: str
    explanation: str

    def __repr__(self) -> str:
        return f"Exercise {self.key}: {self.title}\n\n{self.code}\n\n{self.explanation}"

    def _repr_html_(self) -> str:
        return (
            f"<details><summary><b>Worked solution, {html.escape(self.key)}</b>: {html.escape(self.title)} "
            f"(click to reveal)</summary><pre>{html.escape(self.code)}</pre><p>{html.escape(self.explanation)}</p></details>"
        )


Hint = tuple[Callable[[Any, Any], bool], str]
KINDS = ("number", "integer", "choice", "set")


def _as_number(answer: Any) -> float | None:
    if isinstance(answer, bool) or answer is None:
        return None
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return None
    return a if math.isfinite(a) else None


def check_number(answer: Any, expected: float, tol: float, integer: bool = False) -> tuple[bool, str | None]:
    """(right?, problem) for a numeric answer: within ``tol`` of ``expected`` (exactly equal
    for ``integer``). ``problem`` says why the answer could not be read, else None."""
    a = _as_number(answer)
    if a is None:
        return False, f"expected a finite number, got {answer!r}"
    if integer:
        return a == round(a) and int(round(a)) == int(expected), None
    return abs(a - float(expected)) <= tol, None


def check_choice(answer: Any, expected: str, choices: Sequence[str]) -> tuple[bool, str | None]:
    """(right?, problem) for an answer that must be one of ``choices`` (case-insensitive)."""
    if not isinstance(answer, str):
        return False, f"expected one of {list(choices)}, got {answer!r}"
    norm = {c.strip().lower(): c for c in choices}
    a = answer.strip().lower()
    if a not in norm:
        return False, f"{answer!r} is not one of {list(choices)}"
    return norm[a] == expected, None


def check_set(answer: Any, expected: Iterable[str]) -> tuple[bool, str | None]:
    """(right?, problem) for an answer that is a collection of names (order ignored)."""
    if isinstance(answer, str) or not isinstance(answer, Iterable):
        return False, f"expected a list of names, got {answer!r}"
    return {str(a) for a in answer} == {str(e) for e in expected}, None


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``expected()`` computes the answer from the data (never typed in);
    ``kind`` is number / integer / choice / set; ``tol`` is the accepted distance from the
    expected number (or a function of the expected number, e.g. for a Monte Carlo p-value);
    ``hints`` are (test(answer, expected), text) pairs tried in order on a wrong answer, then
    ``default_hint``. ``explanation`` may be a function, called when the solution is shown
    (for an explanation that quotes numbers computed from the data)."""

    def tolerance(self, expected: Any) -> float:
        return float(self.tol(expected)) if callable(self.tol) else float(self.tol)

    key: str
    title: str
    expected: Callable[[], Any]
    solution_code: str
    explanation: str | Callable[[], str]
    default_hint: str
    kind: str = "number"
    tol: float | Callable[[Any], float] = 0.0
    choices: tuple[str, ...] = ()
    hints: tuple[Hint, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


class ExerciseSet:
    """The exercises of one lesson. ``namespace()`` gives the names a worked solution may use
    (its code runs in a fresh copy of that dictionary)."""

    def __init__(self, exercises: Iterable[Exercise], namespace: Callable[[], dict] | None = None):
        self.exercises: dict[str, Exercise] = {}
        for ex in exercises:
            if ex.key in self.exercises:
                raise ValueError(f"duplicate exercise key {ex.key!r}")
            self.exercises[ex.key] = ex
        self._namespace = namespace or dict

    def __iter__(self):
        return iter(self.exercises)

    def __len__(self) -> int:
        return len(self.exercises)

    def get(self, key: str) -> Exercise:
        if key not in self.exercises:
            raise ValueError(f"exercise must be one of {list(self.exercises)} (got {key!r})")
        return self.exercises[key]

    def expected(self, key: str) -> Any:
        """The expected answer (for instructors and tests)."""
        return self.get(key).expected()

    def check(self, key: str, answer: Any) -> CheckResult:
        """Is ``answer`` right for exercise ``key``? A :class:`CheckResult` with a hint if not."""
        ex = self.get(key)
        if answer is None:
            return CheckResult(key, False, f"✗ {key}: put your answer in place of None and run the cell again.")
        x = ex.expected()
        if ex.kind in ("number", "integer"):
            ok, problem = check_number(answer, x, ex.tolerance(x), integer=ex.kind == "integer")
        elif ex.kind == "choice":
            ok, problem = check_choice(answer, x, ex.choices)
        else:
            ok, problem = check_set(answer, x)
        if problem:
            return CheckResult(key, False, f"✗ {key}: {problem}.")
        if ok:
            return CheckResult(key, True, f"✓ {key} correct.")
        for test, hint in ex.hints:
            try:
                hit = bool(test(answer, x))
            except (TypeError, ValueError):
                hit = False
            if hit:
                return CheckResult(key, False, f"✗ {key} not quite. Hint: {hint}")
        return CheckResult(key, False, f"✗ {key} not quite. Hint: {ex.default_hint}")

    def show_solution(self, key: str) -> Solution:
        """The worked solution (hidden until clicked in Jupyter)."""
        ex = self.get(key)
        text = ex.explanation() if callable(ex.explanation) else ex.explanation
        return Solution(key, ex.title, ex.solution_code, text)

    def solution(self, key: str, quiet: bool = True) -> Any:
        """Run the code that :meth:`show_solution` shows and return its ``answer``."""
        ns = dict(self._namespace())
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf) if quiet else contextlib.nullcontext():
            exec(self.get(key).solution_code, ns)  # noqa: S102 - our own, fixed solution code
        if "answer" not in ns:
            raise RuntimeError(f"the solution of {key!r} does not set `answer`")
        return ns["answer"]

    def summary(self) -> pd.DataFrame:
        """One row per exercise: key, title, kind."""
        return pd.DataFrame([{"key": e.key, "title": e.title, "kind": e.kind} for e in self.exercises.values()])


def near(value: float, tol: float) -> Callable[[Any, Any], bool]:
    """A hint test: the answer is within ``tol`` of ``value``."""

    def test(a, _x):
        n = _as_number(a)
        return n is not None and abs(n - value) <= tol

    return test
