"""Loader for NAB's realTweets corpus in the shared data folder (`nab_realtweets`, see /work/shared/data/README.md).

Standard library and numpy only. Every loader raises on anything surprising (a window edge that is not a row
of its file, a published output whose length differs from its data file) instead of returning a silently
different corpus: NAB figures are only comparable on the exact rows and windows NAB scored.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CATEGORY = "realTweets"
PROFILES = ("standard", "reward_low_FP_rate")


@dataclass(frozen=True)
class Series:
    """One data file: NAB's key (``realTweets/Twitter_volume_AAPL.csv``), its rows and its labelled windows."""

    name: str
    timestamps: Tuple[datetime, ...]
    values: np.ndarray
    windows: Tuple[Tuple[datetime, datetime], ...]

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1].removesuffix(".csv")


@dataclass(frozen=True)
class CostMatrix:
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class PublishedFileScore:
    """A row of NAB's results/<detector>_<profile>_scores.csv."""

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int


def shared_data() -> Path:
    """Read at call time so a test or a CI job can point COVERLINE_SHARED_DATA elsewhere after import."""
    return Path(os.environ.get("COVERLINE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def corpus_dir() -> Path:
    return shared_data() / "nab_realtweets"


def _timestamp(text: str) -> datetime:
    """NAB writes data rows as '2015-02-26 21:42:53' and window edges with '.000000' appended."""
    return datetime.fromisoformat(text.strip())


def _read_rows(path: Path) -> List[Dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def series_names() -> List[str]:
    windows = json.loads((corpus_dir() / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    return sorted(name for name in windows if name.startswith(f"{CATEGORY}/"))


def load_series() -> List[Series]:
    """The ten realTweets files in name order, each with the windows of labels/combined_windows.json."""
    all_windows = json.loads((corpus_dir() / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    corpus: List[Series] = []
    for name in series_names():
        rows = _read_rows(corpus_dir() / "data" / name.split("/", 1)[1])
        timestamps = tuple(_timestamp(row["timestamp"]) for row in rows)
        windows = tuple((_timestamp(start), _timestamp(end)) for start, end in all_windows[name])
        present = set(timestamps)
        for start, end in windows:
            if start not in present or end not in present:
                raise ValueError(f"{name}: window {start} – {end} does not start and end on rows of the file")
        values = np.array([float(row["value"]) for row in rows])
        corpus.append(Series(name=name, timestamps=timestamps, values=values, windows=windows))
    if len(corpus) != 10:
        raise ValueError(f"expected the 10 realTweets files, found {len(corpus)}")
    return corpus


def load_profiles() -> Dict[str, CostMatrix]:
    """NAB's cost profiles (config/profiles.json): standard and reward_low_FP_rate are the ones we report."""
    profiles = json.loads((corpus_dir() / "config" / "profiles.json").read_text(encoding="utf-8"))
    return {
        name: CostMatrix(
            tp=profile["CostMatrix"]["tpWeight"],
            fp=profile["CostMatrix"]["fpWeight"],
            fn=profile["CostMatrix"]["fnWeight"],
        )
        for name, profile in profiles.items()
    }


def published_thresholds() -> Dict[str, Dict[str, float]]:
    """Detector -> profile -> the threshold NAB's optimiser chose over the whole 58-file corpus."""
    thresholds = json.loads((corpus_dir() / "config" / "thresholds.json").read_text(encoding="utf-8"))
    return {
        detector: {profile: entry["threshold"] for profile, entry in profiles.items()}
        for detector, profiles in thresholds.items()
    }


def published_raw_scores(detector: str, series: List[Series]) -> Dict[str, np.ndarray]:
    """The anomaly_score column of results/<detector>/<detector>_<file>.csv.gz, aligned with each data file."""
    folder = corpus_dir() / "results" / detector
    scores: Dict[str, np.ndarray] = {}
    for one in series:
        file_name = one.name.split("/", 1)[1]
        rows = _read_rows(folder / f"{detector}_{file_name}.gz")
        if len(rows) != len(one.timestamps) or _timestamp(rows[0]["timestamp"]) != one.timestamps[0]:
            raise ValueError(f"{detector} output for {one.name} is not aligned with the data file")
        scores[one.name] = np.array([float(row["anomaly_score"]) for row in rows])
    return scores


def published_file_scores(detector: str, profile: str = "standard") -> Dict[str, PublishedFileScore]:
    """NAB's published per-file raw scores for the realTweets files (results/<detector>_<profile>_scores.csv)."""
    rows = _read_rows(corpus_dir() / "results" / f"{detector}_{profile}_scores.csv")
    return {
        row["File"]: PublishedFileScore(
            threshold=float(row["Threshold"]),
            score=float(row["Score"]),
            tp=int(row["TP"]),
            tn=int(row["TN"]),
            fp=int(row["FP"]),
            fn=int(row["FN"]),
        )
        for row in rows
        if row["File"].startswith(f"{CATEGORY}/")
    }


def available_published_detectors() -> List[str]:
    """Detectors with a published standard-profile score file in the shared folder."""
    return sorted(
        path.name.removesuffix("_standard_scores.csv")
        for path in (corpus_dir() / "results").glob("*_standard_scores.csv")
    )
