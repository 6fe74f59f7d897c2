"""The tracking settings: a secret generated in dev and never defaulted elsewhere, links pointing at the page
server as customers reach it, and the page server refusing to start without the secret outside dev."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from recommendations.tracking import read_link, tracked_url, tracking_secret
from settings import PROJECT_ROOT, SettingsError, load

STRONG = "a-tracking-secret-of-forty-characters-xx"


def test_in_dev_the_secret_is_generated_once_and_shared_through_var(tmp_path: Path) -> None:
    first = tracking_secret(load({}, var_dir=tmp_path))

    assert len(first) >= 32 and (tmp_path / "tracking_secret").read_bytes() == first
    assert tracking_secret(load({}, var_dir=tmp_path)) == first  # the page server reads the same one


def test_outside_dev_the_secret_must_be_set_and_long_enough(tmp_path: Path) -> None:
    production = {"COVERLINE_ENV": "production"}
    with pytest.raises(SettingsError, match="COVERLINE_TRACKING_SECRET is not set; outside dev"):
        tracking_secret(load(production, var_dir=tmp_path))
    with pytest.raises(SettingsError, match="COVERLINE_TRACKING_SECRET must be at least 32 characters"):
        load({**production, "COVERLINE_TRACKING_SECRET": "short"}, var_dir=tmp_path)
    assert (
        tracking_secret(load({**production, "COVERLINE_TRACKING_SECRET": STRONG}, var_dir=tmp_path)) == STRONG.encode()
    )


def test_links_point_at_the_page_server_and_last_the_configured_days(tmp_path: Path) -> None:
    assert load({"WEBCHAT_PORT": "8181"}, var_dir=tmp_path).recommendations.public_url == "http://127.0.0.1:8181"
    settings = load(
        {
            "WEBCHAT_PUBLIC_URL": "https://chat.harbor-mutual.example/",
            "COVERLINE_TRACKING_SECRET": STRONG,
            "COVERLINE_TRACKING_LINK_DAYS": "2",
        },
        var_dir=tmp_path,
    )
    url = tracked_url(41, 7, settings, now=1_000_000)

    assert url.startswith("https://chat.harbor-mutual.example/r/")
    claim = read_link(STRONG.encode(), url.rsplit("/", 1)[-1], now=1_000_000)
    assert (claim.impression_id, claim.item_id, claim.expires_at) == (41, 7, 1_000_000 + 2 * 86400)
    with pytest.raises(SettingsError, match="WEBCHAT_PUBLIC_URL"):
        load({"WEBCHAT_PUBLIC_URL": "chat.example"}, var_dir=tmp_path)
    with pytest.raises(SettingsError, match="COVERLINE_TRACKING_LINK_DAYS"):
        load({"COVERLINE_TRACKING_LINK_DAYS": "0"}, var_dir=tmp_path)


def test_the_page_server_stops_at_start_up_without_the_secret_outside_dev() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("COVERLINE_", "INBOX_ENV"))}
    env["COVERLINE_ENV"] = "production"
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "webchat" / "serve.py"), "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2
    assert "webchat: configuration error: COVERLINE_TRACKING_SECRET is not set" in done.stderr
    assert "Traceback" not in done.stderr
