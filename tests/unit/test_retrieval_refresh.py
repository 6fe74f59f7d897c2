"""A refresh of the past-replies index embeds with no write transaction open.

On a fresh deployment the first refresh embeds every reply the database has (a minute on a busy
machine). It used to do that inside a write transaction; on SQLite that held the database's only write
lock, so the Rasa server's tracker store and interaction log waited out their busy timeout and failed
("database is locked": seen in the load benchmark's log). Here a second connection tries to write while
the real encoder is embedding the new replies; it must get the lock at once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, List

from retrieval.encoder import Encoder
from storage.engine import session_scope
from storage.models import PastReply
from tests.support.databases import migrated_sqlite
from tests.support.harvest import answerer_for, small_index


class WriterProbingEncoder:
    """The real encoder; each time it is asked to embed, another connection tries to write first."""

    def __init__(self, inner: Encoder, database: Path) -> None:
        self.inner = inner
        self.database = database
        self.probes: List[str] = []

    @property
    def version(self) -> str:
        return self.inner.version

    def encode(self, texts: Any, show_progress: bool = False) -> Any:
        other = sqlite3.connect(self.database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            self.probes.append("wrote")
        except sqlite3.OperationalError as error:
            self.probes.append(str(error))
        finally:
            other.close()
        return self.inner.encode(texts, show_progress=show_progress)


def test_a_refresh_lets_others_write_while_it_embeds(tmp_path: Path) -> None:
    database = tmp_path / "coverline.db"
    url = migrated_sqlite(database)
    encoder = WriterProbingEncoder(Encoder(), database)
    small_index(url, tmp_path / "index", encoder)
    with session_scope(url) as db:  # two replies the index does not hold yet (an agent's, an import)
        db.add(PastReply(external_id="inbox-1", question="Is hail damage covered?", reply="Yes, under comprehensive."))
        db.add(PastReply(external_id="import-9", question="Can I pause my policy?", reply="You can suspend it."))
    encoder.probes.clear()

    report = answerer_for(url, tmp_path / "index", encoder).refresh()

    assert report is not None and report.added == 2
    assert encoder.probes and all(probe == "wrote" for probe in encoder.probes), encoder.probes
    with session_scope(url) as db:  # and the new replies are marked as embedded
        marked = {
            r.external_id: r.embedding_model
            for r in db.query(PastReply).filter(PastReply.external_id.in_(["inbox-1", "import-9"]))
        }
    assert marked == {"inbox-1": encoder.version, "import-9": encoder.version}
