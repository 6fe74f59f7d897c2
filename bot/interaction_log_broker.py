"""A Rasa event broker that writes every customer message and bot reply to the interaction log.

Rasa publishes each new tracker event after a turn is processed, including turns whose custom action
failed, so this is the one place that sees every message. If the database is unreachable the event is
appended to a local spool file and replayed before the next event, so nothing is lost; the log's
unique event key makes a replay idempotent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from storage.engine import session_scope
from conversations.projection import LOGGED_EVENTS, record_event
from storage.migrate import upgrade
from storage.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_SPOOL = PROJECT_ROOT / "var" / "interaction_log.spool.jsonl"


class InteractionLogBroker(EventBroker):
    """Event broker for endpoints.yml: `event_broker: {type: bot.interaction_log_broker.InteractionLogBroker}`."""

    def __init__(self, url: Optional[str] = None, spool_path: Optional[Path] = None) -> None:
        self.url = url
        self.spool_path = Path(spool_path or DEFAULT_SPOOL)
        self._lock = threading.Lock()
        upgrade(url)

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: Optional[asyncio.AbstractEventLoop] = None
    ) -> "InteractionLogBroker":
        kwargs = broker_config.kwargs or {}
        return cls(url=broker_config.url or None, spool_path=kwargs.get("spool_path"))

    def publish(self, event: Dict[Text, Any]) -> None:
        if event.get("event") not in LOGGED_EVENTS:
            return
        with self._lock:
            pending = self._read_spool() + [event]
            try:
                self._write(pending)
            except Exception:  # any database failure: keep the events, never break the turn
                logger.exception("Interaction log unavailable; %d event(s) spooled", len(pending))
                self._rewrite_spool(pending)
                return
            if len(pending) > 1:
                self._rewrite_spool([])

    def _write(self, events: List[Dict[str, Any]]) -> None:
        for event in events:
            with session_scope(self.url) as session:
                record_event(session, event)

    def _read_spool(self) -> List[Dict[str, Any]]:
        if not self.spool_path.exists():
            return []
        lines = self.spool_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _rewrite_spool(self, events: List[Dict[str, Any]]) -> None:
        if not events:
            self.spool_path.unlink(missing_ok=True)
            return
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.spool_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        tmp.replace(self.spool_path)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        return None
