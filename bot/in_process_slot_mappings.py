"""Custom slot mappings that Rasa computes in its own process instead of calling the action server.

Rasa fills a slot with a custom mapping (`mappings: [{type: custom, action: ...}]`) by calling the action
server from `action_extract_slots`, on every customer message, whatever the dialogue does next. For the
`handoff_signal` slot that call was most of what Coverline cost per reply beyond the stock bot
(benchmarks/results/load.md: the tracker serialised to JSON, an HTTP round trip, the response checked
and its events read back), although the signal is a pure function of the newest message and the events
(conversations/handoff_signal.py), which the Rasa server already holds.

`install()` (called by `python -m bot.server` before Rasa starts) makes `action_extract_slots` compute
the mappings listed in IN_PROCESS here, from the same inputs the action server would get (the newest
message's parse data and every event, as dicts), and keep the same contract: only SlotSet events, and
no event when the value is unchanged. Anything else, and any error here, goes to the action server as
before, which still serves `action_read_handoff_signal` for a plain `rasa run` or `rasa test`.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Text

from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationResumed, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from conversations.handoff_signal import HANDOFF_SIGNAL_SLOT, handoff_signal, signal_slot_value

logger = logging.getLogger(__name__)

MARK = "_coverline_in_process_slot_mappings"
# the event kinds the signal reads (customer messages, replies, actions, hand backs)
_READ_EVENTS = (UserUttered, BotUttered, ActionExecuted, ConversationResumed)


def read_handoff_signal(tracker: DialogueStateTracker) -> List[Event]:
    """`action_read_handoff_signal`, in-process: the slot's new value, or nothing when it is unchanged."""
    latest = tracker.latest_message.parse_data if tracker.latest_message else None
    events = [event.as_dict() for event in tracker.events if isinstance(event, _READ_EVENTS)]
    value = signal_slot_value(handoff_signal(latest, events))
    if value == tracker.get_slot(HANDOFF_SIGNAL_SLOT):
        return []
    return [SlotSet(HANDOFF_SIGNAL_SLOT, value)]


IN_PROCESS: Dict[Text, Callable[[DialogueStateTracker], List[Event]]] = {
    "action_read_handoff_signal": read_handoff_signal,
}


def _with_in_process_mappings(remote: Callable[..., Any]) -> Callable[..., Any]:
    async def run_custom_action(
        self: Any, custom_action: Text, output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Any
    ) -> List[Event]:
        mapping = IN_PROCESS.get(custom_action)
        if mapping is not None:
            try:
                return mapping(tracker)
            except Exception:  # a bug here must not cost the customer the signal: ask the action server
                logger.exception("In-process slot mapping %s failed; calling the action server", custom_action)
        return await remote(self, custom_action, output_channel, nlg, tracker, domain)

    setattr(run_custom_action, MARK, True)
    return run_custom_action


def install() -> None:
    from rasa.core.actions.action import ActionExtractSlots

    current = ActionExtractSlots._run_custom_action
    if not getattr(current, MARK, False):
        ActionExtractSlots._run_custom_action = _with_in_process_mappings(current)  # type: ignore[method-assign]
