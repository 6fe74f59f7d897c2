"""The Models page in Debian's Chromium (Playwright, headless), with a learning worker running beside the real
inbox (training and measuring stood in for, Rasa's PUT /model recorded): an admin presses "Retrain now", watches
the job's progress lines arrive, sees the promoted candidate with its gate numbers in the registry, then restores
the shipped model with "Restore" (after a confirm) and Rasa is asked to load it; with the worker stopped, a queued
job is cancelled from the page. An agent has no Models link.
Screenshot: tests/artifacts/inbox/models.png. Skipped where Chromium or Playwright is missing."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support.inbox import PASSWORDS
from tests.support.learning_jobs import RasaModelApi, StandIns, annotate_messages, worker_for

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "inbox"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture
def rasa() -> RasaModelApi:
    return RasaModelApi()


@dataclass
class RunningWorker:
    stand_ins: StandIns
    stop: threading.Event
    thread: threading.Thread

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture
def worker(db_url: str, agents, tmp_path: Path, rasa: RasaModelApi) -> Iterator[RunningWorker]:  # type: ignore[no-untyped-def]
    """`python -m learning worker`'s loop, in a thread, polling every 0.2 s."""
    annotate_messages(db_url)
    stand_ins = StandIns(tmp_path)
    stop = threading.Event()
    thread = threading.Thread(target=worker_for(db_url, stand_ins, rasa).serve, args=(stop, 0.2), daemon=True)
    thread.start()
    running = RunningWorker(stand_ins, stop, thread)
    yield running
    running.halt()


def log_in(page: Any, url: str, email: str, password: str) -> None:
    page.goto(url + "/login?next=/admin/models")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_an_admin_retrains_and_restores_from_the_models_page(  # type: ignore[no-untyped-def]
    server_url: str, worker: RunningWorker, rasa: RasaModelApi
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        log_in(page, server_url, "admin@harbor.example", PASSWORDS["admin"])
        page.wait_for_selector("#job-empty:not([hidden])")
        assert page.locator("nav a[href='/admin/models']").inner_text() == "Models"

        page.click("#retrain-now")
        page.wait_for_selector("#job-title:has-text('succeeded')", timeout=30000)
        progress = page.locator("#job-progress").inner_text()
        for step in ("started by the worker", "annotations to train on", "training the candidate", "promoted"):
            assert step in progress
        assert "promoted" in page.locator("#job-result").inner_text()
        page.wait_for_selector("#models tr:nth-child(2)")
        rows = page.locator("#models tr")
        assert rows.count() == 2
        promoted = rows.nth(0)
        assert "active" in promoted.inner_text() and "85.0 (+55.0)" in promoted.inner_text()
        assert promoted.locator("button.restore").count() == 0
        shipped = rows.nth(1).get_attribute("data-version")
        assert "retired" in rows.nth(1).inner_text()
        page.screenshot(path=str(ARTIFACTS / "models.png"), full_page=True)

        dialogs: list = []
        page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
        rows.nth(1).locator("button.restore").click()
        page.wait_for_selector(f"#job-title:has-text('Restore {shipped}')", timeout=10000)
        page.wait_for_selector("#job-title:has-text('succeeded')", timeout=30000)
        assert dialogs and shipped in dialogs[0] and "without a restart" in dialogs[0]
        assert rasa.loaded[-1].endswith(f"{shipped}.tar.gz")
        page.wait_for_selector(f"#models tr.active[data-version='{shipped}']", timeout=20000)
        assert page.locator("#jobs tr").count() == 2

        worker.halt()  # no worker: a queued job waits, and can be cancelled
        page.click("#retrain-now")
        page.click("#cancel-job", timeout=10000)
        page.wait_for_selector("#job-title:has-text('failed')", timeout=10000)
        assert "cancelled before a worker took it" in page.locator("#job-result").inner_text()
        assert page.is_enabled("#retrain-now")

        agent_page = browser.new_page()
        log_in(agent_page, server_url, "agent@harbor.example", PASSWORDS["agent"])
        agent_page.wait_for_load_state()
        assert agent_page.locator("nav a[href='/admin/models']").count() == 0
        assert "Only admins" in agent_page.content()
        browser.close()
    assert errors == []
