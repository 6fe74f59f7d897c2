"""Measuring a model for the gate: the held-out set, the held-back annotations, the test stories.

(a) and (b) parse each text with the model's whole NLU pipeline, as the server runs it, and count the
intents (and sentiments) that match; (c) runs Rasa's own `rasa test core --e2e` over every test story and
counts the stories it wrote to failed_test_stories.yml.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

from learning.gate import Evaluation
from storage.settings import PROJECT_ROOT

Parse = Callable[[str], Mapping[str, Any]]

NLU_HELDOUT = PROJECT_ROOT / "tests" / "fixtures" / "nlu_heldout.yml"
# Rasa reads test stories only from files named test_* (learning/story_export.py writes the learned ones)
STORIES = (PROJECT_ROOT / "tests" / "test_stories.yml", PROJECT_ROOT / "tests" / "test_learned_stories.yml")
EVALUATING = re.compile(r"Evaluating (\d+) stories")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    sentiment: Optional[str]


def load_examples(path: Path) -> List[Example]:
    """The held-out format: a list (or `examples:` list) of {text, intent, sentiment}."""
    if not Path(path).exists():
        return []
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    rows = data.get("examples") if isinstance(data, dict) else data
    return [Example(str(r["text"]), str(r["intent"]), r.get("sentiment")) for r in rows or []]


def percent(hits: int, total: int) -> float:
    return round(100.0 * hits / total, 2) if total else 0.0


def nlu_hits(parse: Parse, examples: Sequence[Example]) -> Tuple[Tuple[bool, ...], Tuple[bool, ...]]:
    """Per example, in order: was the intent right; per example labelled with a sentiment: was it right.
    Kept per message so the gate can pair two models' answers."""
    intents: List[bool] = []
    sentiments: List[bool] = []
    for example in examples:
        parsed = parse(example.text)
        intents.append(((parsed.get("intent") or {}).get("name")) == example.intent)
        if example.sentiment:
            sentiments.append(((parsed.get("sentiment") or {}).get("label")) == example.sentiment)
    return tuple(intents), tuple(sentiments)


def scores(hits: Tuple[Tuple[bool, ...], Tuple[bool, ...]]) -> Dict[str, Optional[float]]:
    intents, sentiments = hits
    return {
        "intent": percent(sum(intents), len(intents)) if intents else None,
        "sentiment": percent(sum(sentiments), len(sentiments)) if sentiments else None,
    }


def nlu_scores(parse: Parse, examples: Sequence[Example]) -> Dict[str, Optional[float]]:
    """Intent accuracy over all examples; sentiment accuracy over those labelled with one."""
    return scores(nlu_hits(parse, examples))


def agent_parser(model: Path) -> Parse:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    loop = asyncio.new_event_loop()
    return lambda text: loop.run_until_complete(agent.parse_message(text))


def count_stories(paths: Sequence[Path]) -> int:
    return sum(Path(p).read_text(encoding="utf-8").count("- story:") for p in paths if Path(p).exists())


def gather_stories(files: Sequence[str], into: Path) -> Path:
    """One folder holding every story file, each under a `test_` name: `rasa test core` keeps only the last of
    several `--stories` options, and reads nothing from a file whose name does not start with `test_`."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    for n, path in enumerate(files):
        shutil.copyfile(path, into / f"test_{n}_{Path(path).name.removeprefix('test_')}")
    return into


def story_results(model: Path, stories: Sequence[Path], out: Path) -> Tuple[int, int]:
    """(passed, total) of `rasa test core --e2e` over the stories. Rasa must say it evaluated every story we
    counted: a story it silently skipped would otherwise count as passed."""
    files = [str(p) for p in stories if Path(p).exists()]
    total = count_stories(files)
    if not total:
        return 0, 0
    rasa = Path(sys.executable).parent / "rasa"
    folder = gather_stories(files, out / "stories_in")
    command = [str(rasa), "test", "core", "--model", str(model), "--out", str(out), "--e2e", "--no-plot"]
    command += ["--stories", str(folder)]
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "LOG_LEVEL": "INFO"}
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
    evaluated = [int(n) for n in EVALUATING.findall(result.stdout + result.stderr)]
    if result.returncode == 0 and (not evaluated or evaluated[-1] != total):
        said = evaluated[-1] if evaluated else "an unknown number of"
        raise RuntimeError(f"rasa test core evaluated {said} stories of the {total} in {', '.join(files)}")
    failed_file = out / "failed_test_stories.yml"
    if result.returncode != 0 or not failed_file.exists():
        raise RuntimeError(f"rasa test core failed ({result.returncode}): {(result.stdout + result.stderr)[-2000:]}")
    failed = failed_file.read_text(encoding="utf-8").count("- story:")
    return total - failed, total


def evaluate(
    model: Path,
    work: Path,
    learned_heldout: Path,
    heldout: Path = NLU_HELDOUT,
    stories: Sequence[Path] = STORIES,
    parse: Optional[Parse] = None,
) -> Evaluation:
    parse = parse or agent_parser(model)
    fixed_hits = nlu_hits(parse, load_examples(heldout))
    fixed = scores(fixed_hits)
    taught = nlu_scores(parse, load_examples(learned_heldout))
    passed, total = story_results(model, stories, work / "stories")
    return Evaluation(
        heldout_intent=fixed["intent"] or 0.0,
        heldout_sentiment=fixed["sentiment"] or 0.0,
        annotated_intent=taught["intent"],
        stories=percent(passed, total) if total else 100.0,
        heldout_intent_hits=fixed_hits[0],
        heldout_sentiment_hits=fixed_hits[1],
    )
