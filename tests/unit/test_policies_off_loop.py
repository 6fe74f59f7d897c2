"""The Rasa server predicts next actions in its policy thread, with exactly Rasa's own predictions.

The trained model predicts the actions of the same turns through Rasa's `_run_prediction_loop` and
through the one `bot.policies_off_loop.install()` puts in its place (the actions themselves are only
recorded, not run): the actions, policies and confidences must be equal, the predictions must have run
in the policy thread, and the event loop must have stayed free to run other work meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, List, Tuple

import pytest

from bot import policies_off_loop

MESSAGES = [
    "hi there",
    "my car was stolen last night, how do I claim",
    "this is a disgrace, three weeks and no call back, I want a person",
    "what's the status of claim CLM-2024-00042?",
    "thanks, bye",
]


@pytest.mark.needs_model
def test_predictions_run_in_the_policy_thread_exactly_as_rasa_makes_them() -> None:
    from rasa.core.agent import Agent
    from rasa.core.channels import CollectingOutputChannel, UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from tests.support.paths import MODEL

    agent = Agent.load(str(MODEL))
    processor = agent.processor
    rasa_loop = MessageProcessor._run_prediction_loop
    rasa_predict = MessageProcessor.predict_next_with_tracker_if_should
    rasa_run_action = MessageProcessor._run_action
    threads: List[str] = []

    def watched_predict(self: Any, tracker: Any) -> Any:
        threads.append(threading.current_thread().name)
        return rasa_predict(self, tracker)

    async def record_action(self: Any, action: Any, tracker: Any, output: Any, nlg: Any, prediction: Any) -> bool:
        """The predicted action is recorded on the tracker, not run (no action server here)."""
        tracker.update(ActionExecuted(action.name(), prediction.policy_name, prediction.max_confidence))
        return action.name() != "action_listen"

    async def predict_turns() -> List[List[Tuple[str, Any, Any]]]:
        predicted = []
        for n, text in enumerate(MESSAGES):
            sender = f"whatsapp:1555000{n:04d}"
            tracker = DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")], agent.domain.slots)
            parse = await processor.parse_message(UserMessage(text, sender_id=sender))
            tracker.update(UserUttered(text, parse_data=parse))
            await processor._run_prediction_loop(CollectingOutputChannel(), tracker)
            predicted.append(
                [
                    (event.action_name, event.policy, round(event.confidence or 0, 6))
                    for event in tracker.events
                    if isinstance(event, ActionExecuted)
                ][1:]
            )
        return predicted

    try:
        MessageProcessor._run_action = record_action  # type: ignore[method-assign]
        expected = asyncio.run(predict_turns())
        assert all(len(turn) >= 2 for turn in expected)  # an action, then action_listen

        policies_off_loop.install()
        policies_off_loop.install()  # twice wraps once
        MessageProcessor.predict_next_with_tracker_if_should = watched_predict  # type: ignore[method-assign]

        async def predict_while_the_loop_ticks() -> List[List[Tuple[str, Any, Any]]]:
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            ticker = asyncio.ensure_future(tick())
            predicted = await predict_turns()
            ticker.cancel()
            assert ticks > len(threads), "the event loop was held while the policies predicted"
            return predicted

        assert asyncio.run(predict_while_the_loop_ticks()) == expected
        assert threads and all(name.startswith("policies") for name in threads)
    finally:
        MessageProcessor._run_prediction_loop = rasa_loop  # type: ignore[method-assign]
        MessageProcessor.predict_next_with_tracker_if_should = rasa_predict  # type: ignore[method-assign]
        MessageProcessor._run_action = rasa_run_action  # type: ignore[method-assign]
