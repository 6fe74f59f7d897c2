"""Alert rules from a YAML file into the alert_rules table, keyed by name (alerts/default_rules.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import AlertRule

DEFAULT_RULES = Path(__file__).with_name("default_rules.yml")
METRICS = ("negative_share", "volume")
SCOPES = ("channel", "intent", "channel_intent", "all")


class RuleFileError(ValueError):
    """A rules file that cannot be used; the message names the rule and the field."""


@dataclass(frozen=True)
class RuleSpec:
    name: str
    metric: str
    scope: str
    sensitivity: float
    min_volume: int = 0
    cooldown_minutes: int = 720
    webhooks: List[str] = field(default_factory=list)
    emails: List[str] = field(default_factory=list)
    enabled: bool = True

    @property
    def recipients(self) -> Dict[str, List[str]]:
        return {"webhooks": list(self.webhooks), "emails": list(self.emails)}


def parse_rule(entry: Dict[str, Any]) -> RuleSpec:
    name = str(entry.get("name") or "")
    if not name:
        raise RuleFileError("every rule needs a name")
    recipients = entry.get("recipients") or {}
    try:
        spec = RuleSpec(
            name=name,
            metric=str(entry["metric"]),
            scope=str(entry["scope"]),
            sensitivity=float(entry["sensitivity"]),
            min_volume=int(entry.get("min_volume", 0)),
            cooldown_minutes=int(entry.get("cooldown_minutes", 720)),
            webhooks=[str(url) for url in recipients.get("webhooks") or []],
            emails=[str(address) for address in recipients.get("emails") or []],
            enabled=bool(entry.get("enabled", True)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RuleFileError(f"rule {name}: {error!r}") from error
    if spec.metric not in METRICS or spec.scope not in SCOPES:
        raise RuleFileError(f"rule {name}: metric must be one of {METRICS}, scope one of {SCOPES}")
    if spec.sensitivity <= 0 or spec.min_volume < 0 or spec.cooldown_minutes < 0:
        raise RuleFileError(f"rule {name}: sensitivity must be positive, min_volume and cooldown_minutes not negative")
    if any(not url.startswith(("http://", "https://")) for url in spec.webhooks):
        raise RuleFileError(f"rule {name}: webhooks must be http(s) URLs")
    if any("@" not in address for address in spec.emails):
        raise RuleFileError(f"rule {name}: emails must be addresses")
    return spec


def read_rules(path: Path = DEFAULT_RULES) -> List[RuleSpec]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return [parse_rule(entry) for entry in document.get("rules") or []]


def load_rules(
    session: Session, specs: List[RuleSpec], recipients: Optional[Dict[str, List[str]]] = None
) -> List[AlertRule]:
    """Create or update each rule by name; `recipients` (from the command line) replaces the file's when given."""
    rows = []
    for spec in specs:
        row = session.scalar(select(AlertRule).where(AlertRule.name == spec.name))
        if row is None:
            row = AlertRule(name=spec.name)
            session.add(row)
        row.metric = spec.metric
        row.scope = spec.scope
        row.sensitivity = spec.sensitivity
        row.min_volume = spec.min_volume
        row.cooldown_minutes = spec.cooldown_minutes
        row.recipients = recipients if recipients is not None else spec.recipients
        row.enabled = spec.enabled
        rows.append(row)
    session.flush()
    return rows


def ensure_default_rules(session: Session, path: Path = DEFAULT_RULES) -> List[str]:
    """Load the default rules when there are none at all (a new deployment), so `make run` watches something
    out of the box; rules someone added, changed or disabled are never touched. The names loaded, or []."""
    if session.scalar(select(func.count()).select_from(AlertRule)):
        return []
    return [rule.name for rule in load_rules(session, read_rules(path))]
