"""``make screenshots`` keeps working: the script builds its data set and saves every page."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("overview", "jobs", "job", "dead-letters", "schedules", "accounts")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is no PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_screenshots_script_saves_every_page(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshots.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,  # the script finds the repository by itself
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {f"dashboard-{page}.png" for page in PAGES}
    expected |= {"dashboard-overview-phone.png", "dashboard-job-phone.png"}
    assert {p.name for p in tmp_path.glob("*.png")} == expected
    for name in expected:
        path = tmp_path / name
        width, height = png_size(path)
        assert width == (390 if "phone" in name else 1366), name
        assert height >= (844 if "phone" in name else 900), name
        assert path.stat().st_size < 300_000, name
