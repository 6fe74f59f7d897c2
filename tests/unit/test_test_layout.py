"""Tests share code only through tests/support: no module under tests/ imports a conftest.py or a test_*.py.

A conftest is pytest's to load; imported by name it runs a second time as another module, fixtures and all.
A helper kept in a test module drags that module along into every importer and hides it from the next
person looking for shared code. Every import is read with `ast`, function-level ones included, and resolved
to the file it would load.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]


def imported_names(path: Path, root: Path) -> Iterator[Tuple[int, str]]:
    """Each dotted name an import in `path` may load: the module, and for `from m import n` also `m.n`
    (n may be a module: `from tests.security import test_fuzz`)."""
    package = path.relative_to(root).parent.parts
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: `from . import x` is the package itself, each extra dot one up
                parts = package[: len(package) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def source_file(module: str, root: Path) -> Optional[Path]:
    path = root.joinpath(*module.split("."))
    for candidate in (path.parent / f"{path.name}.py", path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def layout_violations(root: Path) -> List[str]:
    """`file:line imports module` for each import of a conftest or test_* module under root/tests."""
    tests = root / "tests"
    found = []
    for path in sorted(tests.rglob("*.py")):
        for line, module in imported_names(path, root):
            target = source_file(module, root)
            if target is None or tests not in target.parents:
                continue
            if target.name == "conftest.py" or target.name.startswith("test_"):
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return sorted(set(found))


def test_no_module_under_tests_imports_a_conftest_or_a_test_module() -> None:
    assert layout_violations(ROOT) == [], "move what they share into tests/support/"


def test_the_check_sees_every_way_of_importing_them(tmp_path: Path) -> None:
    files = {
        "tests/__init__.py": "",
        "tests/conftest.py": "def shared():\n    return 1\n",
        "tests/support/__init__.py": "",
        "tests/support/helpers.py": "def test_looking_helper():\n    return 2\n",
        "tests/unit/__init__.py": "",
        "tests/unit/conftest.py": "",
        "tests/unit/test_a.py": "def helper():\n    return 3\n",
        "tests/unit/test_b.py": (
            "from tests.conftest import shared\n"
            "from tests.unit.test_a import helper\n"
            "from tests.unit import test_a\n"
            "import tests.unit.test_a\n"
            "from .test_a import helper as again\n"
            "from . import conftest\n"
            "from tests.support.helpers import test_looking_helper\n"
            "import json\n"
            "\n"
            "def test_b():\n"
            "    from tests.unit.conftest import nothing\n"
        ),
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    assert layout_violations(tmp_path) == [
        "tests/unit/test_b.py:1 imports tests.conftest",
        "tests/unit/test_b.py:11 imports tests.unit.conftest",
        "tests/unit/test_b.py:2 imports tests.unit.test_a",
        "tests/unit/test_b.py:3 imports tests.unit.test_a",
        "tests/unit/test_b.py:4 imports tests.unit.test_a",
        "tests/unit/test_b.py:5 imports tests.unit.test_a",
        "tests/unit/test_b.py:6 imports tests.unit.conftest",
    ]
