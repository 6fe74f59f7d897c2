"""The layers keep their order: settings → storage → conversations (and retrieval) → recommendations →
learning, actions, channels (bot), analytics → alerts → inbox.

Read from the source with ast (every import, including ones inside functions), so a shortcut such as
the inbox importing its launcher, or the product importing benchmark code, fails here. A package may
import only the layers listed for it; nothing in the product imports `runner` or `benchmarks`.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]

# what each product package may import from the project (besides itself)
ALLOWED: Dict[str, Set[str]] = {
    "settings": set(),
    "storage": {"settings"},
    "conversations": {"settings", "storage"},
    "retrieval": {"settings", "storage"},
    "learning": {"settings", "storage", "conversations", "retrieval", "recommendations"},
    "actions": {"settings", "storage", "conversations", "retrieval", "recommendations"},
    "bot": {"settings", "storage", "conversations", "retrieval"},
    "analytics": {"settings", "storage", "conversations"},
    "alerts": {"settings", "storage", "conversations", "analytics"},
    "recommendations": {"settings", "storage", "conversations", "retrieval"},
    "inbox": {"settings", "storage", "conversations", "recommendations", "learning", "analytics", "alerts"},
    "runner": {
        "settings",
        "storage",
        "conversations",
        "retrieval",
        "learning",
        "analytics",
        "alerts",
        "inbox",
        "recommendations",
    },
}
PROJECT = set(ALLOWED) | {"benchmarks", "tests"}


def imports(path: Path) -> Iterator[Tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def violations(package: str) -> Dict[str, str]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imports(path):
            top = module.split(".")[0]
            if top in PROJECT and top != package and top not in ALLOWED[package]:
                found[f"{path.relative_to(ROOT)}:{line}"] = module
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_its_lower_layers(package: str) -> None:
    assert violations(package) == {}, f"{package} may import only {sorted(ALLOWED[package]) or 'nothing of ours'}"


def test_every_top_level_package_has_a_layer() -> None:
    """A new package must be placed in the order above before it ships."""
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages <= set(ALLOWED), f"add {sorted(packages - set(ALLOWED))} to ALLOWED"


def test_the_check_sees_a_forbidden_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "x.py").write_text("def f():\n    from inbox.settings import Settings\n")
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert violations("storage") == {"storage/x.py:2": "inbox.settings"}
