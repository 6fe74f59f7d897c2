"""The Rasa server parses messages in its NLU thread, with exactly Rasa's own result.

The trained model parses the same customer messages through Rasa's `parse_message` and through the one
`bot.nlu_off_loop.install()` puts in its place: the parse data must be equal (intent ranking, entities,
sentiment), the graph must have run in the NLU thread, and the event loop must have stayed free to run
other work while it did.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Dict, List

import pytest
from rasa.core.channels import UserMessage

from bot import nlu_off_loop

MESSAGES = [
    "hi there",
    "my car was stolen last night, how do I claim",
    "this is a disgrace, three weeks and no call back",
    "what's the status of claim CLM-2024-00042?",
]


@pytest.mark.needs_model
def test_messages_parse_in_the_nlu_thread_exactly_as_rasa_parses_them() -> None:
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor

    from tests.support.paths import MODEL

    agent = Agent.load(str(MODEL))
    rasa_parse = MessageProcessor.parse_message
    graph = MessageProcessor._parse_message_with_graph
    threads: List[str] = []

    def watched_graph(self: Any, *args: Any) -> Dict[str, Any]:
        threads.append(threading.current_thread().name)
        return graph(self, *args)

    async def parse_all() -> List[Dict[str, Any]]:
        return [
            await agent.processor.parse_message(UserMessage(text, sender_id="telegram:884422")) for text in MESSAGES
        ]

    expected = asyncio.run(parse_all())
    try:
        nlu_off_loop.install()
        nlu_off_loop.install()  # twice wraps once
        MessageProcessor._parse_message_with_graph = watched_graph  # type: ignore[method-assign]

        async def parse_while_the_loop_ticks() -> List[Dict[str, Any]]:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.ensure_future(tick())
            parsed = await parse_all()
            ticker.cancel()
            assert ticks > len(MESSAGES), "the event loop was held while the model read the messages"
            return parsed

        assert asyncio.run(parse_while_the_loop_ticks()) == expected
        assert threads and all(name.startswith("nlu") for name in threads)
    finally:
        MessageProcessor.parse_message = rasa_parse  # type: ignore[method-assign]
        MessageProcessor._parse_message_with_graph = graph  # type: ignore[method-assign]
