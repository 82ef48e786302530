"""The synthetic trial: counts, calibration, determinism, sampled mode, custom targets."""
from __future__ import annotations

import copy
import hashlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

import data_synth
from data_synth import TargetError, load_targets
from data_synth import generator as G
from data_synth.check import calibration_report
from data_synth.io import read_trial, write_trial
from data_synth.targets import validate
from hlt_replicate import vocab
from hlt_replicate.weighting import logit_fit

TARGETS = load_targets()


def test_shape_and_columns(exact_trial):
    d = exact_trial.data
    assert len(d) == 9785
    assert d[vocab.ID].is_unique
    assert list(d.columns) == data_synth.generator.COLUMNS
    # outcomes only for respondents
    for o in vocab.OUTCOMES:
        assert d.loc[d[vocab.RESPONDED] == 0, o].isna().all(), o
    # logical structure
    assert (d.loc[d.treat == 0, vocab.PARTICIPATED] == 0).all()
    assert d.loc[d.treat == 0, vocab.SESSIONS].isna().all()
    both = d[["weeks_work", "weeks_work16"]].dropna()
    assert (both.weeks_work16 <= both.weeks_work + 1e-9).all()
    w16 = d[["work16", "paid_work"]].dropna()
    assert (w16.work16 <= w16.paid_work).all()
    assert d[vocab.SUSTAINED_EMP_12M].notna().all()
    assert d[vocab.RAND_DATE].between("2018-05-08", "2019-10-31").all()


def test_table_4_1_counts_exact(exact_trial):
    d = exact_trial.data
    for g in vocab.GROUPS:
        for arm, name in ((1, "treatment"), (0, "control")):
            rows = d[(d.group == g) & (d.treat == arm)]
            assert len(rows) == TARGETS.raw["design"]["randomised"][g][name]
            assert rows.responded.sum() == TARGETS.raw["design"]["respondents"][g][name]


def test_every_target_met_in_exact_mode(exact_report):
    targets = exact_report[exact_report.status.isin(["met", "missed"])]
    missed = targets[targets.status == "missed"]
    assert len(targets) > 500
    assert missed.empty, missed[["id", "value", "achieved", "tol"]].to_string()


def test_every_target_met_with_another_seed():
    rep = calibration_report(data_synth.generate(seed=1))
    missed = rep[rep.status == "missed"]
    assert missed.empty, missed[["id", "value", "achieved", "tol"]].to_string()


def test_exact_without_best_effort_meets_every_target(exact_trial):
    """best_effort=False (``--no-best-effort``) skips the joint tests' phase and the polish
    of the weighted-sample search: every target is still met, the manifest says which
    trial it is, and the respondents differ from the default trial's (the best-effort
    cells of Tables 4-2..4-4 are what the skipped phases move)."""
    gen = data_synth.generate_trial(seed=0, best_effort=False)
    rep = calibration_report(gen.data)
    missed = rep[rep.status == "missed"]
    assert missed.empty, missed[["id", "value", "achieved", "tol"]].to_string()
    assert gen.manifest["best_effort"] is False and exact_trial.manifest["best_effort"] is True
    assert "best_effort" not in data_synth.generate_trial(seed=0, mode="sampled").manifest
    by_id = lambda d: d.set_index(vocab.ID).sort_index()[vocab.RESPONDED]  # noqa: E731
    assert not by_id(gen.data).equals(by_id(exact_trial.data))


def test_inconsistencies_are_listed_not_targeted(exact_report):
    inc = exact_report[exact_report.status == "published inconsistency"]
    assert {"table_4_5.bl_swemwbs.SCR_IW.diff", "secondary_impacts.SCR.lifesat.base"} <= set(inc.id)


def test_same_seed_same_bytes(tmp_path, exact_trial):
    """Same seed, same files, whether the trial groups and the pooled stage's outcomes ran
    in worker processes (the fixture: ``jobs=3``) or in this one."""
    a = write_trial(exact_trial, tmp_path / "a")
    b = write_trial(data_synth.generate_trial(seed=0, jobs=1), tmp_path / "b")
    for key in ("recruits", "truth", "manifest"):
        assert a[key].read_bytes() == b[key].read_bytes(), key
    c = data_synth.generate(seed=1)
    assert not c.equals(exact_trial.data)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_jobs_must_be_a_positive_integer(jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        data_synth.generate(mode="sampled", jobs=jobs)


def test_sampled_mode_same_data_in_any_number_of_workers():
    one = data_synth.generate(seed=4, mode="sampled", jobs=1)
    for jobs in (2, 3, 8):
        pd.testing.assert_frame_equal(data_synth.generate(seed=4, mode="sampled", jobs=jobs), one)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked (and see the patch) on Linux only")
def test_an_error_in_a_worker_reaches_the_caller(monkeypatch):
    def fail(grp, t, group, rng, exact, **kw):
        raise TargetError(f"cannot draw IPS sessions for {group}")

    monkeypatch.setattr(G, "draw_ips", fail)
    with pytest.raises(TargetError, match="cannot draw IPS sessions for SCR_IW"):
        data_synth.generate(mode="sampled", jobs=3)


def test_written_files_round_trip(tmp_path, exact_trial):
    paths = write_trial(exact_trial, tmp_path)
    data, manifest = read_trial(tmp_path)
    assert manifest["seed"] == 0 and manifest["mode"] == "exact"
    assert manifest["targets"]["sha256"] == TARGETS.digest
    assert manifest["files"]["recruits.csv"]["sha256"] == hashlib.sha256(paths["recruits"].read_bytes()).hexdigest()
    assert set(manifest["versions"]) >= {"python", "numpy", "pandas"}
    rep = calibration_report(data)
    assert not (rep.status == "missed").any()


def test_truth_records_effects_and_propensities(exact_trial):
    truth = exact_trial.truth
    assert set(truth["groups"]) == set(vocab.GROUPS)
    assert truth["groups"]["SCR_IW"]["tau"]["jsse"] == pytest.approx(0.20)
    p = np.array(truth["response_propensity"]["p"])
    assert p.shape == (9785,) and ((p > 0) & (p < 1)).all()
    assert truth["response_propensity"]["recruit_id"] == exact_trial.data[vocab.ID].tolist()


def test_response_depends_on_covariates_and_arm(exact_trial):
    d = exact_trial.data
    for g in vocab.GROUPS:
        part = d[d.group == g]
        X = np.column_stack([np.ones(len(part)), part.treat, (part.age - 40) / 10, part.female,
                             part.qual == "post_a_level", part.work_history == "always"]).astype(float)
        beta = logit_fit(X, part.responded.to_numpy(float))
        assert beta[1] > 0.1, g  # treatment responds more (Table 4-1)
        assert beta[2] > 0.05, g  # older recruits respond more
    # the unweighted respondent sample is visibly skewed
    resp = d[d.responded == 1]
    assert resp.age.mean() - d.age.mean() > 0.3


def test_sampled_mode_within_sampling_error():
    z_impacts = []
    for seed in range(4):
        d = data_synth.generate(seed=seed, mode="sampled")
        for g in vocab.GROUPS:
            for arm, name in ((1, "treatment"), (0, "control")):
                rows = d[(d.group == g) & (d.treat == arm)]
                target = TARGETS.raw["design"]["respondents"][g][name]
                assert len(rows) == TARGETS.raw["design"]["randomised"][g][name]
                sd = np.sqrt(len(rows) * 0.25)
                assert abs(rows.responded.sum() - target) < 4 * sd, (g, name)
            for var in vocab.BINARY_BASELINE:
                p = TARGETS.population_value(g, var)
                n = int((d.group == g).sum())
                assert abs(d.loc[d.group == g, var].mean() - p) < 4 * np.sqrt(p * (1 - p) / n) + 0.005
        rep = calibration_report(d)
        imp = rep[(rep.id.str.startswith("secondary_impacts.")) & (rep.statistic == "impact") & rep.group.isin(vocab.GROUPS)]
        ses = rep.set_index("id").loc[imp.id.str.replace(".impact", ".se", regex=False), "value"].to_numpy()
        z_impacts += list((imp.achieved.to_numpy() - imp.value.to_numpy()) / ses)
    z = np.array(z_impacts, dtype=float)
    assert np.mean(np.abs(z) < 3.5) > 0.9
    assert abs(z.mean()) < 0.6
    assert np.std(z) > 0.3  # it really varies from seed to seed


def _edited(tmp_path, edit) -> str:
    raw = copy.deepcopy(TARGETS.raw)
    edit(raw)
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(path)


def _more_iw_treatment_respondents(raw, n=800):
    """Edit SCR IW's treatment respondents, with the "Base" ranges that count them."""
    extra = n - raw["design"]["respondents"]["SCR_IW"]["treatment"]
    raw["design"]["respondents"]["SCR_IW"]["treatment"] = n
    base = raw["baseline_characteristics"]["SCR_IW"]["base"]
    for end in ("lowest", "highest"):
        base[end][1] += extra
        base[end][3] += extra


def test_modified_targets_file_is_honoured(tmp_path):
    def edit(raw):
        _more_iw_treatment_respondents(raw)
        raw["ips_sessions"]["SCR_IW"]["base"]["resp"] = 797  # MI bases move with the respondents
        raw["first_session"]["SCR_IW"]["base"]["resp"] = 772
        raw["baseline_characteristics"]["SCR_IW"]["rows"]["female"]["values"][0] = 0.62
        raw["design"]["total_respondents"]["value"] = 5427
        raw["secondary_impacts"]["SCR_IW"]["rows"]["jsse"]["values"][2] = 0.30  # impact
        raw["secondary_impacts"]["SCR_IW"]["rows"]["jsse"]["values"][4] = 0.3  # and its effect size
        raw["work_history"]["WMCA_OOW"].update({"never": 0.50, "always": 0.12})
        # more SCR IW respondents weigh more in SCR's pooled raw mean (Table 4-12)
        raw["secondary_impacts"]["SCR"]["rows"]["work16"]["values"][1] = 0.40

    path = _edited(tmp_path, edit)
    d = data_synth.generate(path, seed=3)
    iw = d[d.group == "SCR_IW"]
    assert iw[iw.treat == 1].responded.sum() == 800
    assert round(iw.female.mean(), 2) == 0.62
    rep = calibration_report(d, path)
    assert not (rep.status == "missed").any(), rep[rep.status == "missed"].to_string()
    row = rep.set_index("id").loc["secondary_impacts.SCR_IW.jsse.impact"]
    assert row.value == 0.30 and abs(row.achieved - 0.30) <= 0.005


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["design"].pop("respondents"), "missing key design.respondents"),
        (lambda r: r["baseline_characteristics"]["SCR_IW"]["rows"]["qual=gcse"]["values"].__setitem__(0, 0.5), "sum to"),
        (lambda r: r["design"]["respondents"]["WMCA_OOW"].__setitem__("control", 2000), "exceeds design.randomised"),
        (lambda r: r["design"]["randomised"]["SCR_OOW"].__setitem__("control", -5), "negative count"),
        (lambda r: r["baseline_characteristics"]["SCR_IW"]["rows"]["female"]["values"].__setitem__(0, 1.2), "must lie in [0, 1]"),
        (lambda r: r["admin_12m"]["SCR_IW"].__setitem__("control_rate", -0.1), "must lie in [0, 1]"),
        (lambda r: r["secondary_impacts"]["SCR_IW"]["rows"]["jsse"]["values"].__setitem__(6, 5000), "exceeds the 1463 respondents"),
        (lambda r: r["ips_sessions"]["SCR_IW"]["base"].__setitem__("resp", 900), "exceeds the 780 treatment respondents"),
        (lambda r: r["design"]["randomised"].__setitem__("XYZ", {"treatment": 1, "control": 1}), "unknown group"),
        (lambda r: r["design"]["respondents"]["SCR_IW"].__setitem__("treatment", 800), "base.highest = [2519, 1463, 683, 780] must be"),
        (lambda r: r["baseline_characteristics"]["SCR_OOW"]["base"]["lowest"].__setitem__(1, 1970), "sample 1970 is not control 927"),
        (lambda r: r["baseline_characteristics"]["WMCA_OOW"]["base"]["lowest"].__setitem__(0, 3670), "leaves -28 for the 1732 non-respondents"),
        (lambda r: r["baseline_characteristics"]["item_nonresponse"].__setitem__("variable", "age"), "models missing values of"),
        (lambda r: r["ips_sessions"]["total"]["resp"].pop(), "ips_sessions.total.resp has 8 percentages for the 9 bins"),
        (lambda r: r["first_session"]["total"]["all"].__setitem__(0, 41.7), "first_session.total.all percentages sum to"),
        (lambda r: r["first_session"]["SCR_IW"]["resp"].append(0.0), "first_session.SCR_IW.resp has 11 percentages"),
        (lambda r: r["primary_prose"]["OOW_pooled"]["eq5d"].__setitem__("band", "strong"),
         "primary_prose.OOW_pooled.eq5d.band = 'strong'; expected one of ['none', 'weak', 'significant']"),
        (lambda r: r["primary_prose"]["OOW_pooled"]["eq5d"].pop("band"), "missing key primary_prose.OOW_pooled.eq5d.band"),
        (lambda r: r["primary_prose"]["OOW_pooled"]["swemwbs"].__setitem__("effect_size", -0.1), "effect_size = -0.1 must be a positive"),
        (lambda r: r["primary_prose"].__setitem__("SCR", []), "primary_prose.SCR must map primary outcomes to claims"),
        (lambda r: r["primary_prose"].__setitem__("Sheffield", {}), "primary_prose.Sheffield is not a trial or pooled group"),
        (lambda r: r["primary_prose"]["OOW_pooled"].__setitem__("jsse", {"band": "weak"}), "'jsse' is not a primary outcome"),
        (lambda r: r["table_4_5"]["prose"].__setitem__("band", "weak"), "table_4_5.prose.band = 'weak'; the generator knows only 'none'"),
        (lambda r: r["table_4_5"]["prose"].__setitem__("alpha", 5), "table_4_5.prose.alpha = 5 must be a level between 0 and 1"),
        (lambda r: r["table_4_5"]["prose"].pop("alpha"), "missing key table_4_5.prose.alpha"),
        # wrong types and values the generator would otherwise trip over deep down
        (lambda r: r["baseline_characteristics"]["SCR_OOW"]["rows"]["partner"].pop("values"),
         "baseline_characteristics.SCR_OOW.rows.partner needs a 'values' list"),
        (lambda r: r["baseline_characteristics"]["SCR_OOW"]["rows"]["age"]["values"].__setitem__(0, "forty"),
         "baseline_characteristics.SCR_OOW.rows.age.values[0] = 'forty' is not a number"),
        (lambda r: r["admin_12m"]["SCR_OOW"].__setitem__("impact", "0.1"), "admin_12m.SCR_OOW.impact = '0.1' is quoted text"),
        (lambda r: r["baseline_characteristics"]["SCR_OOW"]["rows"]["age"]["values"].__setitem__(0, -5),
         "age.*= -5 must be a mean age in"),
        (lambda r: r["design"]["intake"].__setitem__("start", "not a date"), "design.intake.start = 'not a date' is not a date"),
        (lambda r: r["design"]["intake"].__setitem__("end", "2018-01-01"), "is not before design.intake.end"),
        (lambda r: r["outcome_sd"].pop("SCR_OOW"), "missing key outcome_sd.SCR_OOW"),
        (lambda r: r["outcome_sd"]["WMCA_OOW"].__setitem__("gse", 0), "outcome_sd.WMCA_OOW.gse = 0 must be a positive number"),
    ],
)
def test_malformed_targets_raise_clear_errors(edit, message):
    raw = copy.deepcopy(TARGETS.raw)
    edit(raw)
    with pytest.raises(TargetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate(raw)


def test_inconsistent_edit_names_the_targets_to_change(tmp_path):
    def edit(raw):
        _more_iw_treatment_respondents(raw)
        raw["secondary_impacts"]["SCR"]["rows"]["work16"]["values"][1] = 0.40  # pooled mean follows

    path = _edited(tmp_path, edit)
    with pytest.raises(TargetError, match=r"ips_sessions.SCR_IW.base together with design.respondents"):
        data_synth.generate(path)


def test_unmeetable_target_names_itself(tmp_path):
    # a share no whole number of 40 people can print: 0.57 of 40 would need 22.8 people
    def edit(raw):
        raw["design"]["randomised"]["SCR_IW"] = {"treatment": 20, "control": 20}
        raw["design"]["respondents"]["SCR_IW"] = {"treatment": 15, "control": 15}
        raw["baseline_characteristics"]["SCR_IW"].pop("base")  # its counts no longer apply

    path = _edited(tmp_path, edit)
    with pytest.raises(TargetError, match="SCR_IW"):
        data_synth.generate(path)


def test_scale_multiplies_counts():
    d = data_synth.generate(seed=0, scale=2, mode="sampled")
    assert len(d) == 2 * 9785
    assert (d.groupby(["group", "treat"]).size() == 2 * pd.Series(
        {(g, a): TARGETS.raw["design"]["randomised"][g][n] for g in vocab.GROUPS for a, n in ((0, "control"), (1, "treatment"))}
    )).all()


def test_cli_generate_and_check(tmp_path):
    out = tmp_path / "trial"
    r = subprocess.run([sys.executable, "-m", "data_synth", "generate", "--out", str(out), "--seed", "0", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "data_synth", "check", "--data", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "targets met; 0 missed" in r.stdout
    assert "Table 4-1" in r.stdout
    # a damaged file makes check fail with exit code 1
    data = pd.read_csv(out / "recruits.csv")
    data.loc[data.index[:40], "responded"] = 1 - data.loc[data.index[:40], "responded"]
    data.to_csv(out / "recruits.csv", index=False)
    r = subprocess.run([sys.executable, "-m", "data_synth", "check", "--data", str(out)], capture_output=True, text=True)
    assert r.returncode == 1
    assert "missed" in r.stdout
    r = subprocess.run([sys.executable, "-m", "data_synth", "check", "--data", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2 and "not found" in r.stderr


def test_cli_check_uses_the_targets_the_data_were_generated_from(tmp_path):
    """generate --targets FILE keeps a copy beside the data; check without --targets
    compares with it (manifest.json's SHA-256), not with the kit's own file, and says so
    when the file the data came from is nowhere to be found."""
    path = _edited(tmp_path, lambda raw: raw["baseline_characteristics"]["SCR_IW"]["rows"]["female"]["values"].__setitem__(0, 0.62))
    out = tmp_path / "trial"
    run = lambda *a: subprocess.run([sys.executable, "-m", "data_synth", *a], capture_output=True, text=True)  # noqa: E731
    r = run("generate", "--out", str(out), "--targets", path, "--mode", "sampled", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (out / "targets.yaml").read_bytes() == open(path, "rb").read()
    r = run("check", "--data", str(out))
    line = next(x for x in r.stdout.splitlines() if x.startswith("baseline_characteristics.SCR_IW.female.population"))
    assert "target      0.62" in line, line
    r = run("check", "--data", str(out), "--targets", str(TARGETS.path))  # asked for: used, with a note
    assert "is not the targets file these data were generated from" in r.stderr
    assert "target      0.57" in next(x for x in r.stdout.splitlines() if x.startswith("baseline_characteristics.SCR_IW.female.population"))
    (out / "targets.yaml").unlink()
    r = run("check", "--data", str(out))
    assert r.returncode == 2 and "pass it with --targets FILE" in r.stderr and "targets.yaml" in r.stderr
    # the kit's own targets: no copy written, check finds them by their hash
    own = tmp_path / "own"
    assert run("generate", "--out", str(own), "--mode", "sampled", "--quiet", "--targets", str(TARGETS.path)).returncode == 0
    assert not (own / "targets.yaml").exists()
    assert "is not the targets file" not in run("check", "--data", str(own)).stderr


def test_pooled_means_edited_out_of_reach_name_themselves(tmp_path):
    """More SCR IW respondents without moving SCR's pooled mean: no whole counts fit both
    pooled tables, and the error names the outcome and the cells."""
    def edit(raw):
        _more_iw_treatment_respondents(raw)
        raw["design"]["total_respondents"]["value"] = 5427
        raw["ips_sessions"]["SCR_IW"]["base"]["resp"] = 797
        raw["first_session"]["SCR_IW"]["base"]["resp"] = 772

    with pytest.raises(TargetError, match=r"pooled raw means of work16 \(treatment\) SCR 0.39"):
        data_synth.generate(_edited(tmp_path, edit), seed=3)


def test_paid_work_counts_follow_chapter_3(exact_trial):
    """§3.3.3's numbers in work at 4 months, rescaled to Table 4-1's respondents, are the
    exact trial's counts in paid work (the derived arm means sit inside their rounding)."""
    ch3 = TARGETS.raw["chapter3"]
    d = exact_trial.data
    for g in TARGETS.groups:
        rows = d[(d[vocab.GROUP] == g) & (d[vocab.RESPONDED] == 1)]
        want = round(ch3["in_work_at_4_months"][g] * len(rows) / ch3["respondents_ch3"][g])
        assert int(rows["paid_work"].sum()) == want, g
        c, t_ = TARGETS.raw["primary_outcomes"][g]["paid_work"][:2]
        for arm, printed in ((0, c), (1, t_)):
            assert round(rows.loc[rows[vocab.TREAT] == arm, "paid_work"].mean(), 2) == printed


def test_paid_work_aim_leaves_unreachable_counts_alone():
    from data_synth.outcomes import aim_in_work_counts
    from data_synth.pooled import resolve_pooled_means

    t, _ = resolve_pooled_means(TARGETS)
    t.raw["chapter3"]["in_work_at_4_months"]["SCR_OOW"] = 900  # 45 % of 1,984: outside 0.17 / 0.17
    before = list(t.raw["primary_outcomes"]["SCR_OOW"]["paid_work"])
    aim_in_work_counts(t)
    assert t.raw["primary_outcomes"]["SCR_OOW"]["paid_work"] == before
    assert t.raw["primary_outcomes"]["SCR_IW"]["paid_work"][0] != 0.81  # the others still aimed


def test_table_3_10_total_eq5d_prints_with_every_group(exact_trial):
    """Table 3-10: the groups' mean EQ5D5L (0.58, 0.57, 0.57) and the Total's (0.58) all print
    from the respondents; the derived arm means' middles pool to 0.5729, so the Total needs
    the groups moved up inside their rounding (outcomes.aim_chapter3_total), the impacts kept."""
    ch3 = TARGETS.raw["chapter3"]["eq5d_mean_4m"]
    resp = exact_trial.data[exact_trial.data[vocab.RESPONDED] == 1]
    for g in TARGETS.groups:
        assert round(resp.loc[resp[vocab.GROUP] == g, "eq5d"].mean(), 2) == ch3[g], g
    assert round(resp["eq5d"].mean(), 2) == ch3["Total"]


def test_chapter3_total_aim_moves_arms_together_and_leaves_out_of_reach_alone():
    from data_synth.outcomes import TOTAL_ROOM, aim_chapter3_total
    from data_synth.pooled import resolve_pooled_means

    t, _ = resolve_pooled_means(TARGETS)
    before = {g: list(t.raw["primary_outcomes"][g]["eq5d"]) for g in t.groups}
    aim_chapter3_total(t)
    for g in t.groups:
        (c0, t0), (c1, t1) = before[g][:2], t.raw["primary_outcomes"][g]["eq5d"][:2]
        assert c1 - c0 == pytest.approx(t1 - t0) and 0 < c1 - c0 <= TOTAL_ROOM * 0.005 + 1e-12, g
    t, _ = resolve_pooled_means(TARGETS)  # downwards: groups high in their rounding, a Total of 0.57
    for g in t.groups:
        t.raw["primary_outcomes"][g]["eq5d"][:2] = [v + 0.004 for v in t.raw["primary_outcomes"][g]["eq5d"][:2]]
    t.raw["chapter3"]["eq5d_mean_4m"]["Total"] = 0.57
    before = {g: list(t.raw["primary_outcomes"][g]["eq5d"]) for g in t.groups}
    aim_chapter3_total(t)
    for g in t.groups:
        (c0, t0), (c1, t1) = before[g][:2], t.raw["primary_outcomes"][g]["eq5d"][:2]
        assert c1 - c0 == pytest.approx(t1 - t0) and -TOTAL_ROOM * 0.005 - 1e-12 <= c1 - c0 < 0, g
    t, _ = resolve_pooled_means(TARGETS)
    t.raw["chapter3"]["eq5d_mean_4m"]["Total"] = 0.60  # above what any mean inside the groups' rounding pools to
    before = {g: list(t.raw["primary_outcomes"][g]["eq5d"]) for g in t.groups}
    aim_chapter3_total(t)
    assert all(t.raw["primary_outcomes"][g]["eq5d"] == before[g] for g in t.groups)
    del t.raw["chapter3"]["eq5d_mean_4m"]["Total"]  # no Total: nothing to aim at
    assert aim_chapter3_total(t) is t and all(t.raw["primary_outcomes"][g]["eq5d"] == before[g] for g in t.groups)


def test_chapter3_total_is_the_scorecards_published_cell():
    """Table 3-10's Total lives in the targets file (aimed at) and in published_extra.yaml
    (compared against); the two must not drift apart."""
    from hlt_replicate.scorecard import load_extra

    cells = {c["id"]: c for c in load_extra()["cells"]}
    assert TARGETS.raw["chapter3"]["eq5d_mean_4m"]["Total"] == cells["ch3.t3_10.total_mean"]["value"]


# --- baseline item non-response (data_synth.items) ------------------------------------------
def test_item_missing_counts_and_true_values(exact_trial):
    """The tables' "Base" ranges: qualification is missing for exactly the counts the targets
    imply in each arm x response cell; the response model saw the true value."""
    d = exact_trial.data
    for g in TARGETS.groups:
        var, cells = TARGETS.item_missing(g)
        grp = d[d.group == g]
        for (arm, resp), k in cells.items():
            cell = grp[(grp.treat == arm) & (grp.responded == resp)]
            assert cell[var].isna().sum() == k, (g, arm, resp)
        assert grp.drop(columns=var).notna().all()[["age", "female", "health", "area", "cohort"]].all()
    assert "_true_qual" not in d.columns


def test_response_model_reads_the_true_qualification():
    """Where the recorded qualification is blanked, the true response model still uses the
    recruit's true one (kept in a hidden column until the output is written)."""
    from data_synth.items import TRUE_PREFIX
    from data_synth.response import linear_index

    d = data_synth.generate(seed=0, mode="sampled")
    d = d[d.qual.notna()].head(200).copy()
    full = linear_index(d.assign(_wh=0.0, _u=0.0))
    blank = d.assign(_wh=0.0, _u=0.0, **{TRUE_PREFIX + "qual": d.qual}, qual=np.nan)
    assert np.allclose(linear_index(blank), full)
    assert not np.allclose(linear_index(blank.drop(columns=TRUE_PREFIX + "qual")), full)


def test_item_missing_sampled_rates():
    """Sampled mode: missing at random at the targets' rates, varying across seeds."""
    counts = []
    for seed in (0, 1):
        d = data_synth.generate(seed=seed, mode="sampled")
        counts.append(int(d.qual.isna().sum()))
    expected = sum(sum(TARGETS.item_missing(g)[1].values()) for g in TARGETS.groups)
    assert all(abs(c - expected) < 4 * expected**0.5 for c in counts)
    assert counts[0] != counts[1]


def test_no_base_means_no_missing_values(tmp_path):
    def edit(raw):
        for g in ("SCR_IW", "SCR_OOW", "WMCA_OOW"):
            raw["baseline_characteristics"][g].pop("base")
        raw["baseline_characteristics"].pop("item_nonresponse")

    d = data_synth.generate(_edited(tmp_path, edit), seed=0, mode="sampled")
    assert d.qual.notna().all()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_scale_100_exact_meets_every_target(seed):
    """~1 M recruits (about a minute and 3.2 GB each; run with ``-m slow``): every target
    that applies under --scale is met."""
    d = data_synth.generate(seed=seed, scale=100)
    rep = calibration_report(d, scale=100)
    missed = rep[rep.status == "missed"]
    assert missed.empty, missed[["id", "value", "achieved", "tol"]].to_string()


def test_a_lost_table_4_5_row_keeps_the_prose_claim(exact_trial):
    """Table 4-5's SWEMWBS row is lost (a copy of another row); the prose says no baseline
    difference is significant at 5 % (§4.2.1; targets file, table_4_5.prose). A synthetic
    difference past the claim's edge is moved inside it, S.E. held, the full population's
    mean restored; one inside it is left alone."""
    from scipy import stats

    from data_synth.generator import _not_significant
    from data_synth.stars import MARGIN
    from hlt_replicate.impact import estimate_itt
    from hlt_replicate.weighting import ipw_weights

    d = exact_trial.data.copy()
    d[vocab.WEIGHT] = ipw_weights(d)
    grp = d[d[vocab.GROUP] == "SCR_OOW"].copy()
    resp = grp[vocab.RESPONDED].to_numpy() == 1
    spec = TARGETS.measure("bl_swemwbs", "SCR_OOW")
    edge = stats.norm.isf(0.05 * 2**MARGIN / 2)

    def t_of(g):
        r = estimate_itt(g[resp], "bl_swemwbs", "SCR_OOW", baseline=False)  # Table 4-5's regression
        return r.impact / r.se, r.se

    assert abs(t_of(grp)[0]) <= edge  # seed 0 draws it inside
    assert _not_significant(grp, resp, "bl_swemwbs", 0.05, spec, np.random.default_rng(0)) is grp
    pushed = grp.copy()
    pushed.loc[resp & (grp[vocab.TREAT] == 1).to_numpy(), "bl_swemwbs"] += 1.5  # t about 4
    t0, se0 = t_of(pushed)
    assert t0 > 2 * edge
    out = _not_significant(pushed, resp, "bl_swemwbs", 0.05, spec, np.random.default_rng(0))
    t1, se1 = t_of(out)
    assert 0 < t1 <= 0.8 * edge and se1 == pytest.approx(se0, rel=0.03)
    assert out["bl_swemwbs"].mean() == pytest.approx(spec["mean"], abs=1e-6)
    assert out["bl_swemwbs"].between(*spec["bounds"]).all()
