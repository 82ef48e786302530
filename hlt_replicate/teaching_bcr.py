"""Exercises for notebook 05 (benefit-cost ratios): self-checks and hidden worked solutions.

``check(n, answer)`` says whether an answer to exercise ``n`` is right, with a hint when it
is not. ``show_solution(n)`` returns the worked solution, collapsed until clicked in
Jupyter. ``solution(n)`` runs exactly the code that ``show_solution`` shows and returns its
``answer``; the tests pass every ``solution(n)`` through ``check(n, ...)``.

The expected answers are computed here from RAND's transcribed inputs by plain arithmetic
(a route independent of :mod:`hlt_replicate.bcr.model`), never typed in.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Callable

from hlt_replicate.bcr.rand import rand_input_value

# --------------------------------------------------------------------------------------
# Expected answers (independent arithmetic on the transcribed inputs)
# --------------------------------------------------------------------------------------


def _savings_per_outcome(option: int) -> float:
    return rand_input_value(option, "saving_exchequer") + rand_input_value(option, "saving_health")


def _expected_1() -> float:
    # Table 3 (option 4) with Table 2's mark-up: participants per outcome = (1/e) x (1 + d)
    e, d = rand_input_value(4, "net_employment_effect"), rand_input_value(4, "dropout_rate")
    return rand_input_value(4, "cost_per_participant") * (1 / e) * (1 + d)


def _expected_2() -> float:
    # JOBS II: BCR = e/(1+d) x (B+D) / c = 1  =>  e = c (1+d) / (B+D)
    c, d = rand_input_value(2, "cost_per_participant"), rand_input_value(2, "dropout_rate")
    return c * (1 + d) / _savings_per_outcome(2)


def _expected_3() -> float:
    # Online option at RAND's upper cost, no drop-out: e = c / (B+D)
    return rand_input_value(3, "cost_per_participant") / _savings_per_outcome(3)


HLT_EX4_IMPACT = 0.04  # illustrative: IES blog Table 1, WMCA sustained employment at 12 months (4 ppt)
HLT_EX4_RATE = 0.035   # Green Book discount rate


def _expected_4() -> int:
    # Smallest T with impact x (B+D) x sum_{t<T} 1.035^-t / 750 >= 1 (full persistence)
    c = rand_input_value("summary", "ips_cost_per_participant")
    v = HLT_EX4_IMPACT * _savings_per_outcome(2) / c
    total, t = 0.0, 0
    while total * v < 1:
        total += (1 + HLT_EX4_RATE) ** -t
        t += 1
        if t > 200:
            raise RuntimeError("no break-even within 200 years")
    return t


@dataclass(frozen=True)
class _Exercise:
    title: str
    expected: Callable[[], float]
    tol: float
    hints: tuple[tuple[Callable[[float, float], bool], str], ...]
    default_hint: str
    solution_code: str
    explanation: str
    integer: bool = False


EXERCISES: dict[int, _Exercise] = {
    1: _Exercise(
        title="Table 3 under Table 2's drop-out convention",
        expected=_expected_1,
        tol=0.5,
        hints=(
            (lambda a, x: abs(a - 3750) < 1, "That is RAND's printed £3,750 (drop-outs as a share of starters). "
             "Switch the convention to 'per_completer'."),
            (lambda a, x: abs(a - 3325) < 1, "Close: you used the rounded 33%. Footnote 51 says 50 of every 150 "
             "drop out: keep RAND's drop-out rate (dropout='rand')."),
            (lambda a, x: abs(a - x / 250) < 0.1, "That looks like participants per outcome; multiply by the £250 cost."),
        ),
        default_hint="Use bcr.rand_result(4, dropout_convention='per_completer').cost_per_outcome.",
        solution_code=(
            "res = bcr.rand_result(4, dropout_convention='per_completer')\n"
            "print(f'participants per outcome: {res.participants_per_outcome:.2f}')\n"
            "answer = res.cost_per_outcome\n"
            "print(f'cost per outcome: £{answer:,.0f}; Government BCR {res.bcr_government:.2f}')"
        ),
        explanation=(
            "With drop-outs counted as a mark-up on completers (Table 2's reading), 10 participants per "
            "outcome become 10 x (1 + 1/3) = 13.33, not 10 / (1 - 1/3) = 15, so the cost per outcome falls from "
            "£3,750 to £3,333 and the BCR rises from 1.12 to 1.26."
        ),
    ),
    2: _Exercise(
        title="Break-even net employment effect for JOBS II",
        expected=_expected_2,
        tol=0.0005,
        hints=(
            (lambda a, x: abs(a / 100 - x) < 0.0005, "Give the effect as a share (0.23), not a percentage."),
            (lambda a, x: abs(a - 875 / 4200) < 0.0005, "You ignored the 12% drop-out: Table 2 multiplies "
             "participants per outcome by 1.12."),
            (lambda a, x: abs(a - 875 * 1.12 / 4200 / 1.12 ** 2) < 0.0005, "Check the direction of the drop-out adjustment."),
        ),
        default_hint="The BCR is proportional to the effect: effect* = 0.25 / BCR. Or use bcr.break_even(...).",
        solution_code=(
            "be = bcr.break_even(bcr.rand_inputs(2), 'net_employment_effect')\n"
            "answer = be.value\n"
            "print(f'break-even effect {answer:.2%} against RAND\\'s 25-30%')"
        ),
        explanation=(
            "The Government BCR is proportional to the net employment effect, so the break-even effect is "
            "0.25 / 1.0714 = 23.3%: just 1.7 points below RAND's lower-end 25%. The JOBS II case is thin."
        ),
    ),
    3: _Exercise(
        title="What effect would the online option (Option 3) need?",
        expected=_expected_3,
        tol=0.0005,
        hints=(
            (lambda a, x: abs(a / 100 - x) < 0.0005, "Give the effect as a share, not a percentage."),
            (lambda a, x: abs(a - 200 / 4200) < 0.0005, "That is at the lower cost of £200; the question asks for £400."),
        ),
        default_hint="Supply an effect to bcr.rand_inputs(3, net_employment_effect=...) and use bcr.break_even.",
        solution_code=(
            "inp = bcr.rand_inputs(3, net_employment_effect=0.05)  # any effect: the break-even does not depend on it\n"
            "answer = bcr.break_even(inp, 'net_employment_effect').value\n"
            "print(f'Option 3 breaks even at a net employment effect of {answer:.1%} at £{inp.cost_per_participant:,.0f}')"
        ),
        explanation=(
            "With no drop-out, BCR = effect x £4,200 / £400, so the break-even effect is 400 / 4,200 = 9.5%: more "
            "than twice the four percentage points reported for Beating the Blues (a different outcome, staying "
            "in work). At £200 it would be 4.8%."
        ),
    ),
    4: _Exercise(
        title="How long must the HLT benefits last?",
        expected=_expected_4,
        tol=0.0,
        integer=True,
        hints=(
            (lambda a, x: a == x - 1, "One year short: check the BCR at that period is at least 1."),
            (lambda a, x: a > x, "Too long: find the *smallest* period with BCR >= 1."),
        ),
        default_hint="Loop over years = 1, 2, ... with bcr.hlt_bcr(0.04, 0.013, years=T, discounting=True).",
        solution_code=(
            "answer = next(T for T in range(1, 51)\n"
            "              if bcr.hlt_bcr(0.04, 0.013, years=T, discounting=True).bcr_government >= 1)\n"
            "r = bcr.hlt_bcr(0.04, 0.013, years=answer, discounting=True)\n"
            "print(f'{answer} years: BCR {r.bcr_government:.2f}, 95% CI {r.ci_bcr_government_delta[0]:.2f}-'\n"
            "      f'{r.ci_bcr_government_delta[1]:.2f}')"
        ),
        explanation=(
            "A 4-point impact at £750 returns 0.04 x £4,200 = £168 a year per participant. Discounted at 3.5% with "
            "full persistence the cumulative return first exceeds £750 in year 5. With a 20% annual drop-off of "
            "benefits (persistence 0.8) it never does: the BCR tends to 0.99 however long the appraisal period."
        ),
    ),
}


# --------------------------------------------------------------------------------------
# Self-check and solutions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CheckResult:
    """Outcome of :func:`check`: right or wrong, with a message (and a hint if wrong)."""

    exercise: int
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.correct else "#b42318"
        return f'<div style="color:{colour}"><b>{html.escape(self.message)}</b></div>'


def _exercise(n: int) -> _Exercise:
    if n not in EXERCISES:
        raise ValueError(f"exercise must be one of {sorted(EXERCISES)} (got {n!r})")
    return EXERCISES[n]


def expected(n: int) -> float:
    """The expected answer to exercise ``n`` (for instructors and tests)."""
    return _exercise(n).expected()


def check(n: int, answer: Any) -> CheckResult:
    """Is ``answer`` right for exercise ``n``? Returns a :class:`CheckResult` with a hint if not."""
    ex = _exercise(n)
    try:
        a = float(answer)
    except (TypeError, ValueError):
        return CheckResult(n, False, f"✗ Exercise {n}: expected a number, got {answer!r}.")
    if not math.isfinite(a):
        return CheckResult(n, False, f"✗ Exercise {n}: the answer is not a finite number.")
    x = ex.expected()
    ok = (a == x) if ex.integer else abs(a - x) <= ex.tol
    if ok:
        return CheckResult(n, True, f"✓ Exercise {n} correct.")
    for test, hint in ex.hints:
        if test(a, x):
            return CheckResult(n, False, f"✗ Exercise {n} not quite. Hint: {hint}")
    return CheckResult(n, False, f"✗ Exercise {n} not quite. Hint: {ex.default_hint}")


@dataclass(frozen=True)
class Solution:
    """A worked solution: collapsed in Jupyter (HTML ``<details>``), plain text elsewhere."""

    exercise: int
    title: str
    code: str
    explanation: str

    def __repr__(self) -> str:
        return f"Exercise {self.exercise}: {self.title}\n\n{self.code}\n\n{self.explanation}"

    def _repr_html_(self) -> str:
        return (
            f"<details><summary><b>Worked solution, exercise {self.exercise}</b> (click to reveal)</summary>"
            f"<pre>{html.escape(self.code)}</pre><p>{html.escape(self.explanation)}</p></details>"
        )


def show_solution(n: int) -> Solution:
    """The worked solution to exercise ``n`` (hidden until clicked in Jupyter)."""
    ex = _exercise(n)
    return Solution(n, ex.title, ex.solution_code, ex.explanation)


def solution(n: int, quiet: bool = True) -> float:
    """Run the code of :func:`show_solution` and return its ``answer``."""
    import contextlib
    import io

    from hlt_replicate import bcr

    ns: dict[str, Any] = {"bcr": bcr}
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf) if quiet else contextlib.nullcontext():
        exec(_exercise(n).solution_code, ns)  # noqa: S102 - our own, fixed solution code
    return ns["answer"]
