"""Coverline is installed editable into the venv, from the checkout under test.

Inside pytest the checkout is on sys.path anyway, so these checks look from a fresh interpreter started
elsewhere with -I (no PYTHONPATH, no cwd): what `rasa`, the benchmarks and any script outside the repo see.
A venv that CI shares between clones, or one installed before a new top-level package existed, fails here
until scripts/bootstrap.sh (`make install`) re-installs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import List
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOT_INSTALLED = {"tests", "benchmarks"}  # run from the checkout; pyproject.toml excludes them


def top_level_packages() -> List[str]:
    return sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_INSTALLED)


def origins_outside_the_checkout(names: List[str], cwd: Path) -> dict:
    """Where a fresh interpreter of this venv finds each package, without importing it."""
    probe = (
        "import importlib.util, json, sys\n"
        "specs = {n: importlib.util.find_spec(n) for n in sys.argv[1:]}\n"
        "print(json.dumps({n: s.origin if s else None for n, s in specs.items()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", probe, *names], cwd=cwd, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_the_coverline_distribution_is_installed_editable_from_this_checkout() -> None:
    dist = metadata.distribution("coverline")
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct_url.get("dir_info", {}).get("editable") is True
    assert Path(url2pathname(urlparse(direct_url["url"]).path)).resolve() == ROOT


def test_bot_imports_from_this_checkout_without_pythonpath(tmp_path: Path) -> None:
    origin = origins_outside_the_checkout(["bot"], tmp_path)["bot"]
    assert origin is not None, "bot is not importable outside the repo: run scripts/bootstrap.sh"
    assert Path(origin).resolve() == ROOT / "bot" / "__init__.py"


def test_every_top_level_package_imports_from_this_checkout(tmp_path: Path) -> None:
    names = top_level_packages()
    assert {"bot", "actions", "retrieval", "storage", "inbox", "runner"} <= set(names)
    origins = origins_outside_the_checkout(names, tmp_path)
    elsewhere = {n: o for n, o in origins.items() if o is None or Path(o).resolve() != ROOT / n / "__init__.py"}
    assert not elsewhere, f"not installed from {ROOT} (run scripts/bootstrap.sh): {elsewhere}"


@pytest.mark.parametrize("name", sorted(NOT_INSTALLED))
def test_tests_and_benchmarks_are_not_installed(name: str, tmp_path: Path) -> None:
    origin = origins_outside_the_checkout([name], tmp_path)[name]
    assert origin is None or ROOT not in Path(origin).resolve().parents
