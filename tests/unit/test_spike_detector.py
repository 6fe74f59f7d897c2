"""The spike detector on synthetic traffic with a daily rhythm, as the alert monitor will feed it.

What a team lead would notice: a storm that is not flagged, an alert every morning when the day starts, a
second alert for the same storm, a lost baseline after a restart, an alert about two messages.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timedelta
from typing import List, Optional, Sequence

import numpy as np
import pytest

from alerts.detector import Detection, DetectorConfig, SpikeDetector

START = datetime(2026, 3, 2)  # a Monday, midnight
BUCKET = timedelta(minutes=5)
PER_DAY = 288


def daily_rate(days: int, base: float = 20.0) -> np.ndarray:
    """Messages per 5-minute bucket: quiet at night, busy at midday."""
    hours = np.arange(days * PER_DAY) / 12.0
    return base * (1.0 + 0.8 * np.sin(2 * math.pi * (hours - 6.0) / 24.0))


def stamps(count: int) -> List[datetime]:
    return [START + i * BUCKET for i in range(count)]


def feed(
    detector: SpikeDetector, values: Sequence[float], volumes: Optional[Sequence[float]] = None
) -> List[Detection]:
    volumes = volumes if volumes is not None else [None] * len(values)
    return [detector.update(t, v, n) for t, v, n in zip(stamps(len(values)), values, volumes, strict=True)]


def fired_at(detections: Sequence[Detection]) -> List[int]:
    return [i for i, d in enumerate(detections) if d.fired]


def test_a_steady_noisy_series_with_a_daily_rhythm_never_fires() -> None:
    counts = np.random.default_rng(1).poisson(daily_rate(days=21))
    assert fired_at(feed(SpikeDetector(), counts.tolist())) == []


def test_a_step_up_is_flagged_within_a_few_buckets_of_its_start() -> None:
    rate = daily_rate(days=10)
    start = 8 * PER_DAY + 14 * 12  # day 9, 14:00
    rate[start : start + 24] *= 4.0  # two hours at four times the usual volume
    counts = np.random.default_rng(2).poisson(rate)
    fires = fired_at(feed(SpikeDetector(), counts.tolist()))
    assert fires, "the step was never flagged"
    assert start <= fires[0] <= start + 3
    assert len(fires) == 1, "one storm, one alert"


def test_a_single_busy_bucket_is_not_a_storm() -> None:
    rate = daily_rate(days=10)
    rate[8 * PER_DAY + 150] *= 2.0
    counts = np.random.default_rng(3).poisson(rate)
    assert fired_at(feed(SpikeDetector(), counts.tolist())) == []


def test_cool_down_silences_a_second_storm_until_it_has_passed() -> None:
    rate = daily_rate(days=12)
    first = 8 * PER_DAY + 9 * 12
    second = first + 24  # two hours later: inside an 8-hour cool-down
    third = first + 12 * 12  # twelve hours later: after it
    for start in (first, second, third):
        rate[start : start + 12] *= 5.0
    counts = np.random.default_rng(4).poisson(rate)
    detections = feed(SpikeDetector(DetectorConfig(cooldown_buckets=96)), counts.tolist())
    fires = fired_at(detections)
    assert len(fires) == 2
    assert first <= fires[0] <= first + 3
    assert third <= fires[1] <= third + 3
    assert all(d.score == 0.0 for d in detections[fires[0] + 1 : fires[0] + 97])


def test_hold_until_calm_makes_a_storm_longer_than_the_cool_down_one_alert() -> None:
    rate = daily_rate(days=12)
    start = 8 * PER_DAY + 8 * 12
    rate[start : start + 10 * 12] *= 3.0  # ten hours of storm, two-hour cool-down
    rate[start + 72 * 12 : start + 73 * 12] *= 5.0  # a new storm three days later
    counts = np.random.default_rng(11).poisson(rate).tolist()
    calm = fired_at(feed(SpikeDetector(DetectorConfig(cooldown_buckets=24, hold_until_calm=True)), counts))
    assert len(calm) == 2
    assert start <= calm[0] <= start + 3 and start + 72 * 12 <= calm[1] <= start + 72 * 12 + 3
    assert len(fired_at(feed(SpikeDetector(DetectorConfig(cooldown_buckets=24)), counts))) > 2


def test_nothing_fires_while_warming_up() -> None:
    rate = daily_rate(days=3)
    rate[100:130] *= 6.0
    counts = np.random.default_rng(5).poisson(rate)
    detections = feed(SpikeDetector(DetectorConfig(warmup_buckets=PER_DAY)), counts.tolist())
    assert all(d.score == 0.0 for d in detections[:PER_DAY])


def test_state_survives_a_restart_through_json() -> None:
    rate = daily_rate(days=10)
    rate[9 * PER_DAY : 9 * PER_DAY + 24] *= 4.0
    counts = np.random.default_rng(6).poisson(rate).tolist()
    times = stamps(len(counts))
    half = 9 * PER_DAY - 30

    uninterrupted = SpikeDetector()
    expected = [uninterrupted.update(t, v) for t, v in zip(times, counts, strict=True)]

    before = SpikeDetector()
    for t, v in zip(times[:half], counts[:half], strict=True):
        before.update(t, v)
    restored = SpikeDetector.from_state(json.loads(json.dumps(before.to_state())))
    after = [restored.update(t, v) for t, v in zip(times[half:], counts[half:], strict=True)]

    assert after == expected[half:]
    assert any(d.fired for d in after)


def test_restoring_with_other_windows_starts_a_fresh_baseline() -> None:
    detector = SpikeDetector()
    feed(detector, np.random.default_rng(7).poisson(daily_rate(days=2)).tolist())
    other = DetectorConfig(windows=(12,))
    restored = SpikeDetector.from_state(json.loads(json.dumps(detector.to_state())), other)
    assert restored.config == other
    assert restored.to_state()["seen"] == 0


def negative_messages(days: int, volume_rate: float, seed: int) -> tuple[List[float], List[float], int]:
    """Negative messages and all messages per bucket: usually 10 % negative, 60 % for two hours on day 9."""
    rng = np.random.default_rng(seed)
    volumes = rng.poisson(daily_rate(days, base=volume_rate))
    probability = np.full(len(volumes), 0.1)
    start = 8 * PER_DAY + 15 * 12
    probability[start : start + 24] = 0.6
    negatives = rng.binomial(volumes, probability)
    return negatives.astype(float).tolist(), volumes.astype(float).tolist(), start


SHARE = DetectorConfig(share=True, offset=0.05)


def test_a_negative_share_jump_fires_once_and_only_with_enough_messages_behind_it() -> None:
    negatives, volumes, start = negative_messages(days=10, volume_rate=40.0, seed=8)
    fires = fired_at(feed(SpikeDetector(SHARE), negatives, volumes))
    assert len(fires) == 1 and start <= fires[0] <= start + 6

    too_few = replace(SHARE, min_volume=10_000)
    assert fired_at(feed(SpikeDetector(too_few), negatives, volumes)) == []


def test_a_volume_surge_at_the_usual_share_is_not_a_negative_spike() -> None:
    rng = np.random.default_rng(10)
    rate = daily_rate(days=10, base=40.0)
    rate[8 * PER_DAY + 150 : 8 * PER_DAY + 190] *= 5.0
    volumes = rng.poisson(rate)
    negatives = rng.binomial(volumes, 0.1)
    assert fired_at(feed(SpikeDetector(SHARE), negatives.tolist(), volumes.tolist())) == []


def test_the_alert_text_numbers_are_in_the_series_units() -> None:
    negatives, volumes, _ = negative_messages(days=10, volume_rate=40.0, seed=9)
    first = next(d for d in feed(SpikeDetector(SHARE), negatives, volumes) if d.fired)
    assert first.expected < 0.2 and 0.35 < first.observed <= 1.0


@pytest.mark.parametrize(
    "change",
    [{"sensitivity": 0}, {"windows": ()}, {"windows": (0,)}, {"offset": 0}, {"cooldown_buckets": -1}],
)
def test_nonsense_settings_are_refused(change: dict) -> None:
    with pytest.raises(ValueError):
        DetectorConfig(**change)
