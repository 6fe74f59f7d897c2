"""The Rasa server computes the `handoff_signal` slot itself, exactly as the action server would.

Each case is a conversation as Rasa holds it (a DialogueStateTracker built from event dicts). The same
conversation goes to the action server's `action_read_handoff_signal` as Rasa would send it (the tracker's
current state with every event), and both must set the same slot value, or both set nothing. Then Rasa's
own `action_extract_slots`, with the project's domain and no action server anywhere, must still fill
the slot: the round trip is gone, the behaviour is not.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Dict, List, Optional

import pytest
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionReadHandoffSignal
from bot import in_process_slot_mappings
from conversations.handoff_signal import HANDOFF_SIGNAL_SLOT, NEGATIVE_SENTIMENT, REPEATED_FALLBACK
from storage.settings import PROJECT_ROOT

CALM = {"label": "neutral", "confidence": 0.9, "scores": {"negative": 0.05, "neutral": 0.9, "positive": 0.05}}


def scored(negative: float) -> Dict[str, Any]:
    scores = {"negative": negative, "neutral": round(1 - negative - 0.05, 4), "positive": 0.05}
    label = max(scores, key=scores.get)
    return {"label": label, "confidence": scores[label], "scores": scores}


def user(text: str, intent: str = "ask_coverage", sentiment: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    parse = {
        "intent": {"name": intent, "confidence": 0.9},
        "entities": [],
        "text": text,
        "sentiment": sentiment or CALM,
    }
    return {"event": "user", "text": text, "parse_data": parse, "input_channel": "whatsapp", "timestamp": 1.0}


def bot(text: str, source: str = "template") -> Dict[str, Any]:
    return {"event": "bot", "text": text, "metadata": {"answer_source": source}, "timestamp": 1.0}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name, "timestamp": 1.0}


def slot(value: Optional[str]) -> Dict[str, Any]:
    return {"event": "slot", "name": HANDOFF_SIGNAL_SLOT, "value": value, "timestamp": 1.0}


START = [action("action_session_start"), {"event": "session_started", "timestamp": 1.0}, action("action_listen")]
FELL_BACK = [user("blorp fnarg", "nlu_fallback"), action("action_answer_from_past_replies"), bot("Sorry?", "fallback")]
ANSWERED = [action("utter_coverage"), bot("Yes, burst pipes are covered.")]

CASES = {
    "calm question": [user("does home insurance cover a burst pipe?")],
    "one furious message": [user("THIS IS THE THIRD TIME. USELESS.", "complaint", scored(0.97))],
    "upset once, not enough": [user("where is my claim??", "claim_status", scored(0.72))],
    "upset twice, rising": [
        user("where is my claim??", "claim_status", scored(0.71)),
        *ANSWERED,
        action("action_listen"),
        user("still nothing, two weeks now", "claim_status", scored(0.74)),
    ],
    "upset twice, calming down": [
        user("where is my claim??", "claim_status", scored(0.74)),
        *ANSWERED,
        action("action_listen"),
        user("ok, still waiting though", "claim_status", scored(0.71)),
    ],
    "upset after the bot failed": [*FELL_BACK, action("action_listen"), user("are you serious", "deny", scored(0.72))],
    "second miss in a row": [*FELL_BACK, action("action_listen"), user("qwerty zxcv", "nlu_fallback")],
    "a miss after an answer": [
        user("hi", "greet"),
        *ANSWERED,
        action("action_listen"),
        user("qwerty zxcv", "out_of_scope"),
    ],
    "signal set last turn, calm now": [
        user("THIS IS USELESS", "complaint", scored(0.97)),
        slot(NEGATIVE_SENTIMENT),
        action("action_escalate"),
        bot("A person will take over.", "handoff"),
        {"event": "pause", "timestamp": 1.0},
        {"event": "resume", "timestamp": 1.0},
        action("action_listen"),
        user("thanks for sorting it out", "thank", scored(0.72)),
    ],
    "repeated fallback already recorded": [
        *FELL_BACK,
        action("action_listen"),
        user("qwerty zxcv", "nlu_fallback"),
        slot(REPEATED_FALLBACK),
        action("action_listen"),
        user("asdf", "nlu_fallback"),
    ],
}


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "bot" / "domain"))


def rasa_tracker(events: List[Dict[str, Any]], domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_dict(f"whatsapp:1555{uuid.uuid4().int % 10**7:07d}", START + events, domain.slots)


def action_server_value(tracker: DialogueStateTracker) -> List[Dict[str, Any]]:
    """What the action server's action returns for the state Rasa would send it."""
    sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    return asyncio.run(ActionReadHandoffSignal().run(CollectingDispatcher(), sdk_tracker, {}))


@pytest.mark.parametrize("case", sorted(CASES))
def test_in_process_signal_equals_the_action_servers(case: str, domain: Domain) -> None:
    tracker = rasa_tracker(CASES[case], domain)
    ours = [(e.key, e.value) for e in in_process_slot_mappings.read_handoff_signal(tracker)]
    theirs = [(e["name"], e["value"]) for e in action_server_value(tracker)]
    assert ours == theirs


def test_the_cases_cover_every_outcome(domain: Domain) -> None:
    """Setting each signal, clearing one, and leaving the slot alone: a case list that missed one would
    let the two implementations drift there unnoticed."""
    outcomes = set()
    for events in CASES.values():
        slot_events = in_process_slot_mappings.read_handoff_signal(rasa_tracker(events, domain))
        outcomes.add(slot_events[0].value if slot_events else "unchanged")
    assert outcomes == {NEGATIVE_SENTIMENT, REPEATED_FALLBACK, None, "unchanged"}


@pytest.fixture
def installed():  # type: ignore[no-untyped-def]
    original = ActionExtractSlots._run_custom_action
    in_process_slot_mappings.install()
    in_process_slot_mappings.install()  # twice is once
    yield
    ActionExtractSlots._run_custom_action = original  # type: ignore[method-assign]


def extract_slots(tracker: DialogueStateTracker, domain: Domain) -> List[Any]:
    # nothing listens on port 9: any call to the action server fails
    extract = ActionExtractSlots(EndpointConfig("http://127.0.0.1:9/webhook"))
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    return asyncio.run(extract.run(CollectingOutputChannel(), nlg, tracker, domain))


def test_rasa_fills_the_slot_with_no_action_server(installed, domain: Domain) -> None:  # type: ignore[no-untyped-def]
    tracker = rasa_tracker(CASES["upset after the bot failed"], domain)
    events = extract_slots(tracker, domain)
    assert SlotSet(HANDOFF_SIGNAL_SLOT, NEGATIVE_SENTIMENT) in events


def test_without_install_rasa_needs_the_action_server(domain: Domain) -> None:
    """The control: stock Rasa calls the action server for this slot, so with none it stays empty."""
    tracker = rasa_tracker(CASES["upset after the bot failed"], domain)
    assert not any(getattr(e, "key", None) == HANDOFF_SIGNAL_SLOT for e in extract_slots(tracker, domain))


def test_a_failing_mapping_falls_back_to_the_action_server(
    installed, domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    called: List[str] = []

    def broken(tracker: DialogueStateTracker) -> List[Any]:
        raise RuntimeError("bug")

    async def fake_remote(self, custom_action, output_channel, nlg, tracker, domain):  # type: ignore[no-untyped-def]
        called.append(custom_action)
        return [SlotSet(HANDOFF_SIGNAL_SLOT, "from_the_action_server")]

    monkeypatch.setitem(in_process_slot_mappings.IN_PROCESS, "action_read_handoff_signal", broken)
    patched = in_process_slot_mappings._with_in_process_mappings(fake_remote)
    tracker = rasa_tracker(CASES["one furious message"], domain)
    extract = ActionExtractSlots(None)
    events = asyncio.run(patched(extract, "action_read_handoff_signal", None, None, tracker, domain))
    assert called == ["action_read_handoff_signal"]
    assert events == [SlotSet(HANDOFF_SIGNAL_SLOT, "from_the_action_server")]


def test_the_server_launcher_installs_it() -> None:
    import inspect

    from bot import server

    assert "in_process_slot_mappings.install()" in inspect.getsource(server.main)
