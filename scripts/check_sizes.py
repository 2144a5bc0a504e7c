"""Check the size rule of `src/syncjobs`: no module over 400 lines, no function over 60.

Usage: `python scripts/check_sizes.py [ROOT]` (ROOT defaults to `src/syncjobs` of this
checkout). Prints every module over the limit (`path: N lines`) and every function or method
over the limit (`path:line name N lines`, counted from its `def` to its last line), then exits
1; with none, prints a one-line summary and exits 0.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "src" / "syncjobs"


Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(tree: ast.AST) -> Iterator[tuple[str, Function]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, Function]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                yield name, child
                yield from walk(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, f"{prefix}{child.name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def violations(root: Path = DEFAULT_ROOT) -> list[str]:
    """Every module and function of ``root`` over its limit, one line each, in path order."""
    found: list[str] = []
    here = Path.cwd()
    for path in sorted(root.resolve().rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        shown = path.relative_to(here) if path.is_relative_to(here) else path
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            found.append(f"{shown}: module {lines} lines (limit {MAX_MODULE_LINES})")
        for name, node in functions(ast.parse(text, filename=str(path))):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(
                    f"{shown}:{node.lineno} {name} {length} lines (limit {MAX_FUNCTION_LINES})"
                )
    return found


def main(argv: list[str] | None = None) -> int:
    """Print the violations under the given root; return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else DEFAULT_ROOT
    found = violations(root)
    for line in found:
        print(line)
    modules = sum(1 for _ in root.rglob("*.py"))
    if found:
        print(f"{len(found)} size violation(s) in {modules} modules under {root}")
        return 1
    print(
        f"sizes ok: {modules} modules under {root}, none over {MAX_MODULE_LINES} lines, "
        f"no function over {MAX_FUNCTION_LINES} lines"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
