"""The evaluation gate: a retrained model replaces the active one only if it is better where it was taught
and no worse elsewhere.

Three measurements of both models, on data neither trained on (issue 15):
(a) the fixed held-out set (tests/fixtures/nlu_heldout.yml: intents and sentiment),
(b) annotated messages the candidate did not train on (what the annotations were meant to fix),
(c) every test story (bot behaviour end to end).
The candidate is promoted only if (b) improves by at least `min_gain` points and neither (a) nor (c)
falls by more than its tolerance. A refusal lists every failing number, so the person who asked for the
retrain sees why (a shuffled batch of labels fails (a) and (b) at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


@dataclass(frozen=True)
class Evaluation:
    """A model's scores, in percent."""

    heldout_intent: float
    heldout_sentiment: float
    annotated_intent: Optional[float]  # None: no held-back annotations to measure on
    stories: float  # share of test stories passed

    def as_dict(self) -> Dict[str, Optional[float]]:
        return {
            "heldout_intent": self.heldout_intent,
            "heldout_sentiment": self.heldout_sentiment,
            "annotated_intent": self.annotated_intent,
            "stories": self.stories,
        }


@dataclass(frozen=True)
class Tolerance:
    """How far (in points) a protected score may fall, and how much the taught one must rise."""

    heldout_intent: float = 1.0
    heldout_sentiment: float = 1.0
    stories: float = 0.0
    min_gain: float = 0.5


@dataclass(frozen=True)
class Verdict:
    promote: bool
    failures: Tuple[str, ...]
    rows: Tuple[Tuple[str, Optional[float], Optional[float], str], ...] = field(default=())

    def explain(self) -> str:
        """The table a refusal (or a promotion) shows: metric, active, candidate, rule."""
        lines = ["| metric | active | candidate | rule |", "| --- | ---: | ---: | --- |"]
        for name, active, candidate, rule in self.rows:
            lines.append(f"| {name} | {_fmt(active)} | {_fmt(candidate)} | {rule} |")
        head = "promoted" if self.promote else "refused: " + "; ".join(self.failures)
        return head + "\n\n" + "\n".join(lines)


def _fmt(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.1f}"


def decide(active: Evaluation, candidate: Evaluation, tolerance: Tolerance = Tolerance()) -> Verdict:
    failures: List[str] = []
    rows = []
    for name, limit in (
        ("heldout_intent", tolerance.heldout_intent),
        ("heldout_sentiment", tolerance.heldout_sentiment),
        ("stories", tolerance.stories),
    ):
        before, after = getattr(active, name), getattr(candidate, name)
        rule = f"may fall at most {limit:g} points"
        rows.append((name, before, after, rule))
        if after < before - limit - 1e-9:
            failures.append(f"{name} fell from {before:.1f} to {after:.1f} (at most {limit:g} points allowed)")
    before, after = active.annotated_intent, candidate.annotated_intent
    rule = f"must rise at least {tolerance.min_gain:g} points"
    rows.append(("annotated_intent", before, after, rule))
    if before is None or after is None:
        failures.append("no annotated messages were held back to measure what the annotations taught")
    elif after < before + tolerance.min_gain - 1e-9:
        failures.append(
            f"annotated_intent went from {before:.1f} to {after:.1f} (a rise of {tolerance.min_gain:g} needed)"
        )
    return Verdict(promote=not failures, failures=tuple(failures), rows=tuple(rows))
