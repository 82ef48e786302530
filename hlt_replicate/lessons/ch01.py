"""Lesson 01 (``notebooks/01_randomisation.ipynb``): random assignment, balance and
randomisation inference.

* :func:`arm_size_spread` — how many are treated under coin flips (simple) against exactly
  half (complete) assignment;
* :func:`assignment_check` — the HLT's arm sizes beside Table 4-1, and what blocking implies;
* :func:`block_summary` — blocks of a design, how many are odd-sized and the largest
  possible treatment–control gap it allows;
* :func:`rerandomise_view` (widget callback) — draw a fresh assignment with a seed and a
  blocking scheme; see the arm sizes, the balance table of the whole randomised group and the
  randomisation distribution of a covariate's difference in means under that design;
* :func:`ri_figure` — a randomisation distribution with the observed statistic.

Exercises ``ex1``-``ex3``: :func:`check`, :func:`show_solution`, :func:`solution`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from .. import randomisation as ra
from .. import vocab
from ..balance import balance_table, format_balance_table
from ..charts import CONTROL_COLOUR, TREATMENT_COLOUR
from ..teaching import Exercise, ExerciseSet, View, load_trial, published

#: Blocking schemes offered by the widget (label -> strata columns).
STRATA: dict[str, tuple[str, ...]] = {
    "none: one lottery for everyone": (),
    "trial group (the HLT tool)": (vocab.GROUP,),
    "group × area": (vocab.GROUP, vocab.AREA),
    "group × area × cohort": (vocab.GROUP, vocab.AREA, vocab.COHORT),
}
#: Covariates whose randomisation distribution the widget draws (label -> key).
COVARIATES: dict[str, str] = {
    "Age": "age",
    "Female": "female",
    "EQ5D5L at baseline": "bl_eq5d",
    "EQ-VAS at baseline": "bl_eqvas",
    "Lives in the group's largest area": "area:largest",
    "Recruited Oct 2019 (last cohort)": "cohort:Oct 2019-Dec 2019",
}
#: Balance rows shown by the widget (Tables 4-2..4-4 plus EQ-VAS and work history).
WIDGET_BALANCE = ("age", *vocab.BINARY_BASELINE, "qual", "health", "area", "cohort", "work_history", "bl_eq5d", "bl_eqvas")


# =========================================================================================
# Simple against complete assignment
# =========================================================================================
def arm_size_spread(n: int = 100, draws: int = 2000, seed: int = 0) -> View:
    """Number treated in ``draws`` assignments of ``n`` units: independent coin flips
    (:func:`~hlt_replicate.randomisation.simple_ra`) against exactly half
    (:func:`~hlt_replicate.randomisation.complete_ra`). Returns a table and a histogram."""
    simple = ra.declare_ra(n, prob=0.5, simple=True).permutation_matrix(draws, seed=seed).sum(0)
    complete = ra.declare_ra(n, prob=0.5).permutation_matrix(draws, seed=seed, exact=False).sum(0)
    tab = pd.DataFrame(
        {k: {"mean treated": v.mean(), "sd": v.std(), "min": v.min(), "max": v.max(), "P(|T - C| > 10% of n)": np.mean(np.abs(2 * v - n) > 0.1 * n)}
         for k, v in (("simple (coin flips)", simple), ("complete (exactly half)", complete))}
    ).T.round(3)
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    bins = np.arange(simple.min() - 0.5, simple.max() + 1.5)
    ax.hist(simple, bins=bins, color=CONTROL_COLOUR, label="simple: coin flips")
    ax.hist(complete, bins=bins, color=TREATMENT_COLOUR, label="complete: exactly half")
    ax.set_xlabel(f"Number treated out of {n}")
    ax.set_ylabel(f"Assignments (of {draws:,})")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return View(title="Simple against complete random assignment", tables={"": tab}, figure=fig)


# =========================================================================================
# The HLT's tool and Table 4-1
# =========================================================================================
def assignment_check(data: pd.DataFrame) -> pd.DataFrame:
    """Arms by trial group in the data beside Table 4-1 (read from the targets file), with
    the gap T − C and the largest gap complete assignment within group would allow."""
    rows = []
    for g in vocab.GROUPS:
        part = data[data[vocab.GROUP] == g]
        t, c = int(part[vocab.TREAT].sum()), int((1 - part[vocab.TREAT]).sum())
        pub = published(table="Table 4-1", group=g, statistic="randomised").set_index("arm")["value"]
        rows.append({"group": g, "T (data)": t, "C (data)": c, "T (published)": int(pub[1]), "C (published)": int(pub[0]),
                     "T - C": t - c, "largest |T - C| with complete RA in group": len(part) % 2})
    return pd.DataFrame(rows).set_index("group")


def _design(data: pd.DataFrame, strata: Sequence[str]) -> ra.RADesign:
    return ra.hlt_design(data, strata=tuple(strata))


def block_summary(data: pd.DataFrame, strata: Sequence[str], group: str | None = None) -> pd.DataFrame:
    """Blocks of a 50/50 design blocked on ``strata`` (within one trial ``group`` if given):
    number of blocks, odd-sized blocks, and the largest possible |T − C| (one per odd
    block, since each odd block rounds its half up or down at random)."""
    rows = data if group is None else data[data[vocab.GROUP] == group]
    d = _design(rows, strata)
    odd = int(np.sum(d.block_n % 2 == 1))
    return pd.DataFrame({"recruits": [d.n], "blocks": [len(d.block_levels)], "odd-sized blocks": [odd],
                         "largest possible |T - C|": [odd], "possible assignments (log10)": [round(_log10_perms(d), 1)]},
                        index=[" × ".join(strata) or "one block"])


def _log10_perms(d: ra.RADesign) -> float:
    total = 0.0
    for nb, tb in zip(d.block_n, d.block_target):
        lo = math.floor(tb)
        c = math.comb(int(nb), lo) + (math.comb(int(nb), lo + 1) if tb != lo else 0)
        total += math.log10(c)
    return total


def covariate_vector(data: pd.DataFrame, covariate: str) -> tuple[np.ndarray, str]:
    """A numeric vector for one of :data:`COVARIATES`' keys and its label. ``"area:largest"``
    is the indicator of the rows' commonest area; ``"cohort:<label>"`` of one cohort."""
    if covariate == "area:largest":
        top = data[vocab.AREA].value_counts().index[0]
        return (data[vocab.AREA] == top).to_numpy(float), f"share in {top}"
    if covariate.startswith("cohort:"):
        lab = covariate.split(":", 1)[1]
        return (data[vocab.COHORT] == lab).to_numpy(float), f"share recruited {lab}"
    if covariate not in data:
        raise ValueError(f"unknown covariate {covariate!r}; choose one of {list(COVARIATES.values())}")
    return data[covariate].to_numpy(float), covariate


# =========================================================================================
# Randomisation inference
# =========================================================================================
def ri_figure(result: ra.RIResult, *, title: str = "", xlabel: str = "Statistic", reference: ra.RIResult | None = None,
              reference_label: str = "", ax=None) -> Figure:
    """The randomisation distribution of ``result`` with its observed value and p-value;
    optionally a second (``reference``) distribution outlined behind it."""
    own = ax is None
    if own:
        fig = Figure(figsize=(5.2, 3.2), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    both = np.concatenate([result.null, [result.observed]] + ([reference.null] if reference is not None else []))
    bins = np.linspace(both.min(), both.max(), 41) if np.ptp(both) > 0 else 10
    if reference is not None:
        ax.hist(reference.null, bins=bins, histtype="step", color="0.45", lw=1.2, label=reference_label or "reference design")
    ax.hist(result.null, bins=bins, color=CONTROL_COLOUR, label=f"{result.n_perm:,} re-randomisations")
    ax.axvline(result.observed, color=TREATMENT_COLOUR, lw=2, label=f"observed {result.observed:.3g} (p = {result.p:.3f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Assignments")
    ax.legend(frameon=False, fontsize=7.5, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    if title:
        ax.set_title(title, fontsize=9.5)
    return fig


def ri_covariate(data: pd.DataFrame, covariate: str, group: str, *, n_perm: int = 2000, seed: int = 0) -> ra.RIResult:
    """Randomisation p-value of the treatment–control difference in a baseline covariate
    among all randomised recruits of ``group`` (fixed arm sizes, as the HLT's tool)."""
    rows = data[data[vocab.GROUP] == group]
    x, _ = covariate_vector(rows, covariate)
    t = rows[vocab.TREAT].to_numpy()
    return ra.ri_test(ra.diff_in_means(x), ra.observed_design(t), t, n_perm=n_perm, seed=seed, vectorised=True)


def _compact_balance(tab: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, r in tab.iterrows():
        if r["kind"] == "level":
            continue
        if r["kind"] == "block":
            lv = tab[(tab["variable"] == r["variable"]) & (tab["kind"] == "level") & (tab["n_population"] > 0)]
            sd = float(lv["std_diff"].abs().max())
            out.append({"row": r["label"].rstrip(":"), "control": "", "treatment": "", "|std. diff.|": round(sd, 3), "p": round(r["p"], 3)})
        else:
            out.append({"row": r["label"], "control": f"{r['control']:.3f}", "treatment": f"{r['treatment']:.3f}",
                        "|std. diff.|": round(abs(r["std_diff"]), 3), "p": round(r["p"], 3)})
    return pd.DataFrame(out).set_index("row")


def rerandomise(data: pd.DataFrame, seed: int = 1, strata: Sequence[str] = (vocab.GROUP,)) -> pd.DataFrame:
    """A copy of ``data`` with a fresh 50/50 assignment in ``treat``, blocked on ``strata``."""
    out = data.copy()
    out[vocab.TREAT] = ra.assign_hlt(data, seed=seed, strata=tuple(strata)).to_numpy()
    return out


def rerandomise_view(
    data: pd.DataFrame,
    seed: int = 1,
    strata: Sequence[str] = (vocab.GROUP,),
    group: str = "SCR_OOW",
    covariate: str = "age",
    n_perm: int = 500,
) -> View:
    """Widget callback: re-randomise every recruit (``seed``, blocking on ``strata``), then for
    one trial ``group``: arm sizes, the balance table of all its randomised recruits (no
    non-response here) and the randomisation distribution of the difference in means of
    ``covariate`` (a key of :data:`COVARIATES`) under the chosen design, outlined against
    the HLT's own design (complete within trial group)."""
    strata = tuple(strata)
    design = _design(data, strata)
    z = design.draw(seed)
    in_g = (data[vocab.GROUP] == group).to_numpy()
    rows = data[in_g].copy()
    rows[vocab.TREAT] = z[in_g]
    t, c = int(z[in_g].sum()), int(in_g.sum() - z[in_g].sum())
    arms = pd.DataFrame({"T": [t], "C": [c], "T - C": [t - c]}, index=[f"{group}, this draw"])
    tab = balance_table(rows, None, WIDGET_BALANCE, weights=None, responded=None)
    x, xlab = covariate_vector(rows, covariate)
    stat = ra.diff_in_means(x)
    # blocks within trial groups: the group's own blocks give its rows the same distribution,
    # without drawing the other groups' rows (a third of the work)
    within = design if vocab.GROUP not in strata else _design(rows, strata)
    perms = within.permutation_matrix(n_perm, seed=seed + 1, exact=False)
    null = np.asarray(stat(perms if within is not design else perms[in_g]), float)
    obs = float(stat(z[in_g][:, None])[0])
    res = ra.RIResult(obs, null, float((np.sum(np.abs(null) >= abs(obs) - 1e-12) + 1) / (n_perm + 1)), n_perm, False, "two-sided")
    ref = None
    if strata != (vocab.GROUP,):
        ref_design = _design(rows, ())
        ref_null = np.asarray(stat(ref_design.permutation_matrix(n_perm, seed=seed + 2, exact=False)), float)
        ref = ra.RIResult(float("nan"), ref_null, float("nan"), n_perm, False, "two-sided")
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ri_figure(res, ax=ax1, xlabel=f"Treatment − control difference in {xlab}", reference=ref,
              reference_label="complete within group (HLT tool)",
              title=f"Randomisation distribution, {vocab.GROUP_LABELS[group]}, blocks: {' × '.join(strata) or 'none'}")
    comp = _compact_balance(tab)
    y = np.arange(len(comp))
    ax2.barh(y, comp["|std. diff.|"], color=TREATMENT_COLOUR)
    ax2.axvline(0.1, color="0.3", ls="--", lw=0.8)
    ax2.set_yticks(y, comp.index, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlabel("|standardised difference| (largest level for blocks)")
    ax2.set_xlim(0, max(0.12, float(comp["|std. diff.|"].max()) * 1.1))
    ax2.spines[["top", "right"]].set_visible(False)
    ax2.set_title("Balance of this draw (all randomised recruits)", fontsize=9.5)
    return View(title=f"Re-randomisation: seed {seed}, blocks {' × '.join(strata) or 'none'}",
                tables={"Arm sizes": arms, "Balance (all randomised recruits of the group)": comp}, figure=fig)


def rerandomise_controls() -> dict:
    """Widgets for :func:`rerandomise_view` (seed, blocks, group, covariate; the number of
    re-randomisations is passed by the notebook, not a widget)."""
    import ipywidgets as w

    return {
        "seed": w.IntSlider(value=1, min=0, max=50, description="Seed"),
        "strata": w.Dropdown(options=list(STRATA.items()), value=STRATA["trial group (the HLT tool)"], description="Blocks"),
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.GROUPS], value="SCR_OOW", description="Group"),
        "covariate": w.Dropdown(options=list(COVARIATES.items()), value="age", description="Covariate"),
    }


def balance_vs_published(data: pd.DataFrame, group: str) -> pd.DataFrame:
    """Tables 4-2..4-4's test column: the p-value of each characteristic in the printed layout
    (weighted respondents) beside the published p-value (from the targets file)."""
    tab = balance_table(data, group)
    pub = published(group=group, statistic="p_value", section="baseline_characteristics").set_index("variable")["value"]
    rows = tab[tab["kind"] != "level"]
    out = pd.DataFrame({"characteristic": rows["label"].str.rstrip(":").to_numpy(),
                        "p (synthetic)": rows["p"].round(2).to_numpy(),
                        "p (published)": [pub.get(v, np.nan) for v in rows["variable"]]})
    return out.set_index("characteristic")


def formatted_balance(data: pd.DataFrame, group: str) -> pd.DataFrame:
    """Tables 4-2..4-4 in the printed layout, keeping only areas of the group's site."""
    tab = balance_table(data, group)
    keep = ~((tab["variable"] == vocab.AREA) & (tab["kind"] == "level") & (tab["n_population"] == 0))
    out = tab[keep].copy()
    out.attrs.update(tab.attrs)
    return format_balance_table(out)


# =========================================================================================
# Exercises
# =========================================================================================
def _odd_blocks(group: str, strata: Sequence[str]) -> int:
    rows = load_trial().data
    rows = rows[rows[vocab.GROUP] == group]
    sizes = rows.groupby(list(strata)).size()
    return int((sizes % 2 == 1).sum())


def _n_blocks(group: str, strata: Sequence[str]) -> int:
    rows = load_trial().data
    return int(rows[rows[vocab.GROUP] == group].groupby(list(strata)).ngroups)


def _expected_ex3() -> float:
    """Normal approximation to the permutation distribution of a difference in means under
    complete assignment: Var = S^2 (1/n1 + 1/n0), S^2 the variance (ddof 1) of the pooled
    values (a route independent of the kit's RI code)."""
    d = load_trial().data
    rows = d[d[vocab.GROUP] == "WMCA_OOW"]
    y, t = rows["age"].to_numpy(float), rows[vocab.TREAT].to_numpy()
    n1, n0 = t.sum(), (1 - t).sum()
    diff = y[t == 1].mean() - y[t == 0].mean()
    sd = math.sqrt(y.var(ddof=1) * (1 / n1 + 1 / n0))
    return float(2 * stats.norm.sf(abs(diff) / sd))


def _ri_tol(p: float) -> float:
    """Accepted distance from the expected RI p-value: three Monte Carlo SEs of a p-value
    from 2,000 re-randomisations (at least 0.005), covering the normal approximation too."""
    return max(0.005, 3 * math.sqrt(p * (1 - p) / 2000))


def _namespace() -> dict:
    return {"np": np, "pd": pd, "math": math, "vocab": vocab, "ra": ra, "load_trial": load_trial, "published": published}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="How many assignments can a blocked design produce?",
            expected=lambda: math.comb(6, 3) ** 2,
            kind="integer",
            hints=(
                (lambda a, x: float(a) == math.comb(12, 6), "That is the unblocked design (6 of 12, anywhere). "
                 "Blocking allows only assignments with exactly 3 treated in each block."),
                (lambda a, x: float(a) == 2 * math.comb(6, 3), "The blocks are assigned independently: multiply the "
                 "counts of the two blocks, do not add them."),
            ),
            default_hint="Use ra.declare_ra(blocks=[...], m=3).num_permutations, or C(6, 3) per block.",
            solution_code=(
                "blocks = ['a'] * 6 + ['b'] * 6\n"
                "design = ra.declare_ra(blocks=blocks, m=3)\n"
                "answer = design.num_permutations\n"
                "print(answer, 'blocked against', ra.declare_ra(12, m=6).num_permutations, 'unblocked')"
            ),
            explanation=(
                "C(6,3)² = 20 × 20 = 400 assignments, against C(12,6) = 924 without blocks. Blocking throws away the "
                "assignments that put most of one block in the same arm: those are exactly the badly balanced ones."
            ),
        ),
        Exercise(
            key="ex2",
            title="Could blocking explain SCR OOW's 1,799 against 1,792?",
            expected=lambda: _odd_blocks("SCR_OOW", (vocab.AREA, vocab.COHORT)),
            kind="integer",
            hints=(
                (lambda a, x: float(a) == 1, "One is the most complete assignment within the whole group can give. With "
                 "blocks, each odd-sized block can add one more treated or one more control."),
                (lambda a, x: float(a) == _n_blocks("SCR_OOW", (vocab.AREA, vocab.COHORT)), "That is the number of blocks; "
                 "only the odd-sized ones can leave a gap of one."),
            ),
            default_hint="Group SCR_OOW's recruits by area and cohort, and count the blocks with an odd number of recruits.",
            solution_code=(
                "data = load_trial().data\n"
                "scr_oow = data[data.group == 'SCR_OOW']\n"
                "sizes = scr_oow.groupby(['area', 'cohort']).size()\n"
                "answer = int((sizes % 2 == 1).sum())\n"
                "print(f'{len(sizes)} blocks, {answer} odd-sized: |T - C| can be anything up to {answer}')"
            ),
            explanation=(
                "Each odd-sized block rounds its half up or down at random, so |T − C| can reach the number of odd blocks. "
                "Complete assignment within the whole group allows a gap of at most 1, so Table 4-1's gap of 7 in SCR OOW "
                "says the real tool balanced within finer blocks (or sequentially as recruits arrived)."
            ),
        ),
        Exercise(
            key="ex3",
            title="A randomisation p-value for a baseline difference",
            expected=_expected_ex3,
            tol=_ri_tol,
            hints=(
                (lambda a, x: abs(float(a) - x / 2) < _ri_tol(x / 2), "That looks one-sided: the question asks for a "
                 "two-sided p-value (alternative='two-sided', comparing absolute differences)."),
                (lambda a, x: abs(float(a) - (1 - x)) < _ri_tol(x), "You seem to have the share of re-randomisations "
                 "with a smaller difference: the p-value counts those at least as large as the observed one."),
            ),
            default_hint="ra.ri_test(ra.diff_in_means(age), ra.observed_design(treat), treat, n_perm=2000, seed=0, "
                         "vectorised=True) on WMCA_OOW's randomised recruits.",
            solution_code=(
                "data = load_trial().data\n"
                "wmca = data[data.group == 'WMCA_OOW']\n"
                "treat = wmca.treat.to_numpy()\n"
                "res = ra.ri_test(ra.diff_in_means(wmca.age), ra.observed_design(treat), treat,\n"
                "                 n_perm=2000, seed=0, vectorised=True)\n"
                "answer = res.p\n"
                "print(f'difference in mean age {res.observed:+.2f} years, RI p = {answer:.3f}')"
            ),
            explanation=(
                "Under the sharp null (assignment changes nobody's age, trivially true for a baseline characteristic), "
                "every re-randomisation is as likely as the real one, so the p-value is the share of them with an age "
                "gap at least as large. It agrees with the t-test p-value here because the sample is large; RI needs no "
                "distributional assumption, and its Monte Carlo error is about sqrt(p(1-p)/2000) ≈ 0.01."
            ),
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
