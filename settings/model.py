"""The settings every process reads, one frozen section per concern (docs/settings.md lists each variable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from settings.paths import DEFAULT_INDEX_DIR
from settings.secrets import Secret
from settings.service_hours import DEFAULT_SERVICE_HOURS, ServiceHours, service_hours

DEV = "dev"
DEFAULT_SLA_MINUTES = {1: 5, 2: 15, 3: 60}
RETRIEVAL_BACKENDS = ("numpy", "faiss", "pgvector")  # retrieval/backends BACKENDS (a test keeps them equal)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str  # DATABASE_URL: our tables and Rasa's tracker store


@dataclass(frozen=True)
class RasaSettings:
    url: str  # RASA_URL: where the inbox reaches Rasa's HTTP API
    public_url: str  # RASA_PUBLIC_URL: what customers' browsers reach (the web chat socket)
    host: str
    port: int
    # RASA_API_TOKEN. The Rasa process itself uses only `configured` (bot/server.py, the REST channel, the
    # media route): the runner hands it the token, and a Rasa API without one would be open.
    api_token: Secret
    rest_channel_token: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class ActionServerSettings:
    host: str
    port: int
    token: Secret  # ACTION_SERVER_TOKEN: the action server needs it configured (the runner generates it)
    # ACTIONS_NATIVE_THREADS: threads per native pool (BLAS, OpenMP) in the action server (actions/server.py
    # `limit_native_threads`); 1, because idle pool workers spin and doubled the CPU of a recommendation
    native_threads: int = 1


@dataclass(frozen=True)
class WebChatSettings:
    host: str
    port: int
    # CORS_ORIGINS: None when unset (bot/server.py then allows the web chat page's own origins); an empty
    # tuple when set blank, which lets no other origin open the socket
    cors_origins: Optional[Tuple[str, ...]]
    session_secret: Secret


@dataclass(frozen=True)
class ChannelSettings:
    media_max_bytes: int
    redelivery_interval_seconds: float
    redelivery_after_seconds: float
    delivery_retention: timedelta


@dataclass(frozen=True)
class HandoffSettings:
    negative_threshold: float  # math.inf when 'off'
    conversation_floor: float  # math.inf when 'off'
    sla_minutes: Dict[int, int]  # INBOX_SLA_MINUTES: the inbox's SLA is the wait the bot promises


@dataclass(frozen=True)
class VerificationSettings:
    ttl: timedelta
    customer_token_secret: Optional[bytes] = field(default=None, repr=False)  # None: web tokens are off


@dataclass(frozen=True)
class RetrievalSettings:
    backend: str = "numpy"
    index_dir: Path = DEFAULT_INDEX_DIR
    faiss_factory: str = "HNSW32"
    faiss_ef_search: int = 128
    pgvector_url: str = ""
    pgvector_table: str = "reply_vectors"
    pgvector_ef_search: int = 100
    # RETRIEVAL_REFRESH_SECONDS: how often an answerer looks for approved, edited or retired past replies
    refresh_seconds: float = 10.0

    @property
    def options(self) -> Dict[str, Any]:
        """The per-backend options as retrieval/backends read them."""
        return {
            "faiss_factory": self.faiss_factory,
            "faiss_ef_search": self.faiss_ef_search,
            "pgvector_url": self.pgvector_url,
            "pgvector_table": self.pgvector_table,
            "pgvector_ef_search": self.pgvector_ef_search,
        }


@dataclass(frozen=True)
class LearningSettings:
    """The learning loop (issue 15, learning/)."""

    # COVERLINE_REVIEW_CONFIDENCE_FLOOR: a customer message the model labelled with less confidence than
    # this enters the review queue; 0 turns the reason off
    review_confidence_floor: float = 0.6


@dataclass(frozen=True)
class AlertSettings:
    """The spike-alert monitor (issue 17, alerts/; docs/alerts.md). Read by `python -m alerts` and the runner."""

    enabled: bool = True  # COVERLINE_ALERTS_ENABLED: whether `make run` starts the monitor
    interval_seconds: float = 60.0  # COVERLINE_ALERTS_INTERVAL_SECONDS: how often `python -m alerts run` looks
    # team-wide recipients of every alert, besides each rule's own (COVERLINE_ALERTS_WEBHOOK_URLS, _EMAILS); a
    # Slack webhook URL holds its token, so it is kept out of repr
    webhook_urls: Tuple[str, ...] = field(default=(), repr=False)
    emails: Tuple[str, ...] = ()
    smtp_host: Optional[str] = None  # COVERLINE_ALERTS_SMTP_HOST: none, no email is sent (deliveries wait)
    smtp_port: int = 25
    smtp_from: str = "coverline-alerts@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_user: Optional[str] = None
    # COVERLINE_ALERTS_SMTP_PASSWORD: never generated (the SMTP server would not know it), needed with a user
    smtp_password: Optional[Secret] = None


@dataclass(frozen=True)
class AnalyticsSettings:
    """Service analytics (issue 17, analytics/ and the inbox's analytics page)."""

    # ANALYTICS_TIMEZONE: the insurer's IANA zone; charts' hours, days and weeks are its local ones
    timezone: str = "UTC"
    # SERVICE_HOURS: when the team works; durations "in business hours" count only these
    service_hours: ServiceHours = field(default_factory=lambda: service_hours(DEFAULT_SERVICE_HOURS))


def _unset_tracking_secret() -> Secret:
    return Secret("COVERLINE_TRACKING_SECRET", None, None, "a random string of at least 32 characters")


@dataclass(frozen=True)
class RecommendationSettings:
    """Serving recommendations (issue 16, recommendations/tracking.py): where tracked links and content images
    point, and how links are signed. Read by the action server (which signs) and the web chat page server
    (which checks and redirects), so both need the same secret."""

    # WEBCHAT_PUBLIC_URL: the web chat page server as customers reach it; /r/<token> and /content/ live there
    public_url: str = "http://127.0.0.1:8080"
    # COVERLINE_TRACKING_SECRET: signs tracked links; dev generates one, elsewhere it has no default
    tracking_secret: Secret = field(default_factory=_unset_tracking_secret)
    link_days: float = 30.0  # COVERLINE_TRACKING_LINK_DAYS: how long a tracked link opens


@dataclass(frozen=True)
class InboxServerSettings:
    """The inbox process: where it listens and what it reads before building the app."""

    host: str
    port: int
    log_level: str
    forwarded_allow_ips: str  # the reverse proxy whose X-Forwarded-For is trusted; "" for none
    cookie_secure: bool
    session_hours: float
    login_max_failures: int
    login_window_minutes: int
    secret_key: Secret


@dataclass(frozen=True)
class InboxSettings:
    """What the inbox app is built with (inbox.main.create_app): secrets resolved, so a test can build one."""

    secret_key: str
    database_url: str
    rasa_url: str
    rasa_api_token: str
    env: str = DEV
    cookie_secure: bool = False
    session_hours: float = 12.0
    sla_minutes: Dict[int, int] = field(default_factory=lambda: dict(DEFAULT_SLA_MINUTES))
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_max_failures_per_ip: int = 50
    rasa_timeout_seconds: float = 10.0
    sse_poll_seconds: float = 1.0
    sse_max_seconds: float = 300.0
    review_confidence_floor: float = 0.6  # COVERLINE_REVIEW_CONFIDENCE_FLOOR (the review queue)
    analytics_timezone: str = "UTC"  # ANALYTICS_TIMEZONE (the analytics page and API)
    service_hours: ServiceHours = field(default_factory=lambda: service_hours(DEFAULT_SERVICE_HOURS))  # SERVICE_HOURS
    # WEBCHAT_PUBLIC_URL: where content images and tracked links point, so the content page previews them as sent
    content_public_url: str = "http://127.0.0.1:8080"

    @property
    def is_dev(self) -> bool:
        return self.env == DEV

    def sla_for(self, priority: int) -> int:
        """Minutes to a first agent reply for an escalation of this priority (the lowest band if unknown)."""
        return self.sla_minutes.get(priority, max(self.sla_minutes.values()))


@dataclass(frozen=True)
class Settings:
    env: str  # COVERLINE_ENV (or its old name INBOX_ENV): "dev", or anything else for a deployment
    database: DatabaseSettings
    rasa: RasaSettings
    actions: ActionServerSettings
    webchat: WebChatSettings
    inbox: InboxServerSettings
    channels: ChannelSettings
    handoff: HandoffSettings
    verification: VerificationSettings
    retrieval: RetrievalSettings
    learning: LearningSettings = field(default_factory=LearningSettings)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    recommendations: RecommendationSettings = field(default_factory=RecommendationSettings)

    @property
    def is_dev(self) -> bool:
        return self.env == DEV

    def for_inbox(self) -> InboxSettings:
        """The inbox app's settings; raises SettingsError outside dev when its secrets are not set."""
        return InboxSettings(
            secret_key=self.inbox.secret_key.value(),
            database_url=self.database.url,
            rasa_url=self.rasa.url,
            rasa_api_token=self.rasa.api_token.value(),
            env=self.env,
            cookie_secure=self.inbox.cookie_secure,
            session_hours=self.inbox.session_hours,
            sla_minutes=dict(self.handoff.sla_minutes),
            login_max_failures=self.inbox.login_max_failures,
            login_window_minutes=self.inbox.login_window_minutes,
            review_confidence_floor=self.learning.review_confidence_floor,
            analytics_timezone=self.analytics.timezone,
            service_hours=self.analytics.service_hours,
            content_public_url=self.recommendations.public_url,
        )
