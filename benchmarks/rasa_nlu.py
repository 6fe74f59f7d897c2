"""Train and query Rasa NLU pipelines for the benchmarks, each in its own process.

Rasa's pipelines import TensorFlow; Coverline's model runs on torch. Keeping each Rasa pipeline in a
subprocess means neither framework slows the other down or skews the other's latency figures.

    python benchmarks/rasa_nlu.py predict MODEL.tar.gz TEXTS.json OUT.json [--latency N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
RASA = Path(sys.executable).parent / "rasa"


def rasa_env() -> Dict[str, str]:
    return {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "HF_HUB_OFFLINE": "1",
    }


def write_training_json(texts: Sequence[str], labels: Sequence[str], path: Path) -> Path:
    """Rasa's JSON training format: no YAML escaping to get wrong for texts with brackets or colons."""
    examples = [{"text": t, "intent": y} for t, y in zip(texts, labels, strict=True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rasa_nlu_data": {"common_examples": examples}}), encoding="utf-8")
    return path


def train(config: Path, nlu: Sequence[Path], out: Path, name: str) -> float:
    """`rasa train nlu`; returns the wall time in seconds."""
    out.mkdir(parents=True, exist_ok=True)
    args = [str(RASA), "train", "nlu", "--config", str(config), "--out", str(out), "--fixed-model-name", name]
    for path in nlu:
        args += ["--nlu", str(path)]
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, env=rasa_env(), check=True)
    return time.perf_counter() - started


def predict(model: Path, texts: Sequence[str], work: Path, latency: int = 0) -> Dict[str, Any]:
    """Parse every text with the trained pipeline (in a subprocess); see `_predict_main`."""
    work.mkdir(parents=True, exist_ok=True)
    source, target = work / "texts.json", work / "predictions.json"
    source.write_text(json.dumps(list(texts)), encoding="utf-8")
    command = [sys.executable, __file__, "predict", str(model), str(source), str(target), "--latency", str(latency)]
    subprocess.run(command, cwd=ROOT, env=rasa_env(), check=True)
    return json.loads(target.read_text(encoding="utf-8"))


def latency_summary(seconds: List[float]) -> Dict[str, float]:
    ordered = sorted(seconds)
    return {
        "messages": len(ordered),
        "p50_ms": round(1000 * statistics.median(ordered), 2),
        "p95_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        "mean_ms": round(1000 * statistics.fmean(ordered), 2),
    }


async def _parse_all(model: Path, texts: List[str], latency: int) -> Dict[str, Any]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    predictions: List[Dict[str, Any]] = []
    for text in texts:
        parsed = await agent.parse_message(text)
        intent = parsed.get("intent") or {}
        predictions.append(
            {
                "intent": intent.get("name"),
                "confidence": float(intent.get("confidence") or 0.0),
                "ranking": [(r["name"], float(r["confidence"])) for r in (parsed.get("intent_ranking") or [])[:3]],
                "sentiment": parsed.get("sentiment"),
                "entities": [(e.get("entity"), e.get("value")) for e in parsed.get("entities") or []],
            }
        )
    timings: List[float] = []
    if latency:
        # warm: the texts above went through once already; now one message at a time, as a chat server does
        for i in range(latency):
            text = texts[i % len(texts)]
            started = time.perf_counter()
            await agent.parse_message(text)
            timings.append(time.perf_counter() - started)
    return {"predictions": predictions, "latency": latency_summary(timings) if timings else None}


def _predict_main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["predict"])
    parser.add_argument("model", type=Path)
    parser.add_argument("texts", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--latency", type=int, default=0)
    args = parser.parse_args(argv)
    texts = json.loads(args.texts.read_text(encoding="utf-8"))
    result = asyncio.run(_parse_all(args.model, texts, args.latency))
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    _predict_main()
