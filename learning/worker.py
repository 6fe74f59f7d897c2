"""The learning worker (`python -m learning worker`): runs the inbox's retrain and rollback jobs, and once a day
fits the content recommender on the day's opens and dismissals (recommendations/learned.py).

A process of its own (the runner starts it beside the inbox), so a job outlives an inbox restart and the
web process never trains. It runs exactly what `make retrain` and `make rollback` run
(`learning.retrain.retrain`, `learning.registry.rollback`), on behalf of the admin who asked, and writes
what happens into the job: progress lines as they come, a heartbeat every few seconds, then the gate's
report or the error. On start, and before each job, running jobs whose worker died are failed.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from sqlalchemy import func, select

from learning import jobs, registry
from learning.jobs import JobResult
from learning.registry import ModelLoader, RegistryError
from storage.engine import session_scope
from storage.models import RecommenderModel, RetrainJob, utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0
RECOMMENDER_REFIT = timedelta(hours=24)


@dataclass
class Worker:
    """One job at a time from the queue in `db_url`. `retrain_options` are passed to `retrain` as they are
    (tests give `train`, `measure` and paths; the shell gives nothing and gets `make retrain`'s defaults)."""

    db_url: str
    loader: ModelLoader
    retrain_options: Dict[str, Any] = field(default_factory=dict)
    name: str = field(default_factory=jobs.worker_name)
    heartbeat_seconds: float = jobs.HEARTBEAT_SECONDS
    _recommender_checked: Optional[datetime] = field(default=None, repr=False)

    def sweep(self) -> None:
        """Fail the running jobs whose worker is gone (ours from before a crash, or another's)."""
        with session_scope(self.db_url) as session:
            for job_id in jobs.fail_abandoned(session):
                log.warning("job %s was left running by a worker that stopped: marked failed", job_id)

    def run_once(self) -> Optional[int]:
        """Take the queued job, if any, run it to its end; its id, or None when nothing was queued."""
        self.sweep()
        with session_scope(self.db_url) as session:
            job = jobs.claim_next(session, self.name)
            if job is None:
                return None
            job_id, kind, target, asked_by = job.id, job.kind, job.target_version, job.requested_by_id
        reporter = Reporter(self.db_url, job_id, self.name, self.heartbeat_seconds)
        reporter.start()
        try:
            reporter.say(f"started by the worker {self.name}")
            outcome = self._run(reporter, kind, target, asked_by)
        finally:
            reporter.stop()
        with session_scope(self.db_url) as session:
            jobs.finish(session, job_id, outcome.status, outcome.result, outcome.model_version, worker=self.name)
        return job_id

    def serve(self, stop: threading.Event, poll_seconds: float = POLL_SECONDS) -> None:
        """Until `stop` is set: run what is queued, look again every `poll_seconds`."""
        self.sweep()
        while not stop.is_set():
            try:
                ran = self.run_once()
            except Exception:  # the database away for a moment must not end the worker
                log.exception("the learning worker could not read its queue; trying again")
                ran = None
            if ran is None:
                self._refit_recommender_safely()
                stop.wait(poll_seconds)

    def refit_recommender(self, now: Optional[datetime] = None) -> Optional[int]:
        """Fit the content ranker when the newest one is a day old (or there is none and a day passed since the
        last try); the new model's id, else None. Several workers may race: one more row, which is harmless."""
        from recommendations import learned  # the recommender's code only in a worker that gets to it

        now = now or utcnow()
        checked = self._recommender_checked
        if checked is not None and timedelta(0) <= now - checked < RECOMMENDER_REFIT:
            return None
        with session_scope(self.db_url) as session:
            newest = session.scalar(select(func.max(RecommenderModel.fitted_at)))
            if newest is not None and timedelta(0) <= now - newest < RECOMMENDER_REFIT:
                self._recommender_checked = newest
                return None
            self._recommender_checked = now
            model_id = learned.learn(session, now=now)
        log.info("content recommender: %s", f"model {model_id} fitted" if model_id else "too little feedback yet")
        return model_id

    def _refit_recommender_safely(self) -> None:
        try:
            self.refit_recommender()
        except Exception:  # the next try is a day later; retrain and rollback jobs go on meanwhile
            log.exception("the content recommender could not be fitted")

    def _run(self, reporter: "Reporter", kind: str, target: Optional[str], asked_by: Optional[int]) -> JobResult:
        try:
            if kind == "retrain":
                return self._retrain(reporter, asked_by)
            return self._rollback(reporter, target, asked_by)
        except RegistryError as error:
            reporter.say(f"stopped: {error}")
            return JobResult("failed", str(error))
        except Exception as error:  # a crash in training or measuring is the job's failure, not the worker's
            log.exception("job %s failed", reporter.job_id)
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            reporter.say(f"failed: {detail}")
            return JobResult("failed", f"{detail}\n\n{traceback.format_exc(limit=8)}")

    def _retrain(self, reporter: "Reporter", asked_by: Optional[int]) -> JobResult:
        from learning.retrain import retrain, train_candidate  # the training code only when a job needs it

        options = dict(self.retrain_options)
        if "train" not in options:  # `rasa train`'s own lines on the page, not only "training the candidate"
            options["train"] = functools.partial(train_candidate, output=reporter.say)
        with session_scope(self.db_url) as session:
            outcome = retrain(session, self.loader, agent_id=asked_by, progress=reporter.say, **options)
        verdict = "promoted: Rasa serves it now" if outcome.promoted else "refused by the gate: the active model stays"
        reporter.say(f"candidate {outcome.version} {verdict}")
        return JobResult("succeeded" if outcome.promoted else "refused", outcome.report(), outcome.version)

    def _rollback(self, reporter: "Reporter", target: Optional[str], asked_by: Optional[int]) -> JobResult:
        served = self.retrain_options.get("served", registry.SERVED_MODEL)
        with session_scope(self.db_url) as session:
            version = registry.rollback_target(session, target).version
            reporter.say(f"asking the Rasa server to load {version}")
            registry.rollback(session, self.loader, to_version=version, agent_id=asked_by, served=served)
        reporter.say(f"{version} is the active model")
        return JobResult(
            "succeeded", f"rolled back: {version} is the active model (Rasa switched, no restart)", version
        )


class Reporter:
    """Writes a job's progress lines and heartbeat from a thread of its own.

    The job's code calls `say` in the middle of its own transactions (retrain's first line comes while its
    session still holds SQLite's write lock), so the lines are only queued there and written here: the job
    never waits on the database for them, and lines that could not be written yet are written on the next
    try. `stop` writes what is left."""

    def __init__(self, db_url: str, job_id: int, worker: str, heartbeat_seconds: float) -> None:
        self.db_url = db_url
        self.job_id = job_id
        self.worker = worker
        self.heartbeat_seconds = heartbeat_seconds
        self._lines: "queue.Queue[str]" = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"job-{job_id}-progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def say(self, line: str) -> None:
        log.info("job %s: %s", self.job_id, line)
        self._lines.put(line)

    def stop(self) -> None:
        self._stopping.set()
        self._lines.put("")  # wake the loop
        self._thread.join()

    def _loop(self) -> None:
        pending: List[str] = []
        while True:
            try:
                line = self._lines.get(timeout=self.heartbeat_seconds)
                pending.append(line)
            except queue.Empty:
                pass
            while not self._lines.empty():
                pending.append(self._lines.get_nowait())
            pending = [line for line in pending if line]
            try:
                with session_scope(self.db_url) as session:
                    for line in pending:
                        jobs.add_progress(session, self.job_id, line)
                    jobs.beat(session, self.job_id, self.worker)
                pending = []
            except Exception:
                log.exception("job %s: progress not written yet; trying again", self.job_id)
                if not self._stopping.is_set():
                    continue
            if self._stopping.is_set() and self._lines.empty():
                return


def job_ids_waiting(db_url: str) -> Optional[int]:
    """The id of the queued or running job, if any (for the worker's start-up line)."""
    with session_scope(db_url) as session:
        job: Optional[RetrainJob] = jobs.waiting_job(session)
        return job.id if job else None
