"""How the trained model does on the team's held-out sets, and the record it may not fall below.

The held-out sets (tests/fixtures/nlu_heldout.yml, handoff_heldout.yml) were written apart from the
training data and are never trained on (tests/unit/test_heldout_sets.py keeps them out of nlu_data).
The record (tests/fixtures/model_record.json) holds the figures of the model the shipped config trains;
the regression guard in the test suite fails when a change costs more than one point, and a change that
moves them on purpose updates the record with `python -m benchmarks.heldout --record "<why>"`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parents[1]
NLU_HELDOUT = ROOT / "tests" / "fixtures" / "nlu_heldout.yml"
HANDOFF_HELDOUT = ROOT / "tests" / "fixtures" / "handoff_heldout.yml"
RECORD = ROOT / "tests" / "fixtures" / "model_record.json"
TOLERANCE_POINTS = 1.0

Parse = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True)
class Example:
    text: str
    labels: Dict[str, str]


def load_examples(path: Path) -> List[Example]:
    """A YAML list of mappings with `text` and labels (or a mapping holding that list under `examples`)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = data.get("examples") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError(f"{path}: expected a list of examples")
    return [
        Example(str(row["text"]), {k: str(v) for k, v in row.items() if k != "text" and v is not None}) for row in rows
    ]


def percent(hits: int, total: int) -> float:
    return round(100.0 * hits / total, 2) if total else 0.0


def per_label_accuracy(gold: Sequence[str], predicted: Sequence[str]) -> Dict[str, float]:
    totals: Counter = Counter(gold)
    hits: Dict[str, int] = defaultdict(int)
    for g, p in zip(gold, predicted, strict=True):
        hits[g] += g == p
    return {label: percent(hits[label], totals[label]) for label in sorted(totals)}


def intent_figures(parse: Parse, examples: Sequence[Example]) -> Dict[str, Any]:
    parsed = [parse(e.text) for e in examples]
    intents = [str((p.get("intent") or {}).get("name")) for p in parsed]
    sentiments = [str((p.get("sentiment") or {}).get("label")) for p in parsed]
    gold_intents = [e.labels["intent"] for e in examples]
    gold_sentiments = [e.labels.get("sentiment", "") for e in examples]
    labelled = [i for i, s in enumerate(gold_sentiments) if s]
    return {
        "messages": len(examples),
        "intent_accuracy": percent(sum(g == p for g, p in zip(gold_intents, intents, strict=True)), len(examples)),
        "sentiment_accuracy": percent(sum(gold_sentiments[i] == sentiments[i] for i in labelled), len(labelled)),
        "intent_accuracy_by_intent": per_label_accuracy(gold_intents, intents),
        "confusions": [
            {"text": e.text, "expected": g, "predicted": p}
            for e, g, p in zip(examples, gold_intents, intents, strict=True)
            if g != p
        ],
    }


def handoff_figures(
    parse: Parse, examples: Sequence[Example], would_hand_over: Callable[[Mapping[str, Any]], bool]
) -> Dict[str, Any]:
    """Offline: whether the first message of a new conversation would fire a sentiment handoff (the live
    test sends them through the real bot). `expect` is `handoff` or `bot`."""
    calm = [e for e in examples if e.labels.get("expect") == "bot"]
    angry = [e for e in examples if e.labels.get("expect") == "handoff"]
    spurious = [e.text for e in calm if would_hand_over(parse(e.text))]
    missed = [e.text for e in angry if not would_hand_over(parse(e.text))]
    return {
        "calm": len(calm),
        "angry": len(angry),
        "spurious_handoff_rate": percent(len(spurious), len(calm)),
        "missed_handoff_rate": percent(len(missed), len(angry)),
        "spurious": spurious,
        "missed": missed,
    }


def dstc11_figures(parse: Parse) -> Optional[Dict[str, Any]]:
    """DSTC11 insurance utterances through our mapping, when ../shared/data is beside the checkout (it is
    benchmark data: never shipped, never trained on). Per intent by DSTC11's own, finer intents."""
    from benchmarks import public_data

    try:
        rows = [row for row in public_data.dstc11_insurance_rows() if row[2] is not None]
    except FileNotFoundError:
        return None
    predicted = [str((parse(text).get("intent") or {}).get("name")) for text, _, _ in rows]
    hits = [target == p for (_, _, target), p in zip(rows, predicted, strict=True)]
    by_source: Dict[str, List[bool]] = defaultdict(list)
    for (_, source, _), hit in zip(rows, hits, strict=True):
        by_source[source].append(hit)
    return {
        "messages": len(rows),
        "accuracy": percent(sum(hits), len(rows)),
        "accuracy_by_dstc11_intent": {k: percent(sum(v), len(v)) for k, v in sorted(by_source.items())},
        "messages_by_dstc11_intent": {k: len(v) for k, v in sorted(by_source.items())},
        "worst_intent_accuracy": min(percent(sum(v), len(v)) for v in by_source.values()),
    }


def agent_parser(model_path: Path) -> Parse:
    """The whole NLU pipeline of a trained Rasa model, as the server runs it."""
    from rasa.core.agent import Agent

    agent = Agent.load(str(model_path))
    loop = asyncio.new_event_loop()
    return lambda text: loop.run_until_complete(agent.parse_message(text))


def measure(parse: Parse, with_dstc11: bool = True) -> Dict[str, Any]:
    from actions.handoff import REASON_BY_INTENT, handoff_signal, signal_slot_value

    def hands_over(message: Mapping[str, Any]) -> bool:
        """As the bot decides for a first message: a complaint or a request for a person by its intent
        (rules.yml), anything else by its sentiment (handoff.yml)."""
        intent = str((message.get("intent") or {}).get("name"))
        return intent in REASON_BY_INTENT or signal_slot_value(handoff_signal(message, [])) is not None

    figures: Dict[str, Any] = {
        "nlu_heldout": intent_figures(parse, load_examples(NLU_HELDOUT)),
        "handoff_heldout": handoff_figures(parse, load_examples(HANDOFF_HELDOUT), hands_over),
    }
    dstc = dstc11_figures(parse) if with_dstc11 else None
    if dstc is not None:
        figures["dstc11_insurance"] = dstc
    return figures


# what the guard compares: (section, key, higher is better). The handoff rates are recorded, not guarded
# to a point: one message of the 58 angry ones is 1.7 points; the live test holds them to 5 %.
GUARDED = (
    ("nlu_heldout", "intent_accuracy", True),
    ("nlu_heldout", "sentiment_accuracy", True),
    ("dstc11_insurance", "accuracy", True),
)


def regressions(
    figures: Mapping[str, Any], record: Mapping[str, Any], tolerance: float = TOLERANCE_POINTS
) -> List[str]:
    """Every guarded figure more than `tolerance` points worse than the record, in words."""
    found = []
    for section, key, higher_is_better in GUARDED:
        if section not in figures or section not in record.get("figures", {}):
            continue
        now, then = float(figures[section][key]), float(record["figures"][section][key])
        worse = then - now if higher_is_better else now - then
        if worse > tolerance:
            found.append(f"{section}.{key}: {now:.2f} against {then:.2f} recorded ({worse:.2f} points worse)")
    return found


RECORDED_TOO = ("messages", "calm", "angry", "worst_intent_accuracy", "spurious_handoff_rate", "missed_handoff_rate")


def summary(figures: Mapping[str, Any]) -> Dict[str, Any]:
    """The figures the record keeps: the guarded ones, the set sizes, DSTC11's worst intent."""
    keep = {key for _, key, _ in GUARDED} | set(RECORDED_TOO)
    return {section: {k: v for k, v in values.items() if k in keep} for section, values in figures.items()}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "coverline.tar.gz")
    parser.add_argument("--record", metavar="WHY", help="write the figures to the record, saying why they moved")
    parser.add_argument("--details", action="store_true", help="print confusions and handoff misses too")
    parser.add_argument("--json", type=Path, help="also write every figure, details included, to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # Rasa logs every parse at debug level on stdout
    figures = measure(agent_parser(args.model))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures if args.details else summary(figures), indent=2))
    if args.record:
        RECORD.write_text(
            json.dumps({"date": date.today().isoformat(), "why": args.record, "figures": summary(figures)}, indent=2)
            + "\n"
        )
        print(f"recorded in {RECORD.relative_to(ROOT)}")
        return 0
    if RECORD.exists():
        found = regressions(figures, json.loads(RECORD.read_text()))
        for line in found:
            print(f"worse than the record: {line}", file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
