"""Finding 1 of the security review: the action server ran any action for anyone who reached its port.

The real action server (`python -m actions.server`, what the runner starts) on a fresh database, called
the way the attacker did: a crafted tracker naming `action_submit_claim` with someone else's policy and a
date in the future, and the account actions with a made-up Telegram sender.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest
import requests
from sqlalchemy import func, select

from storage.engine import session_scope
from storage.models import ChangeRequest, Claim, Escalation, Policy
from storage.verification import POLICY_DOB, record_verification
from tests.support.databases import migrated_sqlite
from tests.support.network import free_port
from tests.support.paths import PROJECT_ROOT

TOKEN = "s3cret-shared-between-rasa-and-actions"


class ActionServer:
    def __init__(self, url: str, db_url: str) -> None:
        self.url = url
        self.db_url = db_url

    def call(self, body: Dict[str, Any], token: Optional[str] = TOKEN) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return requests.post(f"{self.url}/webhook", json=body, headers=headers, timeout=60)

    def count(self, model: Any) -> int:
        with session_scope(self.db_url) as session:
            return session.scalar(select(func.count()).select_from(model))


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"action server exited with {process.returncode}: {process.stdout.read()}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError("action server did not start")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    db_url = migrated_sqlite(tmp_path_factory.mktemp("actions-db") / "coverline.db")
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db_url, ACTION_SERVER_TOKEN=TOKEN, PYTHONPATH=str(PROJECT_ROOT))
    env.pop("ACTIONS_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url, process)
        yield ActionServer(url, db_url)
    finally:
        process.terminate()
        process.wait(timeout=30)


def crafted_call(action: str, sender: str, slots: Dict[str, Any], text: str = "") -> Dict[str, Any]:
    """What the attacker posted: a tracker of their own making, in rasa-sdk's request format."""
    return {
        "next_action": action,
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": text, "intent": {"name": "inform", "confidence": 1.0}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
            "latest_input_channel": "telegram",
        },
        "domain": {},
        "version": "3.6.21",
    }


FORGED_CLAIM = crafted_call(
    "action_submit_claim",
    "telegram:777001",
    {
        "policy_number": "PX-88123",
        "incident_type": "collision",
        "incident_date": "2099-01-01",
        "incident_description": "someone else's car, someone else's policy",
    },
)


@pytest.mark.parametrize(
    "call",
    [
        FORGED_CLAIM,
        crafted_call("action_check_balance", "telegram:777001", {"policy_number": "PX-77310"}),
        crafted_call("action_escalate", "telegram:777001", {}, "I am furious"),
        crafted_call(
            "action_submit_info_update",
            "telegram:777001",
            {"policy_number": "PX-88123", "info_field": "address", "new_value": "1 Attacker Way"},
        ),
    ],
    ids=["claim", "balance", "escalation", "address-change"],
)
@pytest.mark.parametrize("token", [None, "", "wrong-token-of-the-right-length", TOKEN + "x"])
def test_a_call_without_the_shared_secret_is_refused_and_changes_nothing(
    action_server: ActionServer, call: Dict[str, Any], token: Optional[str]
) -> None:
    before = [action_server.count(model) for model in (Claim, ChangeRequest, Escalation)]
    response = action_server.call(call, token=token)
    assert response.status_code in (401, 403)
    assert "PX-" not in response.text and "$" not in response.text  # no balance, no policy echoed
    assert [action_server.count(model) for model in (Claim, ChangeRequest, Escalation)] == before


def test_health_stays_open_for_the_runner(action_server: ActionServer) -> None:
    assert requests.get(f"{action_server.url}/health", timeout=5).status_code == 200


def test_the_actions_list_needs_the_secret_too(action_server: ActionServer) -> None:
    assert requests.get(f"{action_server.url}/actions", timeout=5).status_code == 401


def test_the_submit_action_refuses_a_future_incident_date_even_with_the_secret(action_server: ActionServer) -> None:
    """The form refuses a future date; a call that skips the form must not get past the action either."""
    before = action_server.count(Claim)
    response = action_server.call(FORGED_CLAIM)
    assert response.status_code == 200
    said = " ".join(r.get("text") or "" for r in response.json()["responses"])
    assert "couldn't file that claim" in said and "in the future" in said
    assert action_server.count(Claim) == before


def test_a_valid_claim_through_the_door_is_filed(action_server: ActionServer) -> None:
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with session_scope(action_server.db_url) as session:  # a claim is filed only for its verified holder
        holder = session.scalar(select(Policy.customer_id).where(Policy.number == "PX-88123"))
        record_verification(session, "whatsapp:15550001111", holder, POLICY_DOB, "PX-88123")
    call = crafted_call(
        "action_submit_claim",
        "whatsapp:15550001111",
        {
            "policy_number": "PX-88123",
            "incident_type": "collision",
            "incident_date": yesterday,
            "incident_description": "reversed into a post at the supermarket",
        },
    )
    before = action_server.count(Claim)
    response = action_server.call(call)
    assert response.status_code == 200
    assert "Your claim number is CL-" in response.text
    assert action_server.count(Claim) == before + 1


def _outward_address() -> Optional[str]:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: UDP connect only picks a route
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_it_listens_on_loopback_only_by_default(action_server: ActionServer) -> None:
    address = _outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    port = int(action_server.url.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=2).close()


def test_it_will_not_start_without_a_secret(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), ACTION_SERVER_TOKEN="short")
    result = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(free_port())],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "ACTION_SERVER_TOKEN must be set" in result.stderr
