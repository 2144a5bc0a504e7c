"""The size rule of the package: no module over 400 lines, no function over 60."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _check_sizes() -> ModuleType:
    """``scripts/check_sizes.py``, loaded from its file (scripts/ is not a package)."""
    path = ROOT / "scripts" / "check_sizes.py"
    spec = importlib.util.spec_from_file_location("check_sizes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_module_or_function_over_the_limit() -> None:
    check_sizes = _check_sizes()
    found = check_sizes.violations(ROOT / "src" / "syncjobs")
    assert found == [], "over the size limit:\n" + "\n".join(found)


def test_the_check_finds_a_long_module_and_a_long_method(tmp_path: Path) -> None:
    check_sizes = _check_sizes()
    method = ["class C:", "    def m(self) -> None:", *(f"        x{i} = {i}" for i in range(60))]
    padding = [f"# line {i}" for i in range(400)]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "long.py").write_text("\n".join(method + padding) + "\n")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "short.py").write_text("def f() -> None:\n    pass\n")

    found = check_sizes.violations(tmp_path)

    assert len(found) == 2
    assert found[0].endswith("long.py: module 462 lines (limit 400)")
    assert found[1].endswith("long.py:2 C.m 61 lines (limit 60)")
    assert check_sizes.main([str(tmp_path / "bad")]) == 1
    assert check_sizes.main([str(tmp_path / "good")]) == 0
