"""CI mode, through the CLI as a subprocess: JUnit, GitHub annotations, step summary, baselines,
--only, --changed-since and validate."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, commit_all, page, run_subprocess, send, write_config
from lxml import etree


@pytest.fixture
def ci_site(server: Server, tmp_path: Path) -> Path:
    server.routes["/ok"] = lambda h: send(h, 200, page("<p>All good here.</p>"))
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    server.routes["/quote"] = lambda h: send(h, 200, page("<p>Allies agree and conditions are met.</p>"))
    server.routes["/down"] = lambda h: send(h, 503, "down")
    return write_config(tmp_path, [
        {"id": "ok", "url": server.url("/ok"), "quotes": ["All good here."]},
        {"id": "gone", "url": server.url("/gone")},
        {"id": "quote", "url": server.url("/quote"), "quotes": ["when member countries agree"]},
        {"id": "down", "url": server.url("/down")},
    ])


def _lines_of_sources(config: Path) -> dict[str, int]:
    lines = config.read_text().splitlines()
    heads = [i for i, line in enumerate(lines, 1) if line == "[[source]]"]
    return {lines[i].split('"')[1]: i for i in heads}  # the id is on the line after the header


def test_junit(ci_site: Path) -> None:
    done = run_subprocess(["check", "--config", str(ci_site), "--format", "junit"], ci_site.parent)
    assert done.returncode == 1, done.stderr
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "junit.xsd")))
    document = etree.fromstring(done.stdout.encode())
    assert schema.validate(document), schema.error_log
    root = ET.fromstring(done.stdout)
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = {c.get("classname"): c for c in suite.iter("testcase")}
    assert set(cases) == {"ok", "gone", "quote", "down"}
    assert cases["ok"].get("name", "").endswith("/ok") and len(cases["ok"]) == 0
    gone = cases["gone"].find("failure")
    assert gone is not None and "broken citation" in gone.get("message", "") and gone.get("type") == "dead"
    quote = cases["quote"].find("failure")
    assert quote is not None and "“when member countries agree” — missing" in (quote.text or "")
    assert "nearest passage on the page: “Allies agree and conditions are met.”" in (quote.text or "")
    skipped = cases["down"].find("skipped")
    assert skipped is not None and skipped.get("message", "").startswith("could not be verified")


def test_junit_says_what_a_304_means(server: Server, tmp_path: Path) -> None:
    """A page answered 304 on the second pass keeps its findings: the failure text says so
    instead of a bare "HTTP 304", which reads like an error to whoever opens the CI log."""
    def quoted(h: Any) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            send(h, 304, b"", headers={"ETag": '"v1"'})
        else:
            send(h, 200, page("<p>Allies agree and conditions are met.</p>"), headers={"ETag": '"v1"'})

    server.routes["/quote"] = quoted
    config = write_config(tmp_path, [{"id": "quote", "url": server.url("/quote"), "quotes": ["countries agree"]}])
    first = run_subprocess(["check", "--config", str(config), "--format", "junit"], tmp_path)
    second = run_subprocess(["check", "--config", str(config), "--format", "junit"], tmp_path)
    assert first.returncode == second.returncode == 1
    assert "→ alive (HTTP 200)" in first.stdout
    assert "→ alive (HTTP 304: not modified since the last check, whose findings stand)" in second.stdout


def test_github_annotations_and_step_summary(ci_site: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = os.environ | {"GITHUB_STEP_SUMMARY": str(summary)}
    done = run_subprocess(["check", "--config", "sources.toml", "--format", "github"], ci_site.parent, env=env)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    at = _lines_of_sources(ci_site)
    assert lines[0].startswith(f"::error file=sources.toml,line={at['gone']},title=Broken citation%3A gone::")
    assert "/gone" in lines[0]
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert [e.split(",")[1] for e in errors] == [f"line={at['gone']}", f"line={at['quote']}"]
    assert len(warnings) == 1 and f"line={at['down']}" in warnings[0]
    assert "could not be verified" in warnings[0]
    assert lines[-1] == "linkcheck: 4 sources, 1 ok, 1 warning, 2 broken"
    text = summary.read_text()
    assert text.startswith("earlier step\n### Citations")
    assert "| ❌ | [gone](" in text and "| ✅ | [ok](" in text


def test_github_annotation_points_at_the_article(server: Server, tmp_path: Path) -> None:
    server.routes["/gone"] = lambda h: send(h, 404, "gone")
    (tmp_path / "article.md").write_text("Some text.\nA claim [1].\n\n[1] Source " + server.url("/gone") + "\n")
    config = write_config(tmp_path, [{"id": "s1", "url": server.url("/gone"), "article": "article.md",
                                      "article_line": 4}])
    done = run_subprocess(["check", "--config", "sources.toml", "--format", "github"], tmp_path)
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert errors[1].startswith("::error file=article.md,line=4,")
    assert config.exists()


def test_baseline_old_problem_passes_new_one_fails(ci_site: Path, server: Server, tmp_path: Path) -> None:
    base = tmp_path / "baseline.json"
    done = run_subprocess(["check", "--config", str(ci_site), "--write-baseline", str(base)], tmp_path)
    assert done.returncode == 0 and base.exists(), done.stderr  # writing the baseline is the job asked
    assert "3 sources with problems recorded" in done.stderr
    done = run_subprocess(["check", "--config", str(ci_site), "--baseline", str(base)], tmp_path)
    assert done.returncode == 0, done.stdout
    assert "known problem (in the baseline)" in done.stdout
    server.routes["/ok"] = lambda h: send(h, 410, "now gone too")
    done = run_subprocess(["check", "--config", str(ci_site), "--baseline", str(base), "--format", "github"],
                          tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 1 and "Broken citation%3A ok" in errors[0]


def test_fail_on_can_include_unreachable(server: Server, tmp_path: Path) -> None:
    server.routes["/down"] = lambda h: send(h, 503, "down")
    config = write_config(tmp_path, [{"id": "down", "url": server.url("/down")}],
                          policy={"fail_on": ["dead", "soft-404", "quote-missing", "unreachable"]})
    assert run_subprocess(["check", "--config", str(config)], tmp_path).returncode == 1


def test_only(ci_site: Path, server: Server) -> None:
    done = run_subprocess(["check", "--config", str(ci_site), "--only", "ok", "down"], ci_site.parent)
    assert done.returncode == 0
    assert "/gone" not in server.requests and "/ok" in server.requests
    done = run_subprocess(["check", "--config", str(ci_site), "--only", "nope"], ci_site.parent)
    assert done.returncode == 2 and "'nope'" in done.stderr


def test_changed_since(ci_site: Path, server: Server) -> None:
    repo = ci_site.parent
    commit_all(repo, "sources", first=True)
    text = ci_site.read_text().replace('quotes = ["All good here."]', 'quotes = ["All good here."]\ntitle = "Edited"')
    ci_site.write_text(text + f'\n[[source]]\nid = "new"\nurl = "{server.url("/ok")}"\n')
    done = run_subprocess(["check", "--config", "sources.toml", "--changed-since", "HEAD", "--format", "junit"], repo)
    assert done.returncode == 0, done.stderr
    names = {c.get("classname") for c in ET.fromstring(done.stdout).iter("testcase")}
    assert names == {"ok", "new"}
    assert "/gone" not in server.requests
    commit_all(repo, "more")
    done = run_subprocess(["check", "--config", "sources.toml", "--changed-since", "HEAD"], repo)
    assert done.returncode == 0 and "no source changed since HEAD" in done.stderr
    done = run_subprocess(["check", "--config", "sources.toml", "--changed-since", "no-such-ref"], repo)
    assert done.returncode == 2 and "--changed-since" in done.stderr


def test_validate_offline(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[source]]\nid = "a"\nurl = "https://example.org/"\nquotes = ["x"]\n')
    done = run_subprocess(["validate", "--config", str(good)], tmp_path)
    assert done.returncode == 0 and "valid (1 source, 1 quote)" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[source]]\nid = "a"\nurl = "gopher://example.org/"\n')
    done = run_subprocess(["validate", "--config", str(bad)], tmp_path)
    assert done.returncode == 2 and "gopher" in done.stderr and "Traceback" not in done.stderr


def test_ci_examples_exist_and_name_real_commands() -> None:
    root = Path(__file__).resolve().parent.parent
    workflow = (root / ".github" / "workflows" / "citations.yml").read_text()
    assert "uses: ./" in workflow and "schedule:" in workflow and "sources.toml" in workflow
    action = (root / "action.yml").read_text()
    assert "linkcheck check" in action and "--format github" in action and "upload-artifact" in action
    assert "linkcheck validate" in (root / ".pre-commit-hooks.yaml").read_text()
    assert "--format junit" in (root / "examples" / "gitlab-ci.yml").read_text()
