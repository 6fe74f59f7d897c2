"""Coverline's settings: one typed object read from the environment, with one failure rule.

Every process (the Rasa server and its plug-ins, the action server, the inbox, the runner, the retrieval
command) reads its configuration here and nowhere else. A value that cannot be used is a SettingsError
naming the variable and what it expects, raised at start-up (`load_at_startup` turns it into a message
and exit code 2); secrets have no default outside dev. This package imports nothing from the project:
it is the lowest layer. docs/settings.md lists every variable.
"""

from settings.errors import SettingsError
from settings.load import current, exit_with, load, load_at_startup
from settings.model import (
    DEV,
    ActionServerSettings,
    AlertSettings,
    AnalyticsSettings,
    ChannelSettings,
    DatabaseSettings,
    HandoffSettings,
    InboxServerSettings,
    InboxSettings,
    LearningSettings,
    RasaSettings,
    RecommendationSettings,
    RetrievalSettings,
    Settings,
    VerificationSettings,
    WebChatSettings,
)
from settings.paths import DEFAULT_INDEX_DIR, DEMO_AGENTS_FILE, PROJECT_ROOT, VAR_DIR, default_database_url
from settings.secrets import Secret, dev_secret

__all__ = [
    "DEFAULT_INDEX_DIR",
    "DEMO_AGENTS_FILE",
    "DEV",
    "PROJECT_ROOT",
    "VAR_DIR",
    "ActionServerSettings",
    "AlertSettings",
    "AnalyticsSettings",
    "ChannelSettings",
    "DatabaseSettings",
    "HandoffSettings",
    "InboxServerSettings",
    "InboxSettings",
    "LearningSettings",
    "RasaSettings",
    "RecommendationSettings",
    "RetrievalSettings",
    "Secret",
    "Settings",
    "SettingsError",
    "VerificationSettings",
    "WebChatSettings",
    "current",
    "default_database_url",
    "dev_secret",
    "exit_with",
    "load",
    "load_at_startup",
]
