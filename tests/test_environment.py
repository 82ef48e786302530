"""Set-up files agree: environment.yml lists what pyproject.toml installs, and CI runs the
README's test command."""
from __future__ import annotations

import re
import tomllib

import yaml

from conftest import ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in py["dependencies"] + py["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d): d for d in env["dependencies"] if isinstance(d, str)}
    conda.pop("python", None)
    conda.pop("pip", None)
    assert set(conda) == set(wanted), f"only in pyproject: {set(wanted) - set(conda)}; only in environment.yml: {set(conda) - set(wanted)}"
    for name, req in wanted.items():  # the same version bounds
        assert conda[name].replace(" ", "").lower() == req.replace(" ", "").lower(), (name, req, conda[name])
    assert "conda-forge" in env["channels"]
    pip = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip and "-e ." in pip[0]["pip"], "environment.yml must install the kit itself"
    py_req = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert py_req.replace(" ", "") == "python" + py["requires-python"].replace(" ", "")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Run the tests.*?```(?:bash)?\n(.*?)```", readme, re.S)
    assert block, "README has no 'Run the tests' command block"
    command = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(command) == 1
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command[0].strip() in [ln.strip() for ln in ci]
