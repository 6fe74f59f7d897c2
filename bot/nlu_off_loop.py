"""The NLU pipeline runs in a worker thread of the Rasa server, not on its event loop.

Rasa 3.6 parses each message synchronously on the event loop (`MessageProcessor.parse_message` calls
`_parse_message_with_graph`, rasa/core/processor.py), so while Coverline's transformer reads one
customer's message (the intent + sentiment model: the biggest NLU cost, bot/nlu/), every other
conversation waits: no tracker is read or saved, no reply goes out. Torch releases the GIL while it
computes, so in a worker thread most of that time runs on the second core while the loop serves the
others (benchmarks/results/load.md, "Where the time goes").

One worker: messages are parsed one at a time, as before, in arrival order, so no component has to be
safe for concurrent calls. `install()` is called by `python -m bot.server` before Rasa starts; a plain
`rasa run` parses on the loop as Rasa does. The rest of `parse_message` is Rasa's own, unchanged.
"""

from __future__ import annotations

import asyncio
import copy
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional, Text

MARK = "_coverline_nlu_off_loop"
NLU_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")


def install() -> None:
    from rasa.core import processor as rasa_processor
    from rasa.shared.core.trackers import DialogueStateTracker

    MessageProcessor = rasa_processor.MessageProcessor
    if getattr(MessageProcessor.parse_message, MARK, False):
        return
    parse_on_the_loop = MessageProcessor.parse_message

    async def parse_message(
        self: Any, message: Any, tracker: Optional[Any] = None, only_output_properties: bool = True
    ) -> Dict[Text, Any]:
        """Rasa 3.6's `parse_message`, with the graph run in the NLU thread."""
        if self.http_interpreter:  # parsing over HTTP awaits already
            return await parse_on_the_loop(self, message, tracker, only_output_properties)
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await asyncio.get_running_loop().run_in_executor(
            NLU_THREAD, self._parse_message_with_graph, message, tracker, only_output_properties
        )
        self._update_full_retrieval_intent(parse_data)
        rasa_processor.structlogger.debug(
            "processor.message.parse",
            parse_data_text=copy.deepcopy(parse_data["text"]),
            parse_data_intent=parse_data["intent"],
            parse_data_entities=copy.deepcopy(parse_data["entities"]),
        )
        self._check_for_unseen_features(parse_data)
        return parse_data

    setattr(parse_message, MARK, True)
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
