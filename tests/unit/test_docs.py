"""The documentation stays true: generated pages current, the site builds, examples run."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def _gen_settings() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_settings", DOCS / "gen_settings.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block, in order."""
    return [(m["lang"], m["body"]) for m in FENCE.finditer(text)]


def _section(text: str, heading: str) -> str:
    """The text of the ``## `` section whose title contains ``heading``."""
    match = re.search(
        rf"^## [^\n]*{re.escape(heading)}[^\n]*\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL
    )
    assert match is not None, f"README has no section titled like {heading!r}"
    return match.group(1)


def _python_block(section: str) -> str:
    blocks = [body for lang, body in _blocks(section) if lang == "python"]
    assert blocks, "the section has no python code block"
    return blocks[0]


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment minus SYNCJOBS_* settings, with the ledger in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCJOBS_")}
    env["SYNCJOBS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    return env


def test_settings_page_is_up_to_date() -> None:
    expected = _gen_settings().render()
    actual = (DOCS / "settings.md").read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/settings.md is out of date: run `python docs/gen_settings.py > docs/settings.md`"
    )


def test_mkdocs_builds_strictly(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--quiet",
            "-d",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"


def test_readme_opens_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    head = "\n".join(text.splitlines()[:15])
    blocks = _blocks(head)
    assert blocks, "the README's first 15 lines hold no code block"
    commands = [line.strip() for line in blocks[0][1].splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


def test_readme_dozen_lines_example_runs_as_written(tmp_path: Path) -> None:
    code = _python_block(_section(README.read_text(encoding="utf-8"), "dozen lines"))
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1] == "{'counted': 3}", result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["example.py", "ledger.db"]


def test_readme_account_example_runs_as_written(tmp_path: Path) -> None:
    section = _section(README.read_text(encoding="utf-8"), "Connecting and syncing")
    shell = [body for lang, body in _blocks(section) if lang == "sh"]
    assert shell and shell[0].strip() == "syncjobs db upgrade"
    env = _clean_env(tmp_path)
    upgrade = subprocess.run(
        [sys.executable, "-m", "syncjobs", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    script = tmp_path / "account.py"
    script.write_text(_python_block(section), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "'added': 30" in result.stdout, result.stdout
    assert result.stdout.strip().splitlines()[-1] == "[('tiktok', 'active')]", result.stdout


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_every_page_is_in_the_nav(page: str) -> None:
    assert f": {page}" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_readme_analysis_example_runs_as_written(tmp_path: Path) -> None:
    section = _section(README.read_text(encoding="utf-8"), "Analysis, trust scores")
    script = tmp_path / "analysis.py"
    script.write_text(_python_block(section), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[:3] == [
        "analyze_items completed",
        "update_trust_scores completed",
        "aggregate_usage completed",
    ], result.stdout
    channel, score, videos = ast.literal_eval(lines[3])[0]
    assert (channel, videos) == ("My TikTok", 40) and 0.0 < score < 1.0
    analysed, api_calls = ast.literal_eval(lines[4])[0]
    assert analysed == 40 and api_calls >= 1
    assert lines[5] == "['Hi']"


def test_connecting_page_offline_example_runs_as_written(tmp_path: Path) -> None:
    page = (DOCS / "connecting.md").read_text(encoding="utf-8")
    section = _section(page, "Testing the flow offline")
    env = _clean_env(tmp_path)
    upgrade = subprocess.run(
        [sys.executable, "-m", "syncjobs", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    script = tmp_path / "connect.py"
    script.write_text(_python_block(section), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == ["Syncjobs Tester completed 30", "1 False"]
    assert "It prints `Syncjobs Tester completed 30`, then `1 False`." in " ".join(section.split())


def test_connecting_page_host_example_is_valid_python() -> None:
    section = _section((DOCS / "connecting.md").read_text(encoding="utf-8"), "The API")
    [host] = [body for lang, body in _blocks(section) if lang == "python" and "FastAPI()" in body]
    names = {n.name for n in ast.walk(ast.parse(host)) if isinstance(n, ast.AsyncFunctionDef)}
    assert names == {"connect", "oauth_callback"}
