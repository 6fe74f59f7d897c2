"""What the question's embedding costs in one recommendation, and what the cheaper ways to get it change.

    nice -n 19 .venv/bin/python -m benchmarks.recommendations.encoder_cost

The encoder alone, CPU time (`time.process_time`, the figure a busy neighbour moves least) on one thread, for
conversations of three customer questions drawn from the latency book's (benchmarks/recommendations/latency_data.py):

- **joined**: the three questions as one text, one forward (what `recommendations/candidates.py` does);
- **per question, cold**: each question its own vector in one batch of three, the conversation's vector their
  normalised mean: every call embeds all three (nothing kept from earlier turns);
- **per question, warm**: the same once the earlier questions were embedded in earlier turns and kept: only the
  newest is embedded;
each with the float MiniLM (the retrieval answerer's) and with its linear layers in int8 (torch dynamic
quantisation, `retrieval.encoder.Encoder(int8=True)`, a separate instance).

Then what int8 changes, on texts outside the Harbor judged set (the demo library's items and the latency book's
questions): cosine of each int8 vector to its float one, the shift of question-to-item cosines, how many
(question, item) pairs cross the recommender's 0.35 "close to what you asked" line (`SIMILAR_REASON`, which
actions/recommend.py also uses to decide whether an answer or a request gets items at all), and the memory the
second instance takes. The judged set's verdict is benchmarks/results/recommendations_judged.md.

Writes benchmarks/results/recommendations_encoder.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from benchmarks.heldout import NLU_HELDOUT, load_examples
from benchmarks.recommendations.latency import commit, load_average, machine
from benchmarks.recommendations.latency_data import QUESTIONS
from recommendations.items import from_spec
from recommendations.library import DEMO_LIBRARY, load_library
from recommendations.recommender import SIMILAR_REASON
from retrieval.encoder import Encoder

RESULTS = Path(__file__).resolve().parents[1] / "results"
NAME = "recommendations_encoder"
CONVERSATIONS, PASSES, WARM_UP, SEED = 60, 3, 5, 7
# the intents whose moments show only items close to what was asked (actions/recommend.py): a coverage or
# deductible answer (answer_given) and a request for tips (on_request)
WORDS_LEAD = ("ask_coverage", "ask_deductible", "ask_for_tips")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def conversations(count: int, seed: int) -> List[List[str]]:
    """Three recent questions per conversation, newest first, as the profile gives them."""
    rng = random.Random(seed)
    return [[rng.choice(QUESTIONS) for _ in range(3)] for _ in range(count)]


def mean_vector(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    return mean / np.linalg.norm(mean)


def modes(encoder: Encoder) -> Dict[str, Callable[[Sequence[str]], np.ndarray]]:
    return {
        "joined": lambda questions: encoder.encode([" ".join(questions)])[0],
        "per question, cold": lambda questions: mean_vector(encoder.encode(list(questions))),
        "per question, warm": lambda questions: encoder.encode([questions[0]])[0],
    }


def cpu_ms(call: Callable[[Sequence[str]], np.ndarray], texts: Sequence[List[str]], passes: int) -> Dict[str, float]:
    for questions in texts[:WARM_UP]:
        call(questions)
    spent = []
    for _ in range(passes):
        for questions in texts:
            began = time.process_time()
            call(questions)
            spent.append((time.process_time() - began) * 1000)
    return {
        "calls": len(spent),
        "p50_ms": float(np.percentile(spent, 50)),
        "p95_ms": float(np.percentile(spent, 95)),
        "mean_ms": float(np.mean(spent)),
    }


def rss_mib() -> Optional[float]:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process(os.getpid()).memory_info().rss / 2**20


def agreement(float_encoder: Encoder, int8_encoder: Encoder) -> Dict[str, Any]:
    """What int8 changes, on the demo library and the latency book's questions (never the judged set)."""
    items = list(dict.fromkeys(from_spec(spec).text for spec in load_library([DEMO_LIBRARY])))
    questions = list(QUESTIONS)
    fi, qi = float_encoder.encode(items), int8_encoder.encode(items)
    fq, qq = float_encoder.encode(questions), int8_encoder.encode(questions)
    before, after = fq @ fi.T, qq @ qi.T
    over_before, over_after = before >= SIMILAR_REASON, after >= SIMILAR_REASON
    top_before, top_after = np.argsort(-before, axis=1)[:, :3], np.argsort(-after, axis=1)[:, :3]
    return {
        "items": len(items),
        "questions": len(questions),
        "item_cosine_to_float": {"min": float((fi * qi).sum(1).min()), "mean": float((fi * qi).sum(1).mean())},
        "question_cosine_to_float": {"min": float((fq * qq).sum(1).min()), "mean": float((fq * qq).sum(1).mean())},
        "question_item_shift": {"mean": float((after - before).mean()), "max_abs": float(np.abs(after - before).max())},
        "pairs_over_line_float": int(over_before.sum()),
        "pairs_over_line_int8": int(over_after.sum()),
        "pairs_crossing_line": {
            "up": int((~over_before & over_after).sum()),
            "down": int((over_before & ~over_after).sum()),
        },
        "same_top1": int((top_before[:, 0] == top_after[:, 0]).sum()),
        "top3_overlap_mean": float(np.mean([len(set(a) & set(b)) for a, b in zip(top_before, top_after, strict=True)])),
    }


def gate_decisions(float_encoder: Encoder, int8_encoder: Encoder) -> Dict[str, Any]:
    """Whether a question gets any item at all where the customer's words lead (an item at or over the 0.35
    line), float against int8, for the held-out NLU set's coverage, deductible and tips questions."""
    questions = [e.text for e in load_examples(NLU_HELDOUT) if e.labels.get("intent") in WORDS_LEAD]
    items = list(dict.fromkeys(from_spec(spec).text for spec in load_library([DEMO_LIBRARY])))
    over = {}
    for name, encoder in (("float", float_encoder), ("int8", int8_encoder)):
        over[name] = (encoder.encode(questions) @ encoder.encode(items).T) >= SIMILAR_REASON
    shown = {name: over[name].any(axis=1) for name in over}
    return {
        "questions": len(questions),
        "with_an_item_float": int(shown["float"].sum()),
        "with_an_item_int8": int(shown["int8"].sum()),
        "decision_differs": int((shown["float"] != shown["int8"]).sum()),
        "items_over_line_per_question": {name: float(over[name].sum(axis=1).mean()) for name in over},
    }


def measure(count: int, passes: int, seed: int) -> Dict[str, Any]:
    texts = conversations(count, seed)
    before = rss_mib()
    float_encoder = Encoder(threads=1)
    float_encoder.encode(["warm up"])
    with_float = rss_mib()
    int8_encoder = Encoder(threads=1, int8=True)
    int8_encoder.encode(["warm up"])
    with_both = rss_mib()
    timings: Dict[str, Dict[str, float]] = {}
    for weights, encoder in (("float", float_encoder), ("int8", int8_encoder)):
        for mode, call in modes(encoder).items():
            timings[f"{mode}, {weights}"] = cpu_ms(call, texts, passes)
            log(f"  {mode}, {weights}: CPU p50 {timings[f'{mode}, {weights}']['p50_ms']:.2f} ms")
    memory = None
    if before is not None and with_float is not None and with_both is not None:
        memory = {"float_instance_mib": with_float - before, "int8_instance_mib": with_both - with_float}
    return {
        "conversations": count,
        "passes": passes,
        "tokens_note": "three questions of the latency book joined: ~20-30 word pieces",
        "timings": timings,
        "agreement": agreement(float_encoder, int8_encoder),
        "gate": gate_decisions(float_encoder, int8_encoder),
        "memory": memory,
        "encoders": {"float": float_encoder.version, "int8": int8_encoder.version},
    }


def markdown(results: Dict[str, Any]) -> str:
    t, a, g = results["timings"], results["agreement"], results["gate"]
    lines = [
        "# Recommendations: the question's embedding, and cheaper ways to get it",
        "",
        f"Run {results['run_at']} on commit {results['commit']}; `{results['command']}`; {results['machine']}; "
        f"niceness {results['niceness']}; load average {results['load_average_start']} at the start, "
        f"{results['load_average_end']} at the end. The encoder alone, one thread, CPU time per call "
        f"(`time.process_time`), {results['conversations']} conversations of three questions from the latency "
        f"book × {results['passes']} passes.",
        "",
        "| how the conversation's vector is made | float p50 / p95 ms | int8 p50 / p95 ms |",
        "| --- | ---: | ---: |",
    ]
    for mode in ("joined", "per question, cold", "per question, warm"):
        f, q = t[f"{mode}, float"], t[f"{mode}, int8"]
        lines.append(f"| {mode} | {f['p50_ms']:.2f} / {f['p95_ms']:.2f} | {q['p50_ms']:.2f} / {q['p95_ms']:.2f} |")
    lines += [
        "",
        "- joined: the three questions as one text (what the recommender embeds); per question: each question its "
        "own vector, the conversation's the normalised mean; cold: all three embedded in the call; warm: the "
        "earlier two kept from earlier turns, only the newest embedded. The int8 encoder embeds one text per "
        "forward (its vectors would otherwise depend on their batch), so cold per question is three forwards.",
        "",
        f"What int8 changes (the demo library's {a['items']} item texts and the latency book's {a['questions']} "
        "questions, not the judged set):",
        "",
        f"- cosine of each int8 vector to its float one: items min {a['item_cosine_to_float']['min']:.3f}, mean "
        f"{a['item_cosine_to_float']['mean']:.3f}; questions min {a['question_cosine_to_float']['min']:.3f}, mean "
        f"{a['question_cosine_to_float']['mean']:.3f};",
        f"- question-to-item cosines move by {a['question_item_shift']['mean']:+.3f} on average, at most "
        f"{a['question_item_shift']['max_abs']:.3f};",
        f"- pairs at or over the 0.35 line: {a['pairs_over_line_float']} float, {a['pairs_over_line_int8']} int8 "
        f"({a['pairs_crossing_line']['up']} cross up, {a['pairs_crossing_line']['down']} down);",
        f"- the most similar item is the same for {a['same_top1']} of {a['questions']} questions; the top 3 share "
        f"{a['top3_overlap_mean']:.2f} items on average;",
        f"- where the customer's words lead (an answer, a request: only items at or over 0.35 are shown), of the "
        f"held-out NLU set's {g['questions']} coverage, deductible and tips questions {g['with_an_item_float']} "
        f"get an item with float vectors, {g['with_an_item_int8']} with int8; the decision differs for "
        f"{g['decision_differs']}; items over the line per question "
        f"{g['items_over_line_per_question']['float']:.1f} float, {g['items_over_line_per_question']['int8']:.1f} "
        "int8.",
    ]
    if results.get("memory"):
        m = results["memory"]
        lines.append(
            f"- memory: the float instance took {m['float_instance_mib']:.0f} MiB of RSS (torch's own start-up "
            f"included), a second, int8 instance {m['int8_instance_mib']:.0f} MiB more."
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--passes", type=int, default=PASSES)
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"folder for {NAME}.{{json,md}}")
    args = parser.parse_args(argv)
    run_at, load_start = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load_average()
    results: Dict[str, Any] = {
        "run_at": run_at,
        "commit": commit(),
        "command": "python -m benchmarks.recommendations.encoder_cost " + " ".join(argv or []),
        "machine": machine(),
        "python": platform.python_version(),
        "niceness": os.nice(0),
        "load_average_start": load_start,
    }
    results.update(measure(args.conversations, args.passes, SEED))
    results["load_average_end"] = load_average()
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{NAME}.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.results / f"{NAME}.md").write_text(markdown(results))
    log(markdown(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
