"""Install anywhere: the reusable Action and the workflow (actionlint), the GitLab template
(check-jsonschema's vendored GitLab CI schema), the Dockerfile (hadolint), compose and systemd
examples, and the distribution name. Every linter runs offline from the dev extra."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def _repo_copy(tmp_path: Path) -> Path:
    """action.yml and the workflows in a git repository of their own: actionlint resolves
    `uses: ./` against the repository root."""
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def test_workflow_and_action_pass_actionlint(tmp_path: Path) -> None:
    repo = _repo_copy(tmp_path)
    done = tool("actionlint", "-no-color", ".github/workflows/citations.yml", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    # actionlint did read the Action: an input it does not declare is an error.
    wf = repo / ".github" / "workflows" / "citations.yml"
    wf.write_text(wf.read_text().replace("        with:\n          args:", "        with:\n          bogus: x\n"
                                         "          args:"))
    done = tool("actionlint", "-no-color", ".github/workflows/citations.yml", cwd=repo)
    assert done.returncode == 1 and 'input "bogus" is not defined' in done.stdout


def test_the_actions_steps_pass_actionlint(tmp_path: Path) -> None:
    """actionlint lints workflows, not action metadata: the Action's steps are linted as the
    steps of a reusable workflow that declares the same inputs."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {name: {"type": "string", "default": spec.get("default", "")} for name, spec in action["inputs"].items()}
    workflow = {"name": "action-steps", "on": {"workflow_call": {"inputs": inputs}},
                "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}}}
    path = tmp_path / ".github" / "workflows" / "action-steps.yml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(workflow, sort_keys=False))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = tool("actionlint", "-no-color", str(path.relative_to(tmp_path)), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def _steps(action: dict[str, Any]) -> list[dict[str, Any]]:
    return list(action["runs"]["steps"])


def test_the_action_keeps_history_checks_summarises_and_uploads() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite" and "ref" in action["inputs"]
    steps = _steps(action)
    uses = [s.get("uses", "") for s in steps]
    restore = steps[uses.index("actions/cache/restore@v5")]
    save = steps[uses.index("actions/cache/save@v5")]
    for step in (restore, save):
        assert "linkcheck.db" in step["with"]["path"] and "snapshots" in step["with"]["path"]
    assert save.get("if") == "always()" and restore["with"]["restore-keys"]
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert 'linkcheck check --config "$CONFIG" --format github' in scripts  # writes the step summary too
    assert "linkcheck report" in scripts and "--format html" in scripts
    assert "pip install ." not in scripts  # never the calling repository's own project
    assert uses.index("actions/cache/restore@v5") < uses.index("actions/cache/save@v5")
    upload = steps[uses.index("actions/upload-artifact@v6")]
    assert upload["if"] == "always()" and upload["with"]["path"].endswith("/reports/")


def test_the_wheels_workflow_passes_actionlint_and_tests_the_compiled_walk(tmp_path: Path) -> None:
    """Released wheels (every platform, cibuildwheel) are what let `pipx install` work without a C
    compiler; each is tested by importing the compiled walk and reading a page with it."""
    repo = _repo_copy(tmp_path)
    done = tool("actionlint", "-no-color", ".github/workflows/wheels.yml", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "wheels.yml").read_text())["jobs"]
    [build] = [s for s in jobs["wheels"]["steps"] if s.get("uses", "").startswith("pypa/cibuildwheel@")]
    assert "extract(" in build["env"]["CIBW_TEST_COMMAND"] and "cp311-*" in build["env"]["CIBW_BUILD"]
    assert jobs["publish"]["permissions"] == {"id-token": "write"} and jobs["publish"]["needs"] == ["wheels", "sdist"]


def test_gitlab_template_matches_the_vendored_schema(tmp_path: Path) -> None:
    path = ROOT / "examples" / "gitlab-ci.yml"
    done = tool("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    job = yaml.safe_load(path.read_text())["citations"]
    history = next(c for c in job["cache"] if "linkcheck.db" in c["paths"])
    assert "snapshots/" in history["paths"] and history["when"] == "always"
    assert "linkcheck-citations" in job["variables"]["LINKCHECK_SPEC"]
    assert not any("pip install ." in line for line in job["before_script"] + job["script"])
    broken = tmp_path / "gitlab-ci.yml"
    broken.write_text(path.read_text().replace("when: always\n    - key: pip", "when: sometimes\n    - key: pip"))
    assert tool("check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", str(broken)).returncode == 1


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    dockerfile = ROOT / "Dockerfile"
    done = tool("hadolint", str(dockerfile))
    assert done.returncode == 0, done.stdout + done.stderr
    text = dockerfile.read_text()
    assert "FROM python:3.12-slim" in text and "\nUSER 10001" in text and 'VOLUME ["/data"]' in text
    assert '"linkcheck", "status"' in text.split("HEALTHCHECK", 1)[1].split("\n\n")[0]
    assert 'CMD ["daemon"' in text
    worse = tmp_path / "Dockerfile"
    worse.write_text(text.replace("FROM python:3.12-slim", "FROM python:latest"))
    assert tool("hadolint", str(worse)).returncode == 1  # DL3007: the linter does look


def test_compose_and_systemd_examples() -> None:
    compose = yaml.safe_load((ROOT / "examples" / "compose.yaml").read_text())
    service = compose["services"]["linkcheck"]
    assert service["volumes"] == ["citations:/data"] and "citations" in compose["volumes"]
    units = {}
    for name in ("linkcheck.service", "linkcheck.timer", "linkcheck-daemon.service"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(ROOT / "examples" / "systemd" / name)
        units[name] = parser
    assert "linkcheck check --quiet" in units["linkcheck.service"]["Service"]["ExecStart"]
    assert units["linkcheck.service"]["Service"]["SuccessExitStatus"] == "1"
    assert units["linkcheck.timer"]["Timer"]["Persistent"] == "true"
    assert "linkcheck daemon" in units["linkcheck-daemon.service"]["Service"]["ExecStart"]


def test_distribution_name_is_not_the_unrelated_pypi_linkcheck() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "linkcheck-citations"
    assert project["scripts"] == {"linkcheck": "linkcheck.cli:main"}


def test_compose_cluster_example_runs_real_commands() -> None:
    """PostgreSQL + migrate + workers + one daemon, each command one the CLI accepts, the image built
    with the postgresql extra, and no password written down (PGPASSWORD comes from the environment)."""
    from linkcheck.cli import build_parser

    text = (ROOT / "examples" / "compose-cluster.yaml").read_text()
    compose = yaml.safe_load(text)
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "worker", "daemon"}
    for name in ("migrate", "worker", "daemon"):
        service = services[name]
        assert service["build"]["args"] == {"EXTRAS": "postgresql"}
        assert service["environment"]["PGPASSWORD"] == "${PGPASSWORD:?set PGPASSWORD}"
        args = build_parser().parse_args(service["command"])
        assert args.command == name and str(args.config) == "/data/sources.toml"
    assert services["worker"]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert "postgresql://linkcheck@postgres/citations" in text and "postgresql://linkcheck:" not in text


def test_every_module_imports_on_its_own() -> None:
    """A library user may import any module first (`from linkcheck.pipeline import run_pass`): no
    import cycle may depend on which module the CLI happens to import first."""
    from concurrent.futures import ThreadPoolExecutor

    package = ROOT / "linkcheck"
    modules = sorted(".".join(("linkcheck", *p.relative_to(package).with_suffix("").parts)).removesuffix(".__init__")
                     for p in package.rglob("*.py") if p.name != "__main__.py")
    assert "linkcheck.pipeline" in modules and "linkcheck.reporters.markdown" in modules

    def alone(module: str) -> tuple[str, str]:
        done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120,
                              check=False)
        return module, done.stderr.strip().splitlines()[-1] if done.returncode else ""

    with ThreadPoolExecutor(4) as pool:
        failed = [(m, err) for m, err in pool.map(alone, modules) if err]
    assert failed == []
