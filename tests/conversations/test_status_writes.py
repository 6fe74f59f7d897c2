"""Only conversations/lifecycle.py writes a conversation's status: every other process asks it to.

Read from the source (ast), so a new `conversation.status = "..."`, an `update(Conversation)` or a raw
`UPDATE conversations` anywhere in the product fails here before it can skip the guarded transitions.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Iterator, List

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = (
    "actions",
    "alerts",
    "analytics",
    "bot",
    "conversations",
    "inbox",
    "learning",
    "retrieval",
    "runner",
    "settings",
    "storage",
)
LIFECYCLE = ROOT / "conversations" / "lifecycle.py"
# files whose `.status` writes are another table's, read and listed here on purpose (a conversation's
# status is still refused there: update(Conversation), Conversation(status=...), raw UPDATE)
OTHER_STATUSES = {"learning/registry.py": "model_versions.status: candidate, active, retired, refused"}
RAW_UPDATE = re.compile(r"update\s+conversations\b", re.IGNORECASE)
# files that update other columns of conversations: allowed only while they never name a status at all
SUMMARY_WRITERS = {"storage/summary.py": "the analytics summary columns (last_bot_at, first_handoff_at, ...)"}
STATUS_WORD = re.compile(r"\bstatus\b", re.IGNORECASE)


def product_files() -> Iterator[Path]:
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:  # a migration renames stored values once, by design
                yield path


def _is_self(node: ast.AST) -> bool:
    """`self.status` is an object's own field (an HTTP error's status code), never a conversation row."""
    return isinstance(node, ast.Name) and node.id == "self"


def status_writes(path: Path, attributes: bool = True) -> List[str]:
    """Each place in `path` that writes a status attribute, updates the conversations table, or builds a
    Conversation with a status."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if attributes and isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                found += [
                    f"line {node.lineno}: .status assigned"
                    for t in elements
                    if isinstance(t, ast.Attribute) and t.attr == "status" and not _is_self(t.value)
                ]
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            args = [getattr(a, "id", None) for a in node.args]
            if name == "update" and "Conversation" in args:
                found.append(f"line {node.lineno}: update(Conversation)")
            if name == "Conversation" and any(k.arg == "status" for k in node.keywords):
                found.append(f"line {node.lineno}: Conversation(status=...)")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_UPDATE.search(node.value):
            found.append(f"line {node.lineno}: raw UPDATE conversations")
    return found


def test_only_the_lifecycle_writes_a_conversation_status() -> None:
    writers = {
        str(path.relative_to(ROOT)): writes
        for path in product_files()
        if path != LIFECYCLE
        and str(path.relative_to(ROOT)) not in SUMMARY_WRITERS
        and (writes := status_writes(path, str(path.relative_to(ROOT)) not in OTHER_STATUSES))
    }
    assert writers == {}, f"write statuses through conversations/lifecycle.py, not: {writers}"


def test_the_summary_writers_never_name_a_status() -> None:
    """They update conversations rows (analytics' summary columns), so the scan above cannot tell them from a
    status write: they must not mention a status anywhere instead."""
    for name in SUMMARY_WRITERS:
        source = (ROOT / name).read_text(encoding="utf-8")
        assert not STATUS_WORD.search(source), f"{name} names a status: write it through conversations/lifecycle.py"


def test_the_check_finds_a_status_write() -> None:
    """The rule above would pass vacuously if the scan missed writes: it sees the lifecycle's own."""
    writes = status_writes(LIFECYCLE)
    assert any("update(Conversation)" in w for w in writes)
    assert any("Conversation(status=...)" in w for w in writes)


def test_the_check_finds_an_attribute_assignment(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('def f(c):\n    c.status = "open"\n    c.status, c.assignee_id = "open", 1\n')
    assert len(status_writes(sample)) == 2
