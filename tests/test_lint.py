"""Code style and workflow checks that CI would otherwise run as separate steps."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_finds_nothing():
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_workflows_pass_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint, "actionlint is installed from requirements-test.lock"
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = run(actionlint, "-no-color", *workflows)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_site_is_published_only_after_the_tests_pass():
    """The only workflow that deploys to Pages deploys after the test job, on main."""
    import yaml

    workflows = {p.name: yaml.safe_load(p.read_text()) for p in
                 (ROOT / ".github" / "workflows").glob("*.yml")}
    deploying = {name: flow for name, flow in workflows.items()
                 if any(step.get("uses", "").startswith("actions/deploy-pages")
                        for job in flow["jobs"].values() for step in job.get("steps", []))}
    assert list(deploying) == ["ci.yml"]
    jobs = deploying["ci.yml"]["jobs"]

    def needs(job: str) -> set[str]:
        direct = jobs[job].get("needs", [])
        direct = {direct} if isinstance(direct, str) else set(direct)
        return direct.union(*(needs(other) for other in direct)) if direct else set()

    assert "test" in needs("deploy")
    assert "refs/heads/main" in jobs["build-site"]["if"]
