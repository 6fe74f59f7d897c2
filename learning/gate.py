"""The evaluation gate: a retrained model replaces the active one only if it is better where it was taught
and no worse elsewhere.

Three measurements of both models, on data neither trained on (issue 15):
(a) the fixed held-out set (tests/fixtures/nlu_heldout.yml: intents and sentiment),
(b) annotated messages the candidate did not train on (what the annotations were meant to fix),
(c) every test story (bot behaviour end to end).
The candidate is promoted only if (b) improves by at least `min_gain` points and neither (a) nor (c)
falls by more than its tolerance. A refusal lists every failing number, so the person who asked for the
retrain sees why (a shuffled batch of labels fails (a) and (b) at once).

A model retrained from scratch on a little more data moves some held-out answers it was never taught
about, both ways. Session 13's run refused a candidate that learned everything it was taught because
held-out sentiment moved 1.3 points (4 of 300 messages). So a held-out fall beyond the tolerance refuses
only when the two models' answers, paired message by message, show it is more than that churn: an exact
one-sided McNemar test on the messages where exactly one model is right (scipy's `binomtest`, p below
`significance`). A fall beyond `hard_limit` refuses whatever the test says, and without paired answers
(older registry rows) the fixed tolerance alone decides. Stories keep the fixed rule: a story that stops
passing is a conversation a customer would see go differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from scipy.stats import binomtest


@dataclass(frozen=True)
class Evaluation:
    """A model's scores, in percent."""

    heldout_intent: float
    heldout_sentiment: float
    annotated_intent: Optional[float]  # None: no held-back annotations to measure on
    stories: float  # share of test stories passed
    # per held-out message, in the held-out file's order: was the model right? (paired for the McNemar test)
    heldout_intent_hits: Tuple[bool, ...] = ()
    heldout_sentiment_hits: Tuple[bool, ...] = ()

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
    significance: float = 0.05  # a held-out fall beyond tolerance must also be this unlikely as churn
    hard_limit: float = 3.0  # a held-out fall beyond this refuses whatever the paired test says


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


def regression_p_value(active: Sequence[bool], candidate: Sequence[bool]) -> Optional[float]:
    """Exact one-sided McNemar: of the messages exactly one model gets right, how likely is it that the
    candidate loses this many or more if neither model were better? None when the answers are not paired."""
    if not active or len(active) != len(candidate):
        return None
    worse = sum(a and not c for a, c in zip(active, candidate, strict=True))
    better = sum(c and not a for a, c in zip(active, candidate, strict=True))
    if worse + better == 0:
        return 1.0
    return float(binomtest(worse, worse + better, 0.5, alternative="greater").pvalue)


def _heldout_check(
    name: str, active: Evaluation, candidate: Evaluation, limit: float, tolerance: Tolerance
) -> Tuple[Optional[str], str]:
    """(failure or None, the rule as the report shows it) for one held-out score."""
    before, after = getattr(active, name), getattr(candidate, name)
    hits = f"{name}_hits"
    p = regression_p_value(getattr(active, hits), getattr(candidate, hits))
    rule = f"may fall at most {limit:g} points"
    if p is not None:
        rule += f" unless churn (McNemar p ≥ {tolerance.significance:g}); never more than {tolerance.hard_limit:g}"
    fall = before - after
    if fall <= limit + 1e-9:
        return None, rule
    if fall > tolerance.hard_limit + 1e-9:
        return f"{name} fell from {before:.1f} to {after:.1f} (never more than {tolerance.hard_limit:g} points)", rule
    if p is None:
        return f"{name} fell from {before:.1f} to {after:.1f} (at most {limit:g} points allowed)", rule
    if p < tolerance.significance:
        return (
            f"{name} fell from {before:.1f} to {after:.1f}, more than {limit:g} points and beyond retraining churn "
            f"(McNemar p = {p:.3f})"
        ), rule
    return None, rule + f"; fell {fall:.1f} with p = {p:.2f}: churn"


def decide(active: Evaluation, candidate: Evaluation, tolerance: Tolerance = Tolerance()) -> Verdict:
    failures: List[str] = []
    rows = []
    for name, limit in (
        ("heldout_intent", tolerance.heldout_intent),
        ("heldout_sentiment", tolerance.heldout_sentiment),
    ):
        failure, rule = _heldout_check(name, active, candidate, limit, tolerance)
        rows.append((name, getattr(active, name), getattr(candidate, name), rule))
        if failure:
            failures.append(failure)
    before, after, limit = active.stories, candidate.stories, tolerance.stories
    rows.append(("stories", before, after, f"may fall at most {limit:g} points"))
    if after < before - limit - 1e-9:
        failures.append(f"stories fell from {before:.1f} to {after:.1f} (at most {limit:g} points allowed)")
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
