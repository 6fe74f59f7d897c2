"""Building the settings from the environment, with one failure rule: a bad value is a SettingsError.

Every variable's name and default is here and in docs/settings.md (a test keeps the two in step). Defaults
are what the code read before this package existed, so deployments keep working; what changed is that a
value that cannot be used stops the process at start-up, naming the variable and what it expects.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NoReturn, Optional, Tuple

from settings import alerts as alert_values
from settings import values
from settings.errors import SettingsError
from settings.model import (
    DEFAULT_SLA_MINUTES,
    DEV,
    RETRIEVAL_BACKENDS,
    ActionServerSettings,
    AlertSettings,
    AnalyticsSettings,
    ChannelSettings,
    DatabaseSettings,
    HandoffSettings,
    InboxServerSettings,
    LearningSettings,
    RasaSettings,
    RecommendationSettings,
    RetrievalSettings,
    Settings,
    VerificationSettings,
    WebChatSettings,
)
from settings.paths import DEFAULT_INDEX_DIR, VAR_DIR, default_database_url
from settings.secrets import Secret
from settings.service_hours import DEFAULT_SERVICE_HOURS, service_hours
from settings.values import Reader

LOOPBACK = "127.0.0.1"
# Values people paste from tutorials; a key equal to one of these is as good as none.
KNOWN_DEFAULT_SECRETS = frozenset({"changethis", "change-me", "changeme", "secret", "dev", "development", "insecure"})
MIN_INBOX_SECRET_CHARS = 32
MIN_WEBCHAT_SECRET_CHARS = 32
MIN_TRACKING_SECRET_CHARS = 32
MIN_ACTION_SERVER_TOKEN_CHARS = 16
MIN_CUSTOMER_TOKEN_SECRET_BYTES = 32
MAX_VERIFICATION_TTL_HOURS = 24 * 7
UVICORN_LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"

_cached: Optional[Tuple[Dict[Any, Any], Settings]] = None
_cache_lock = threading.Lock()


def load(environ: Optional[Mapping[str, str]] = None, *, var_dir: Path = VAR_DIR) -> Settings:
    """Every setting from `environ` (default: the process's environment); SettingsError listing every
    unusable value. `var_dir` holds the dev secrets and the dev SQLite database."""
    return _read(Reader(os.environ if environ is None else environ), var_dir)


def current() -> Settings:
    """The process's settings, parsed once per environment. A process's environment does not change, so
    in a server this parses once; comparing a snapshot of the environment keeps it right where it is
    changed in process (bot/server.py exports CORS_ORIGINS before Rasa loads the channels; tests)."""
    global _cached
    snapshot = _environment_snapshot()
    with _cache_lock:
        if _cached is None or _cached[0] != snapshot:
            _cached = (snapshot, load())
        return _cached[1]


def load_at_startup(program: str) -> Settings:
    """The settings for a process's entry point: a bad value prints `<program>: <what is wrong>` on
    stderr and exits with code 2, without a traceback."""
    try:
        return current()
    except SettingsError as error:
        exit_with(program, error)


def exit_with(program: str, error: SettingsError) -> NoReturn:
    print(f"{program}: configuration error: {error}", file=sys.stderr)
    raise SystemExit(2)


def _environment_snapshot() -> Dict[Any, Any]:
    """A copy of the environment to compare. CPython keeps it as a dict of bytes behind os.environ
    (`_data`); copying that takes about a microsecond, against some 30 for decoding every variable, and
    current() runs on every unit of database work (storage.settings.database_url)."""
    data = getattr(os.environ, "_data", None)
    return dict(data) if isinstance(data, dict) else dict(os.environ)


def _read(reader: Reader, var_dir: Path) -> Settings:
    env = _environment(reader)
    dev_dir = var_dir if env == DEV else None  # where dev's generated secrets live; no default elsewhere
    database = DatabaseSettings(reader.value("DATABASE_URL", default_database_url(var_dir), values.database_url))
    webchat = _webchat(reader, dev_dir)
    settings = Settings(
        env=env,
        database=database,
        rasa=_rasa(reader, dev_dir),
        actions=_action_server(reader, dev_dir),
        webchat=webchat,
        inbox=_inbox(reader, env, dev_dir),
        channels=_channels(reader),
        handoff=_handoff(reader),
        verification=_verification(reader),
        retrieval=_retrieval(reader, database.url),
        learning=_learning(reader),
        analytics=_analytics(reader),
        alerts=_alerts(reader, env),
        recommendations=_recommendations(reader, dev_dir, webchat.port),
    )
    if reader.problems:
        raise SettingsError(_report(reader.problems))
    return settings


def _rasa(reader: Reader, dev_dir: Optional[Path]) -> RasaSettings:
    url = reader.value("RASA_URL", "http://127.0.0.1:5005", values.http_url)
    return RasaSettings(
        url=url,
        public_url=reader.value("RASA_PUBLIC_URL", reader.raw("RASA_URL") or url, values.socket_url),
        host=reader.text("RASA_HOST", LOOPBACK),
        port=reader.value("RASA_PORT", 5005, values.port),
        api_token=_secret(reader, "RASA_API_TOKEN", dev_dir, "rasa_api_token", "the Rasa HTTP API's token"),
        rest_channel_token=reader.raw("REST_CHANNEL_TOKEN"),
    )


def _action_server(reader: Reader, dev_dir: Optional[Path]) -> ActionServerSettings:
    return ActionServerSettings(
        host=reader.text("ACTIONS_HOST", LOOPBACK),
        port=reader.value("ACTIONS_PORT", 5055, values.port),
        token=_secret(
            reader,
            "ACTION_SERVER_TOKEN",
            dev_dir,
            "action_server_token",
            f"a shared secret of at least {MIN_ACTION_SERVER_TOKEN_CHARS} characters",
            check=_action_server_token_problem,
        ),
        native_threads=reader.value("ACTIONS_NATIVE_THREADS", 1, values.whole_number(1)),
    )


def _webchat(reader: Reader, dev_dir: Optional[Path]) -> WebChatSettings:
    return WebChatSettings(
        host=reader.text("WEBCHAT_HOST", LOOPBACK),
        port=reader.value("WEBCHAT_PORT", 8080, values.port),
        cors_origins=_cors_origins(reader),
        session_secret=_secret(
            reader,
            "WEBCHAT_SESSION_SECRET",
            dev_dir,
            "webchat_session_secret",
            f"a random string of at least {MIN_WEBCHAT_SECRET_CHARS} characters shared by every Rasa replica",
            check=_at_least(MIN_WEBCHAT_SECRET_CHARS, "(every Rasa replica must share it) "),
            generated_bytes=48,
            exact=True,
        ),
    )


def _channels(reader: Reader) -> ChannelSettings:
    return ChannelSettings(
        media_max_bytes=reader.value("COVERLINE_MEDIA_MAX_BYTES", 100 * 1024 * 1024, values.whole_number(1)),
        redelivery_interval_seconds=reader.value(
            "COVERLINE_REDELIVERY_INTERVAL_SECONDS", 30.0, values.positive_number()
        ),
        redelivery_after_seconds=reader.value("COVERLINE_REDELIVERY_AFTER_SECONDS", 360.0, values.positive_number()),
        delivery_retention=timedelta(
            days=reader.value("COVERLINE_DELIVERY_RETENTION_DAYS", 8.0, values.positive_number())
        ),
    )


def _handoff(reader: Reader) -> HandoffSettings:
    """The action server's handoff triggers (docs/handoff.md) and the inbox's SLA, which is also the wait
    the bot promises: one parser for both, where the two processes used to read INBOX_SLA_MINUTES apart."""
    return HandoffSettings(
        negative_threshold=reader.value("COVERLINE_HANDOFF_NEGATIVE_THRESHOLD", 0.75, values.probability_or_off),
        conversation_floor=reader.value("COVERLINE_HANDOFF_CONVERSATION_FLOOR", 0.7, values.probability_or_off),
        sla_minutes=reader.value("INBOX_SLA_MINUTES", dict(DEFAULT_SLA_MINUTES), values.sla_minutes),
    )


def _verification(reader: Reader) -> VerificationSettings:
    hours = reader.value("COVERLINE_VERIFICATION_TTL_HOURS", 24.0, values.positive_number(MAX_VERIFICATION_TTL_HOURS))
    return VerificationSettings(ttl=timedelta(hours=hours), customer_token_secret=_customer_token_secret(reader))


def _retrieval(reader: Reader, database_url: str) -> RetrievalSettings:
    return RetrievalSettings(
        backend=reader.value("RETRIEVAL_BACKEND", "numpy", values.choice(RETRIEVAL_BACKENDS)),
        index_dir=Path(reader.raw("RETRIEVAL_INDEX_DIR") or DEFAULT_INDEX_DIR),
        faiss_factory=reader.text("RETRIEVAL_FAISS_FACTORY", "HNSW32"),
        faiss_ef_search=reader.value("RETRIEVAL_FAISS_EF_SEARCH", 128, values.whole_number(1)),
        pgvector_url=reader.value("RETRIEVAL_PGVECTOR_URL", database_url, values.database_url),
        pgvector_table=reader.value("RETRIEVAL_PGVECTOR_TABLE", "reply_vectors", values.pgvector_table),
        pgvector_ef_search=reader.value("RETRIEVAL_PGVECTOR_EF_SEARCH", 100, values.whole_number(1)),
        refresh_seconds=reader.value("RETRIEVAL_REFRESH_SECONDS", 10.0, values.positive_number(3600)),
    )


def _learning(reader: Reader) -> LearningSettings:
    return LearningSettings(
        review_confidence_floor=reader.value("COVERLINE_REVIEW_CONFIDENCE_FLOOR", 0.6, values.probability),
    )


def _analytics(reader: Reader) -> AnalyticsSettings:
    return AnalyticsSettings(
        timezone=reader.value("ANALYTICS_TIMEZONE", "UTC", values.time_zone),
        service_hours=reader.value("SERVICE_HOURS", service_hours(DEFAULT_SERVICE_HOURS), service_hours),
    )


def _recommendations(reader: Reader, dev_dir: Optional[Path], page_port: int) -> RecommendationSettings:
    """Tracked links are signed by the action server and checked by the web chat page server: both read the
    same secret, and the links point at the page server as customers reach it."""
    return RecommendationSettings(
        public_url=reader.value("WEBCHAT_PUBLIC_URL", f"http://127.0.0.1:{page_port}", values.http_url),
        tracking_secret=_secret(
            reader,
            "COVERLINE_TRACKING_SECRET",
            dev_dir,
            "tracking_secret",
            f"a random string of at least {MIN_TRACKING_SECRET_CHARS} characters shared by the action server "
            "and the web chat page server",
            check=_at_least(MIN_TRACKING_SECRET_CHARS, "(the action server and the web chat page server share it) "),
            exact=True,
        ),
        link_days=reader.value("COVERLINE_TRACKING_LINK_DAYS", 30.0, values.positive_number(365)),
    )


def _alerts(reader: Reader, env: str) -> AlertSettings:
    host = reader.value("COVERLINE_ALERTS_SMTP_HOST", None, alert_values.host_name)
    starttls = reader.value("COVERLINE_ALERTS_SMTP_STARTTLS", False, values.flag)
    ssl = reader.value("COVERLINE_ALERTS_SMTP_SSL", False, values.flag)
    user = reader.raw("COVERLINE_ALERTS_SMTP_USER")
    if starttls and ssl:
        reader.problem(
            "COVERLINE_ALERTS_SMTP_STARTTLS and COVERLINE_ALERTS_SMTP_SSL are both on: use STARTTLS (port 587) "
            "or SSL (port 465), not both"
        )
    _refuse_password_in_clear(reader, env, host, user, starttls or ssl)
    return AlertSettings(
        enabled=reader.value("COVERLINE_ALERTS_ENABLED", True, values.flag),
        interval_seconds=reader.value("COVERLINE_ALERTS_INTERVAL_SECONDS", 60.0, values.positive_number(3600)),
        webhook_urls=reader.value("COVERLINE_ALERTS_WEBHOOK_URLS", (), alert_values.webhook_urls),
        emails=reader.value("COVERLINE_ALERTS_EMAILS", (), alert_values.email_addresses),
        smtp_host=host,
        smtp_port=reader.value("COVERLINE_ALERTS_SMTP_PORT", 465 if ssl else 25, values.port),
        smtp_from=reader.value("COVERLINE_ALERTS_SMTP_FROM", "coverline-alerts@localhost", alert_values.email_address),
        smtp_starttls=starttls,
        smtp_ssl=ssl,
        smtp_user=user,
        smtp_password=_smtp_password(reader, user),
    )


def _smtp_password(reader: Reader, user: Optional[str]) -> Optional[Secret]:
    """Only with a user; never generated, in dev either: a made-up password cannot log in anywhere. Resolved
    by the monitor at its start-up (`Secret.value()`), so a user without a password stops it there, named."""
    if user is None:
        return None
    configured = reader.exact("COVERLINE_ALERTS_SMTP_PASSWORD")
    return Secret(
        "COVERLINE_ALERTS_SMTP_PASSWORD",
        configured,
        None,
        f"the SMTP password of COVERLINE_ALERTS_SMTP_USER={user!r}",
    )


def _refuse_password_in_clear(reader: Reader, env: str, host: Optional[str], user: Optional[str], tls: bool) -> None:
    """Outside dev, an SMTP login to another machine must be encrypted: the password would cross the network."""
    if env == DEV or host is None or user is None or tls or host.lower() in alert_values.LOOPBACK_HOSTS:
        return
    reader.problem(
        f"COVERLINE_ALERTS_SMTP_USER is set for {host} without COVERLINE_ALERTS_SMTP_STARTTLS or "
        "COVERLINE_ALERTS_SMTP_SSL: the password would cross the network in clear (outside dev this is refused)"
    )


def _report(problems: List[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} settings are unusable:\n" + "\n".join(f"  - {problem}" for problem in problems)


def _environment(reader: Reader) -> str:
    """COVERLINE_ENV, or INBOX_ENV (its name when only the inbox told dev from production); "dev" if neither."""
    unified, old = reader.raw("COVERLINE_ENV"), reader.raw("INBOX_ENV")
    if unified and old and unified.lower() != old.lower():
        reader.problem(
            f"COVERLINE_ENV={unified!r} and INBOX_ENV={old!r} disagree: set COVERLINE_ENV only "
            "(INBOX_ENV is its old name)"
        )
    return (unified or old or DEV).lower()


def _secret(
    reader: Reader,
    variable: str,
    dev_dir: Optional[Path],
    file_name: str,
    expected: str,
    check: Optional[Callable[[str, str], Optional[str]]] = None,
    generated_bytes: int = 32,
    exact: bool = False,
) -> Secret:
    """A secret from the environment, checked without ever showing it in a message. Tokens lose surrounding
    whitespace (a pasted newline); an `exact` key is used byte for byte, as the servers that share it do."""
    configured = reader.exact(variable) if exact else reader.raw(variable)
    if configured is not None and check is not None:
        problem = check(variable, configured)
        if problem:
            reader.problem(problem)
            configured = None
    dev_file = dev_dir / file_name if dev_dir is not None else None
    return Secret(variable, configured, dev_file, expected, generated_bytes)


def _at_least(characters: int, why: str = "") -> Callable[[str, str], Optional[str]]:
    def check(variable: str, value: str) -> Optional[str]:
        if len(value) >= characters:
            return None
        return f"{variable} must be at least {characters} characters long {why}(it has {len(value)})"

    return check


def _action_server_token_problem(variable: str, value: str) -> Optional[str]:
    if len(value) >= MIN_ACTION_SERVER_TOKEN_CHARS:
        return None
    return (
        f"{variable} must be set to a shared secret of at least {MIN_ACTION_SERVER_TOKEN_CHARS} characters "
        f"(it has {len(value)}; the runner generates one in var/; in production set the same value in the "
        "Rasa server's and the action server's environment)"
    )


def _inbox_secret_problem(variable: str, value: str) -> Optional[str]:
    if value.lower() not in KNOWN_DEFAULT_SECRETS and len(value) >= MIN_INBOX_SECRET_CHARS:
        return None
    return (
        f"{variable} must be a random string of at least {MIN_INBOX_SECRET_CHARS} characters outside dev "
        f"(COVERLINE_ENV=dev); generate one with: {GENERATE}"
    )


def _inbox(reader: Reader, env: str, dev_dir: Optional[Path]) -> InboxServerSettings:
    return InboxServerSettings(
        host=reader.text("INBOX_HOST", LOOPBACK),
        port=reader.value("INBOX_PORT", 8090, values.port),
        log_level=reader.value("INBOX_LOG_LEVEL", "info", values.choice(UVICORN_LOG_LEVELS)),
        forwarded_allow_ips=reader.text("INBOX_FORWARDED_ALLOW_IPS", ""),
        cookie_secure=reader.value("INBOX_COOKIE_SECURE", env != DEV, values.flag),
        session_hours=reader.value("INBOX_SESSION_HOURS", 12.0, values.positive_number()),
        login_max_failures=reader.value("INBOX_LOGIN_MAX_FAILURES", 5, values.whole_number(1)),
        login_window_minutes=reader.value("INBOX_LOGIN_WINDOW_MINUTES", 15, values.whole_number(1)),
        secret_key=_secret(
            reader,
            "INBOX_SECRET_KEY",
            dev_dir,
            "inbox_secret_key",
            f"a random string of at least {MIN_INBOX_SECRET_CHARS} characters ({GENERATE})",
            # in dev any key will do (a developer may set a short one); elsewhere a weak key is refused
            check=None if env == DEV else _inbox_secret_problem,
            generated_bytes=48,
        ),
    )


def _cors_origins(reader: Reader) -> Optional[Tuple[str, ...]]:
    """CORS_ORIGINS: None when unset; set but blank is kept as "no other origin" (an empty tuple), which
    the web chat socket has always read it as, rather than as unset."""
    if reader.raw("CORS_ORIGINS") is None:
        return () if reader.is_set("CORS_ORIGINS") else None
    return reader.value("CORS_ORIGINS", (), values.origins)


def _customer_token_secret(reader: Reader) -> Optional[bytes]:
    """CUSTOMER_TOKEN_SECRET, shared with the insurer's page server; none means web tokens are off (never
    a generated default: a token only proves something if the page's server signed it)."""
    configured = reader.exact("CUSTOMER_TOKEN_SECRET")
    if configured is None:
        return None
    secret = configured.encode("utf-8")
    if len(secret) < MIN_CUSTOMER_TOKEN_SECRET_BYTES:
        reader.problem(
            f"CUSTOMER_TOKEN_SECRET must be at least {MIN_CUSTOMER_TOKEN_SECRET_BYTES} bytes (it has {len(secret)})"
        )
        return None
    return secret
