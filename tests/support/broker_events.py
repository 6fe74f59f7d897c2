"""Rasa events as its event broker publishes them, for tests of what the interaction log stores."""

from __future__ import annotations


def user_event(sender: str, text: str, ts: float, message_id: str) -> dict:
    return {
        "sender_id": sender,
        "event": "user",
        "timestamp": ts,
        "text": text,
        "input_channel": "rest",
        "message_id": message_id,
        "parse_data": {
            "intent": {"name": "greet", "confidence": 0.93},
            "entities": [
                {
                    "entity": "policy_number",
                    "value": "PX-88123",
                    "start": 0,
                    "end": 8,
                    "extractor": "RegexEntityExtractor",
                }
            ],
        },
    }


def bot_event(sender: str, text: str, ts: float, **metadata: object) -> dict:
    return {"sender_id": sender, "event": "bot", "timestamp": ts, "text": text, "metadata": metadata, "data": {}}
