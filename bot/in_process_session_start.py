"""`action_session_start` run by the Rasa server itself instead of the action server.

Coverline overrides `action_session_start` (actions/handoff.py) for one reason: a new Rasa session resets
the paused flag, and a conversation people still have must stay paused. Rasa then calls the action
server for it at the start of every conversation, before the first reply: the tracker serialised to
JSON, an HTTP round trip, the answer checked, and the wait behind whatever the action server is doing
(embedding a question for past replies takes it tens of milliseconds at a time). Under load the first
message of a conversation was the slowest but one (benchmarks/results/load.md).

The decision needs only the conversation's status in SQL, which the Rasa process reaches anyway (the
interaction log). `install()` (called by `python -m bot.server` before Rasa starts) makes Rasa's
action lookup return `SessionStartKeepingPeople` for that name: Rasa's own session start (SessionStarted,
the carried-over slots, action_listen) with `ConversationPaused` before the listen when
`conversations.lifecycle.new_session_stays_paused` says so, the same function and the same events as the
action server's version. The SQL runs in a worker thread, never on Rasa's event loop. A plain `rasa run`
or `rasa test` (no launcher) still calls the action server, which keeps serving the action.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, List, Optional, Text

from rasa.core.actions.action import ActionSessionStart
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ConversationPaused, Event

from conversations.lifecycle import new_session_stays_paused

MARK = "_coverline_in_process_session_start"


class SessionStartKeepingPeople(ActionSessionStart):
    """Rasa's session start, paused again while people have the conversation."""

    def __init__(self, stays_paused: Callable[[str], bool] = new_session_stays_paused) -> None:
        self.stays_paused = stays_paused

    async def run(self, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
        events = await super().run(output_channel, nlg, tracker, domain)  # ..., ActionExecuted(action_listen)
        if await asyncio.get_running_loop().run_in_executor(None, self.stays_paused, tracker.sender_id):
            events.insert(len(events) - 1, ConversationPaused())
        return events


def _with_session_start_in_process(lookup: Callable[..., Any]) -> Callable[..., Any]:
    def action_for_name_or_text(action_name_or_text: Text, domain: Any, action_endpoint: Optional[Any]) -> Any:
        if action_name_or_text == ACTION_SESSION_START_NAME and ACTION_SESSION_START_NAME in domain.user_actions:
            return SessionStartKeepingPeople()
        return lookup(action_name_or_text, domain, action_endpoint)

    setattr(action_for_name_or_text, MARK, True)
    return action_for_name_or_text


def install() -> None:
    """Rasa's processor looks actions up through the module attribute, so replacing it is enough."""
    import rasa.core.actions.action as rasa_actions

    current = rasa_actions.action_for_name_or_text
    if not getattr(current, MARK, False):
        rasa_actions.action_for_name_or_text = _with_session_start_in_process(current)  # type: ignore[assignment]
