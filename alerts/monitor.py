"""The spike monitor: customer messages in 5-minute buckets, per rule and scope, through one detector each.

Every run feeds each (rule, scope value) detector the buckets that have closed since it was last fed, oldest
first, and stores its state with the end of the last bucket fed in the same transaction as any alert it raised.
So a restart, a crash or a second monitor never feeds a bucket twice or raises an alert twice, and a monitor
that was down catches up on the buckets it missed and raises what it would have raised (`raised_at` tells when it
noticed). A bucket is read once the clock is `settle` past its end, so messages the interaction log's writer is
still storing are not missed. Buckets go bucket by bucket across all rules, so a catch-up raises exactly what a
monitor that never stopped would have.

When the detector fires, two checks come before an alert (docs/alerts.md):
- the counts must be improbable under what that hour usually shows (binomial tail for a share, Poisson for a
  volume, below `SIGNIFICANCE`). The detector's robust z-score is tuned on busy Twitter volumes; on a channel with
  a few messages per bucket one negative message too many moves a share by 20 points, and the z-score alone
  fired every few days on the simulated month. The test keeps the detector's seasonal baseline and asks how
  unlikely the window's counts are given the window's size.
- one incident, one alert: if most of the messages behind it already fall in the scope of an alert raised in the
  last `INCIDENT_SPAN` (a storm on Twitter also lifts Twitter's volume and claim_status's share), its messages are
  added to that alert instead of raising another.
Cool-down is kept here per scope (not in the detector), so a candidate these checks turn down does not silence
the scope.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from scipy.stats import binom, poisson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.detector import Detection, DetectorConfig, SpikeDetector
from alerts.summary import alert_summary
from storage.engine import session_scope
from storage.models import Alert, AlertDelivery, AlertDetectorState, AlertRule, Message, utcnow

logger = logging.getLogger(__name__)

BUCKET = timedelta(minutes=5)
SETTLE = timedelta(minutes=1)  # the interaction log stores a message a moment after it was sent
BACKFILL = timedelta(days=14)  # how far back a new rule starts learning, so it is warm when it goes live
CHUNK = timedelta(days=1)  # one transaction per day of catch-up
SHARE_OFFSET = 0.05  # the detector's offset for shares: a few percent (alerts/detector.py DetectorConfig)
VOLUME_OFFSET = 3.0  # and for volumes: a few messages per bucket
RATE_DECAY = 0.5 ** (1 / 84)  # the usual rate per hour of day forgets with a half-life of a week (12 buckets a day)
RATE_SLOTS = 48  # 24 hours of a weekday, then 24 of a weekend day: Mondays are not a storm after a quiet Sunday
MIN_HISTORY_MESSAGES = 60  # an hour that has seen fewer messages than this cannot call anything unusual yet
# how unlikely a window's counts must be under the usual rate: with ~13 scopes, 2 windows and 8,640 buckets a month
# there are some 200,000 looks, so a false alert a month sits near 1e-5; shares at 3e-6, volumes (whose
# Poisson test also sees the daily ramp-up as a rise) at 1e-6 kept the simulated months free of false alerts
SIGNIFICANCE = {"negative_share": 3e-6, "volume": 1e-6}
LEARNING_FLOOR = 1e-3  # a bucket at least this unlikely is not learned as usual
INCIDENT_SPAN = timedelta(hours=3)
MAX_MESSAGE_IDS = 500
STATE_FORMAT = 1
EPOCH = datetime(2000, 1, 1)

Clock = Callable[[], datetime]
Counts = Dict[str, Tuple[int, int]]  # scope value -> (negative messages, all messages)
Recipients = Dict[str, Sequence[str]]  # {"webhooks": [url, ...], "emails": [address, ...]}


@dataclass(frozen=True)
class CustomerMessage:
    id: int
    sent_at: datetime
    channel: str
    intent: Optional[str]
    negative: bool


def bucket_start(moment: datetime) -> datetime:
    """The start of the 5-minute bucket holding `moment` (naive UTC, as the interaction log stores times)."""
    return moment - (moment - EPOCH) % BUCKET


def scope_value(scope: str, channel: str, intent: Optional[str]) -> Optional[str]:
    """The group a message belongs to under a rule's scope; None when it has none (no intent yet)."""
    if scope == "all":
        return "all"
    if scope == "channel":
        return channel
    if not intent:
        return None
    return intent if scope == "intent" else f"{intent} on {channel}"


def detector_config(rule: AlertRule) -> DetectorConfig:
    """The rule's knobs on top of the detector's NAB-tuned defaults; the cool-down is the monitor's."""
    share = rule.metric == "negative_share"
    return DetectorConfig(
        sensitivity=float(rule.sensitivity),
        min_volume=float(rule.min_volume),
        cooldown_buckets=0,
        offset=SHARE_OFFSET if share else VOLUME_OFFSET,
        share=share,
    )


def rate_slot(moment: datetime) -> int:
    return moment.hour + (24 if moment.weekday() >= 5 else 0)


def tail_probability(share: bool, negatives: int, total: int, window: int, usual: Tuple[float, float]) -> float:
    """How likely counts at least this high are under the usual rate. Shares: at least `negatives` of `total`
    when that share is usually negative (binomial). Volumes: at least `total` messages in `window` buckets
    (Poisson). The floors keep a nearly silent scope from alerting on its first few messages."""
    if share:
        return float(binom.sf(negatives - 1, total, min(max(usual[0], 0.02), 0.98)))
    return float(poisson.sf(total - 1, max(usual[1], 0.2) * window))


def window_probability(share: bool, scope: "ScopeWatch", window_end: datetime, window: int) -> Optional[float]:
    usual = scope.usual(window_end, window)
    if usual is None:
        return None
    return tail_probability(share, *scope.window_counts(window), window, usual)


def unusual_window(share: bool, scope: "ScopeWatch", window_end: datetime) -> Optional[int]:
    """The shortest detector window whose counts are improbable (below the metric's SIGNIFICANCE), if any."""
    for window in sorted(scope.detector.config.windows):
        probability = window_probability(share, scope, window_end, window)
        if probability is not None and probability < SIGNIFICANCE["negative_share" if share else "volume"]:
            return window
    return None


def suspicious(share: bool, scope: "ScopeWatch", window_end: datetime) -> bool:
    """Unlikely enough (below LEARNING_FLOOR) that the bucket is kept out of the usual rate."""
    probability = window_probability(share, scope, window_end, min(scope.detector.config.windows))
    return probability is not None and probability < LEARNING_FLOOR


@dataclass
class ScopeWatch:
    """One (rule, scope value): its detector, the counts of the buckets its windows span, its cool-down."""

    detector: SpikeDetector
    processed_until: datetime
    recent: List[Tuple[int, int]] = field(default_factory=list)
    quiet_until: Optional[datetime] = None
    # per hour of a weekday and of a weekend day: decayed sums of negatives, messages and buckets (the usual rate)
    rates: List[List[float]] = field(default_factory=lambda: [[0.0, 0.0, 0.0] for _ in range(RATE_SLOTS)])
    row: Optional[AlertDetectorState] = None

    @classmethod
    def load(cls, row: AlertDetectorState, config: DetectorConfig) -> "ScopeWatch":
        state = row.state
        quiet = state.get("quiet_until")
        return cls(
            detector=SpikeDetector.from_state(state["detector"], config),
            processed_until=row.processed_until,
            recent=[(int(n), int(t)) for n, t in state.get("recent", [])],
            quiet_until=datetime.fromisoformat(quiet) if quiet else None,
            rates=[[float(x) for x in slot] for slot in state["rates"]],
            row=row,
        )

    def to_state(self) -> Dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "detector": self.detector.to_state(),
            "recent": [list(pair) for pair in self.recent],
            "quiet_until": self.quiet_until.isoformat() if self.quiet_until else None,
            "rates": self.rates,
        }

    def feed(self, moment: datetime, negatives: int, total: int, share: bool) -> Detection:
        detection = self.detector.update(moment, negatives, total) if share else self.detector.update(moment, total)
        self.recent = (self.recent + [(negatives, total)])[-max(self.detector.config.windows) :]
        self.processed_until = moment + BUCKET
        return detection

    def window_counts(self, window: int) -> Tuple[int, int]:
        last = self.recent[-window:]
        return sum(n for n, _ in last), sum(t for _, t in last)

    def usual(self, window_end: datetime, window: int) -> Optional[Tuple[float, float]]:
        """(share of negative messages, messages per bucket) the `window` buckets before `window_end` usually
        show, each at its hour on its kind of day; None until every hour in it has seen enough messages to say."""
        negatives = total = per_bucket = 0.0
        for back in range(1, window + 1):
            slot_negatives, slot_total, slot_buckets = self.rates[rate_slot(window_end - back * BUCKET)]
            if slot_total < MIN_HISTORY_MESSAGES:
                return None
            negatives += slot_negatives / slot_buckets
            total += slot_total / slot_buckets
            per_bucket += slot_total / slot_buckets / window
        return negatives / total, per_bucket

    def learn(self, moment: datetime, negatives: int, total: int) -> None:
        slot = self.rates[rate_slot(moment)]
        slot[0] = slot[0] * RATE_DECAY + negatives
        slot[1] = slot[1] * RATE_DECAY + total
        slot[2] = slot[2] * RATE_DECAY + 1


class RuleWatch:
    """A rule's scopes during one run; `team` recipients get its alerts besides the rule's own."""

    def __init__(self, rule: AlertRule, rows: Iterable[AlertDetectorState], team: Optional[Recipients] = None) -> None:
        self.rule = rule
        self.team = team or {}
        self.config = detector_config(rule)
        self.share = rule.metric == "negative_share"
        self.cooldown = timedelta(minutes=rule.cooldown_minutes)
        self.scopes: Dict[str, ScopeWatch] = {}
        for row in rows:
            try:
                self.scopes[row.scope_value] = ScopeWatch.load(row, self.config)
            except (KeyError, TypeError, ValueError) as error:  # an older format: that scope learns again
                logger.warning("detector state of rule %s, %s dropped: %s", rule.name, row.scope_value, error)
                self.scopes[row.scope_value] = ScopeWatch(SpikeDetector(self.config), row.processed_until, row=row)

    def resume_at(self) -> Optional[datetime]:
        return min((scope.processed_until for scope in self.scopes.values()), default=None)

    def feed(self, session: Session, moment: datetime, counts: Counts, now: datetime) -> List[Alert]:
        """Feed one bucket to every scope that has not seen it; a scope first seen in this bucket starts here,
        and a known scope with no message is fed a quiet bucket (zeros), as the detector expects."""
        for value in counts:
            if value not in self.scopes:
                self.scopes[value] = ScopeWatch(SpikeDetector(self.config), moment)
        raised = []
        for value, scope in self.scopes.items():
            if scope.processed_until > moment:
                continue  # this scope has already seen this bucket
            negatives, total = counts.get(value, (0, 0))
            detection = scope.feed(moment, negatives, total, self.share)
            window = unusual_window(self.share, scope, moment + BUCKET) if detection.fired else None
            if window is None:
                if not suspicious(self.share, scope, moment + BUCKET):
                    scope.learn(moment, negatives, total)  # a storm does not become what is usual
                continue
            if scope.quiet_until is not None and moment < scope.quiet_until:
                continue
            scope.quiet_until = moment + BUCKET + self.cooldown
            window_negatives, window_total = scope.window_counts(window)
            observed = window_negatives / window_total if self.share else window_total / window
            usual = scope.usual(moment + BUCKET, window) or (0.0, 0.0)
            before = usual[0] if self.share else usual[1]
            alert = raise_alert(
                session, self.rule, value, window, detection, before, observed, moment + BUCKET, now, self.team
            )
            if alert is not None:
                raised.append(alert)
        return raised

    def save(self, session: Session) -> None:
        for value, scope in self.scopes.items():
            if scope.row is None:
                scope.row = AlertDetectorState(
                    rule_id=self.rule.id, scope_value=value, processed_until=scope.processed_until
                )
                session.add(scope.row)
            scope.row.state = scope.to_state()
            scope.row.processed_until = scope.processed_until


class Monitor:
    """Runs the enabled rules up to the clock's "now"; `clock` is injectable so a test can replay a month."""

    def __init__(
        self,
        url: Optional[str] = None,
        clock: Clock = utcnow,
        settle: timedelta = SETTLE,
        backfill: timedelta = BACKFILL,
        team: Optional[Recipients] = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self.settle = settle
        self.backfill = backfill
        self.team = team or {}  # {"webhooks": [...], "emails": [...]} for every alert (COVERLINE_ALERTS_*)

    def run_once(self) -> List[int]:
        """Feed every closed bucket; the ids of the alerts raised (their deliveries are queued, not sent)."""
        now = self.clock()
        ready_until = bucket_start(now - self.settle)
        raised: List[int] = []
        while True:
            progress = self._run_chunk(now, ready_until)
            if progress is None:
                return raised
            raised += progress

    def _run_chunk(self, now: datetime, ready_until: datetime) -> Optional[List[int]]:
        """At most one day of buckets for every rule, in one transaction; None when all are up to date."""
        with session_scope(self.url) as session:
            # the row locks make a second monitor wait here, then see the buckets this one fed
            rules = list(
                session.scalars(
                    select(AlertRule).where(AlertRule.enabled.is_(True)).order_by(AlertRule.id).with_for_update()
                )
            )
            if not rules:
                return None
            rows = _state_rows(session, [rule.id for rule in rules])
            watches = [RuleWatch(rule, rows[rule.id], self.team) for rule in rules]
            new_rules_start = self._first_bucket(session, now) if any(not w.scopes for w in watches) else None
            starts = {id(w): w.resume_at() or new_rules_start for w in watches}
            pending = [start for start in starts.values() if start is not None and start < ready_until]
            if not pending:
                return None
            start = min(pending)
            end = min(start + CHUNK, ready_until)
            messages = _customer_messages(session, start, end)
            counts = [_bucketed(w.rule, messages) for w in watches]
            raised: List[Alert] = []
            moment = start
            while moment < end:
                for watch, buckets in zip(watches, counts, strict=True):
                    rule_start = starts[id(watch)]
                    if rule_start is not None and rule_start <= moment:
                        raised += watch.feed(session, moment, buckets.get(moment, {}), now)
                moment += BUCKET
            for watch in watches:
                watch.save(session)
            session.flush()
            return [alert.id for alert in raised]

    def _first_bucket(self, session: Session, now: datetime) -> Optional[datetime]:
        """Where a new rule starts: the first customer message within the backfill (None while there is none)."""
        first = session.scalar(
            select(func.min(Message.sent_at)).where(
                Message.author == "customer", Message.sent_at >= now - self.backfill
            )
        )
        return None if first is None else bucket_start(first)


def _state_rows(session: Session, rule_ids: Sequence[int]) -> Dict[int, List[AlertDetectorState]]:
    found: Dict[int, List[AlertDetectorState]] = {rule_id: [] for rule_id in rule_ids}
    for row in session.scalars(select(AlertDetectorState).where(AlertDetectorState.rule_id.in_(rule_ids))):
        found[row.rule_id].append(row)
    return found


def _customer_messages(session: Session, start: datetime, end: datetime) -> List[CustomerMessage]:
    rows = session.execute(
        select(Message.id, Message.sent_at, Message.channel, Message.intent, Message.sentiment)
        .where(Message.author == "customer", Message.sent_at >= start, Message.sent_at < end)
        .order_by(Message.sent_at, Message.id)
    )
    return [
        CustomerMessage(
            id=row.id, sent_at=row.sent_at, channel=row.channel, intent=row.intent, negative=_negative(row.sentiment)
        )
        for row in rows
    ]


def _negative(sentiment: object) -> bool:
    """The classifier stores {"label": "negative", "confidence": 0.93}; anything else is not negative."""
    return isinstance(sentiment, dict) and sentiment.get("label") == "negative"


def _bucketed(rule: AlertRule, messages: Iterable[CustomerMessage]) -> Dict[datetime, Counts]:
    buckets: Dict[datetime, Dict[str, List[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for message in messages:
        value = scope_value(rule.scope, message.channel, message.intent)
        if value is not None:
            counts = buckets[bucket_start(message.sent_at)][value]
            counts[0] += message.negative
            counts[1] += 1
    return {moment: {value: (n, t) for value, (n, t) in scopes.items()} for moment, scopes in buckets.items()}


def raise_alert(
    session: Session,
    rule: AlertRule,
    value: str,
    window: int,
    detection: Detection,
    usual: float,
    observed: float,
    window_end: datetime,
    now: datetime,
    team: Optional[Recipients] = None,
) -> Optional[Alert]:
    """Store the alert with the messages behind it and queue one delivery per recipient, unless most of those
    messages belong to an incident already raised: then they are added to that alert (None is returned)."""
    started_at = window_end - window * BUCKET
    messages = [
        m
        for m in _customer_messages(session, started_at, window_end)
        if scope_value(rule.scope, m.channel, m.intent) == value
    ]
    behind = [m for m in messages if m.negative] if rule.metric == "negative_share" else messages
    earlier = _same_incident(session, behind, window_end)
    if earlier is not None:
        known = list(earlier.message_ids or [])
        seen = set(known)
        joining = [
            m.id
            for m in messages
            if m.id not in seen
            and scope_value(earlier.rule.scope, m.channel, m.intent) == earlier.scope_value
            and (m.negative or earlier.metric != "negative_share")
        ]
        earlier.message_ids = (known + joining)[:MAX_MESSAGE_IDS]
        logger.info("rule %s on %s joins alert %s (same incident)", rule.name, value, earlier.id)
        return None
    alert = Alert(
        rule_id=rule.id,
        metric=rule.metric,
        scope_value=value,
        started_at=started_at,
        window_end=window_end,
        raised_at=now,
        before_value=usual,
        now_value=observed,
        volume=len(messages),
        zscore=detection.zscore,
        message_ids=[m.id for m in behind[:MAX_MESSAGE_IDS]],
        summary=alert_summary(rule.metric, value, usual, observed, window, len(messages)),
    )
    session.add(alert)
    session.flush()
    for channel, kind in (("webhook", "webhooks"), ("email", "emails")):
        recipients = _recipients(rule, kind, team or {})
        for recipient in recipients:
            session.add(AlertDelivery(alert_id=alert.id, channel=channel, recipient=recipient, next_attempt_at=now))
    logger.warning("alert %s raised: %s", alert.id, alert.summary)
    return alert


def _same_incident(session: Session, behind: Sequence[CustomerMessage], window_end: datetime) -> Optional[Alert]:
    """An unresolved alert of the last INCIDENT_SPAN whose scope holds at least half of `behind`."""
    recent = session.scalars(
        select(Alert)
        .where(
            Alert.status != "resolved", Alert.window_end > window_end - INCIDENT_SPAN, Alert.window_end <= window_end
        )
        .order_by(Alert.id)
    )
    for alert in recent:
        scope = alert.rule.scope
        inside = sum(scope_value(scope, m.channel, m.intent) == alert.scope_value for m in behind)
        if behind and inside * 2 >= len(behind):
            return alert
    return None


def _recipients(rule: AlertRule, kind: str, team: Recipients) -> List[str]:
    """The rule's recipients, then the team's, each once."""
    return list(dict.fromkeys([*((rule.recipients or {}).get(kind) or []), *(team.get(kind) or [])]))
