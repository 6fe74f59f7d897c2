"""The sentence an alert is read by, in the inbox banner, the webhook and the email."""

from __future__ import annotations

BUCKET_MINUTES = 5


def window_text(buckets: int) -> str:
    """'15 minutes', 'hour', '3 hours': the span of the detector window that fired."""
    minutes = buckets * BUCKET_MINUTES
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    return "hour" if hours == 1 else f"{hours} hours"


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


def alert_summary(metric: str, scope_value: str, before: float, now: float, window: int, volume: int) -> str:
    """E.g. "claim_status on twitter: negative share 12 % → 61 % in the last hour, 48 messages"."""
    messages = f"{volume} message" + ("" if volume == 1 else "s")
    if metric == "negative_share":
        change = f"negative share {percent(before)} → {percent(now)}"
    else:
        change = f"messages per {BUCKET_MINUTES} minutes {before:.1f} → {now:.1f}"
    return f"{scope_value}: {change} in the last {window_text(window)}, {messages}"
