"""The dialogue policies predict in a worker thread of the Rasa server, not on its event loop.

Rasa 3.6 predicts each next action synchronously on the event loop (`MessageProcessor.
_run_prediction_loop` calls `predict_next_with_tracker_if_should`, rasa/core/processor.py), so while
TED's TensorFlow graph and the rule and memoization policies look at one conversation, every other
conversation waits. Under load that was ~13 ms of every reply (benchmarks/load/findings.md). TensorFlow
releases the GIL while its graph runs, so in a worker thread that part runs on the second core while
the loop serves the others.

One worker: predictions run one at a time, in arrival order, as before, so no policy has to be safe for
concurrent calls; a turn still predicts, runs the action, and predicts again in order, and Rasa's lock
store keeps one turn per conversation, so nothing else touches the tracker meanwhile. `install()` is
called by `python -m bot.server` before Rasa starts. The rest of the loop is Rasa's own, unchanged.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

MARK = "_coverline_policies_off_loop"
POLICY_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policies")


def install() -> None:
    from rasa.core import processor as rasa_processor
    from rasa.exceptions import ActionLimitReached

    MessageProcessor = rasa_processor.MessageProcessor
    if getattr(MessageProcessor._run_prediction_loop, MARK, False):
        return

    async def _run_prediction_loop(self: Any, output_channel: Any, tracker: Any) -> None:
        """Rasa 3.6's `_run_prediction_loop`, with each prediction made in the policy thread."""
        loop = asyncio.get_running_loop()
        should_predict_another_action = True
        while should_predict_another_action and self._should_handle_message(tracker):
            try:
                action, prediction = await loop.run_in_executor(
                    POLICY_THREAD, self.predict_next_with_tracker_if_should, tracker
                )
            except ActionLimitReached:
                rasa_processor.logger.warning(
                    f"Circuit breaker tripped. Stopped predicting more actions for sender '{tracker.sender_id}'."
                )
                if self.on_circuit_break:
                    self.on_circuit_break(tracker, output_channel, self.nlg)
                break

            if prediction.is_end_to_end_prediction:
                rasa_processor.logger.debug(
                    f"An end-to-end prediction was made which has triggered the 2nd execution of the "
                    f"default action '{rasa_processor.ACTION_EXTRACT_SLOTS}'."
                )
                tracker = await self.run_action_extract_slots(output_channel, tracker)

            should_predict_another_action = await self._run_action(
                action, tracker, output_channel, self.nlg, prediction
            )

    setattr(_run_prediction_loop, MARK, True)
    MessageProcessor._run_prediction_loop = _run_prediction_loop  # type: ignore[method-assign]
