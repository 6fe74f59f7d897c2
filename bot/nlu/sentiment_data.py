"""Sentiment training data: public airline tweets plus sentiment labels on our own insurance messages.

The airline tweets (Twitter US Airline Sentiment, CC BY-NC-SA 4.0) are licensed for non-commercial use
only: a commercial deployment must drop them (`airline_tweets: null` in config.yml) and label its own
messages instead (intent-level `metadata: {sentiment: …}` blocks in nlu_data/, as nlu_data/sentiment.yml
does). The held-out split is fixed by a hash of the tweet id, so training and the benchmark agree on it
whatever the file order.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import emoji

SENTIMENTS: Tuple[str, ...] = ("negative", "neutral", "positive")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
HELDOUT_PERCENT = 20

# a mention starts a word: the "@coverline" inside "hi@coverline.io" is not one (it was read as "hi @user",
# a greeting); an email address is written one way, so the words around it decide the intent, not its letters
_MENTION = re.compile(r"(?<![\w.+-])@\w+")
_URL = re.compile(r"https?://\S+")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_TOKEN = "name@example.com"
# skin tones change no meaning; an emoji's name is written between these two marks, then as words
_SKIN_TONE = re.compile("[\U0001f3fb-\U0001f3ff]")
_EMOJI_NAME = re.compile("\x02([^\x03]*)\x03")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Labelled:
    texts: List[str]
    labels: List[str]

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> "Labelled":
        return Labelled([self.texts[i] for i in indices], [self.labels[i] for i in indices])


def shared_data_dir() -> Path:
    return Path(os.environ.get("COVERLINE_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


def default_airline_tweets() -> Path:
    return shared_data_dir() / "twitter_us_airline_sentiment" / "Tweets.csv"


SHOUTING_MARK = "all caps:"
_SHOUTING_MIN_LETTERS = 8
_SHOUTING_SHARE = 0.6


def mark_shouting(text: str) -> str:
    """The encoder is uncased (MiniLM lowercases everything), so "WHY IS THERE A LATE FEE" reads exactly
    like a calm question. A message mostly in capitals gets a leading mark the model can learn from, in
    training and when serving alike; the labels decide what it means (angry, or "THANK YOU SO MUCH")."""
    if text.startswith(SHOUTING_MARK):
        return text
    letters = [char for char in text if char.isalpha()]
    if len(letters) < _SHOUTING_MIN_LETTERS:
        return text
    if sum(char.isupper() for char in letters) < _SHOUTING_SHARE * len(letters):
        return text
    return f"{SHOUTING_MARK} {text}"


def normalise_social_text(text: str) -> str:
    """Mentions and links carry no sentiment but differ between platforms; TweetEval writes them the
    same way (@user, http), so training and inference see one form. Email addresses become one address
    (the letters of "hi@…" or "thanks.jo@…" said "greet" and "thank_you"). Shouting is marked (mark_shouting)."""
    text = _EMAIL.sub(EMAIL_TOKEN, _URL.sub("http", text))
    return spell_emoji(mark_shouting(_MENTION.sub("@user", text).strip()))


def spell_emoji(text: str) -> str:
    """The encoder's vocabulary has no emoji: 👍, 👎, 😡 and 🙏 were all one [UNK] token, so "👍" alone
    fell to out_of_scope and an angry row of 😡 said nothing. Each becomes its CLDR name in words
    ("thumbs up", "enraged face"), which the pretrained encoder can read. After the shouting mark: the names'
    lower-case letters must not hide capitals."""
    if text.isascii():
        return text
    text = _SKIN_TONE.sub("", text.replace("\x02", " ").replace("\x03", " "))  # the marks are ours alone
    named = emoji.demojize(text, delimiters=("\x02", "\x03"))
    spelled = _EMOJI_NAME.sub(lambda match: " " + match.group(1).replace("_", " ") + " ", named)
    return _SPACES.sub(" ", spelled).strip()


def _is_heldout(tweet_id: str) -> bool:
    return int(hashlib.sha256(tweet_id.encode()).hexdigest(), 16) % 100 < HELDOUT_PERCENT


def airline_tweets(path: Optional[Path] = None, split: str = "train") -> Labelled:
    """`split` is "train" (80 %), "heldout" (20 %) or "all"."""
    if split not in {"train", "heldout", "all"}:
        raise ValueError(f"unknown split {split!r}: use train, heldout or all")
    texts: List[str] = []
    labels: List[str] = []
    with open(path or default_airline_tweets(), newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            heldout = _is_heldout(row["tweet_id"])
            if split == "all" or (split == "heldout") == heldout:
                texts.append(normalise_social_text(row["text"]))
                labels.append(row["airline_sentiment"])
    return Labelled(texts, labels)


def sentiment_of(metadata: Optional[Dict[str, Any]]) -> Optional[str]:
    """The label of an NLU example: example-level metadata wins over the intent block's."""
    metadata = metadata or {}
    for level in ("example", "intent"):
        value = (metadata.get(level) or {}).get("sentiment") if isinstance(metadata.get(level), dict) else None
        if value is not None:
            label = str(value).strip().lower()
            if label not in SENTIMENTS:
                raise ValueError(f"sentiment label {value!r} is not one of {', '.join(SENTIMENTS)}")
            return label
    return None


def file_fingerprint(path: Optional[Path]) -> str:
    """Part of the component's fingerprint, so editing the sentiment file retrains the model."""
    if path is None or not Path(path).exists():
        return "none"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
