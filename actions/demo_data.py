"""The demo insurer's fact sheet and rating table, read once per process from demo_data/."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

import yaml

from storage.settings import PROJECT_ROOT

DEMO_DATA = PROJECT_ROOT / "demo_data"


@lru_cache(maxsize=None)
def insurer() -> Dict[str, Any]:
    return yaml.safe_load((DEMO_DATA / "insurer.yml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def rating_table() -> Dict[str, Any]:
    return yaml.safe_load((DEMO_DATA / "rating_table.yml").read_text(encoding="utf-8"))
