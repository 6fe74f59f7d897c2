"""A synthetic interaction log of about 1,000,000 messages, written by PostgreSQL itself (generate_series), so
the benchmark spends its time on the analytics queries and not on inserting rows one by one.

200,000 conversations over 92 days (2026-08-01 to 2026-11-01 UTC) with a daily rhythm, seven channels,
2-8 messages each (mean 5): customer and bot turns; every tenth conversation is handed over (reason,
priority, an agent's replies, resolved or handed back, or still open); 15 % of bot replies come from past
replies, half of those rated 👍/👎; 30 % of customer messages name a product; every second conversation is
shown three of 100 content items a minute in (300,000 impressions), 12 % of them opened and 3 % dismissed.
The shapes are those the projection writes (conversations/projection.py): entities a JSON list, sentiment
{"label", "confidence"}.

The rows are inserted by SQL, not through the ORM, so the summary that storage/summary.py keeps with every
write is then computed by its `backfill` (what migration 0018 does for an existing log): the benchmark reads
the same columns, in the same indexes, as a database the live code wrote.
"""

from __future__ import annotations

from typing import List

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from storage.summary import backfill

CONVERSATIONS = 200_000
DAYS = 92
START = "2026-08-01"


def statements(conversations: int = CONVERSATIONS) -> List[str]:
    """The SQL that fills a migrated, empty database, in order."""
    values = {
        "{CHANNEL}": CHANNEL,
        "{STARTED}": STARTED,
        "{CONVERSATIONS}": str(conversations),
        "{DAYS}": str(DAYS),
        "{START}": START,
    }
    found = []
    for statement in _STATEMENTS:
        for name, value in values.items():
            statement = statement.replace(name, value)
        found.append(statement)
    return found


# A conversation's channel and start, computed from its number c wherever they are needed, so that no
# statement joins on a computed id (the planner, without statistics yet, chose nested loops for that).
CHANNEL = "(ARRAY['whatsapp','whatsapp','telegram','facebook','instagram','twitter','wechat'])[1 + c % 7]"
# the day's rhythm: afternoons are busier than nights (a golden-ratio sequence stands in for random())
STARTED = (
    "(timestamp '{START}' + ((c * {DAYS}) / {CONVERSATIONS}) * interval '1 day'"
    " + (6 + 16 * sqrt((c * 0.6180339887) % 1)) * interval '1 hour'"
    " + ((c * 0.4142135623) % 1) * interval '59 minutes')"
)

_STATEMENTS: List[str] = [
    "SET max_parallel_workers_per_gather = 0",
    "SELECT setseed(0.17)",
    """
    INSERT INTO past_replies (id, external_id, question, reply, product_line, source, created_at, imported_at, active)
    SELECT g, 'bench-' || g, 'question ' || g, 'reply ' || g, 'general', 'import', now(), now(), true
    FROM generate_series(1, 100) AS g
    """,
    """
    INSERT INTO conversations (id, channel, customer_identity, status, created_at, last_message_at)
    SELECT {CHANNEL} || ':' || (1000000 + c), {CHANNEL}, {CHANNEL} || ':' || (1000000 + c),
           CASE WHEN c % 10 = 0 THEN 'resolved' ELSE 'pending' END, {STARTED}, {STARTED} + interval '10 minutes'
    FROM generate_series(1, {CONVERSATIONS}) AS c
    """,
    """
    INSERT INTO messages (id, conversation_id, event_key, direction, author, channel, text, intent, confidence,
                          entities, sentiment, answer_source, past_reply_id, in_reply_to_id, sent_at, created_at)
    SELECT id, conversation_id, md5(id::text), CASE author WHEN 'customer' THEN 'inbound' ELSE 'outbound' END,
           author, channel, author || ' words',
           CASE WHEN author = 'customer' THEN (ARRAY['greet','ask_coverage','ask_deductible','claim_status',
                'file_claim','billing','complain','request_human','affirm','deny','nlu_fallback','thank'])
                [1 + floor(random() * 12)::int] END,
           CASE WHEN author = 'customer' THEN 0.5 + random() / 2 END,
           CASE WHEN author <> 'customer' THEN 'null'::json
                WHEN random() < 0.3 THEN json_build_array(json_build_object('entity', 'product', 'value',
                     (ARRAY['auto','home','renters','travel','life'])[1 + floor(random() * 5)::int]))
                ELSE '[]'::json END,
           CASE WHEN author = 'customer' THEN json_build_object('label',
                (ARRAY['negative','neutral','neutral','neutral','positive'])[1 + floor(random() * 5)::int],
                'confidence', 0.9) END,
           source, CASE WHEN source = 'retrieval' THEN 1 + c % 100 END,
           CASE WHEN author <> 'customer' THEN id - 1 END, sent_at, sent_at
    FROM (
        SELECT c, c * 10 + j AS id, {CHANNEL} || ':' || (1000000 + c) AS conversation_id, {CHANNEL} AS channel,
               author,
               CASE WHEN author = 'agent' THEN 'agent'
                    WHEN author = 'customer' THEN NULL
                    WHEN c % 10 = 0 AND j = 2 THEN 'handoff'
                    ELSE (ARRAY['retrieval','retrieval','retrieval','fallback','fallback','knowledge','knowledge',
                          'lookup','template','template','template','template','template','template','template',
                          'template','template','template','template','template'])[1 + floor(random() * 20)::int]
               END AS source,
               {STARTED} + j * interval '20 seconds'
                   + CASE WHEN c % 10 = 0 AND j >= 3 THEN interval '7 minutes' ELSE interval '0' END AS sent_at
        FROM (
            SELECT c, j, CASE WHEN j % 2 = 1 THEN 'customer' WHEN c % 10 = 0 AND j >= 4 THEN 'agent'
                              ELSE 'bot' END AS author
            FROM generate_series(1, {CONVERSATIONS}) AS c CROSS JOIN LATERAL generate_series(1, 2 + (c / 7) % 7) AS j
        ) AS turns
    ) AS s
    """,
    """
    INSERT INTO escalations (conversation_id, reason, priority, note, open, created_at, assigned_at, resolved_at,
                             outcome)
    SELECT {CHANNEL} || ':' || (1000000 + c),
           (ARRAY['customer_request','complaint','negative_sentiment','fallback'])[1 + floor(r * 4)::int],
           1 + floor(r * 3)::int, '', r >= 0.9, {STARTED} + interval '41 seconds',
           {STARTED} + interval '3 minutes',
           CASE WHEN r < 0.9 THEN {STARTED} + (10 + 110 * random()) * interval '1 minute' END,
           CASE WHEN r < 0.8 THEN 'resolved' WHEN r < 0.9 THEN 'handed_back' END
    FROM (SELECT c, random() AS r FROM generate_series(10, {CONVERSATIONS}, 10) AS c) AS s
    """,
    """
    INSERT INTO answer_feedback (conversation_id, past_reply_id, message_id, helpful, created_at)
    SELECT conversation_id, past_reply_id, id, random() < 0.7, sent_at + interval '30 seconds'
    FROM messages WHERE answer_source = 'retrieval' AND random() < 0.5
    """,
    """
    INSERT INTO content_items (id, slug, category, title, summary, body, product_lines, life_events, claim_stages,
                               incident_types, months, marketing, locale, content_hash, created_at, updated_at)
    SELECT g, 'bench-item-' || g, 'safety_tip', 'item ' || g, 'summary', 'body', '[]'::json, '[]'::json,
           '[]'::json, '[]'::json, '[]'::json, false, 'en-US', md5(g::text), now(), now()
    FROM generate_series(1, 100) AS g
    """,
    """
    INSERT INTO content_impressions (id, content_item_id, conversation_id, channel, moment, position, score,
                                     shown_at)
    SELECT c * 3 + p, 1 + (c * 7 + p) % 100, {CHANNEL} || ':' || (1000000 + c), {CHANNEL}, 'answer_given', p,
           1.0, {STARTED} + interval '1 minute'
    FROM generate_series(2, {CONVERSATIONS}, 2) AS c CROSS JOIN generate_series(0, 2) AS p
    """,
    """
    INSERT INTO content_events (kind, content_item_id, impression_id, conversation_id, channel, at)
    SELECT k.kind, s.content_item_id, s.id, s.conversation_id, s.channel, s.shown_at + k.after
    FROM (SELECT i.*, random() AS r FROM content_impressions AS i) AS s
    CROSS JOIN LATERAL (
        SELECT 'impression' AS kind, interval '0' AS after
        UNION ALL SELECT 'open', interval '2 minutes' WHERE s.r < 0.12
        UNION ALL SELECT 'dismiss', interval '1 minute' WHERE s.r >= 0.12 AND s.r < 0.15
    ) AS k
    """,
    "SELECT setval('content_items_id_seq', 100)",
    "SELECT setval('content_impressions_id_seq', (SELECT max(id) FROM content_impressions))",
    "SELECT setval('messages_id_seq', (SELECT max(id) FROM messages))",
    "SELECT setval('past_replies_id_seq', 100)",
]

# VACUUM sets the visibility map that index-only scans need (autovacuum does it in production); it cannot
# run inside a transaction.
MAINTENANCE = "VACUUM ANALYZE"

# The analytics indexes of migrations 0014, 0018, 0019, 0020 and 0022 (storage/models.py): dropped once to time
# the queries without them.
ANALYTICS_INDEXES: List[str] = [
    "ix_conversations_created_at",
    "ix_conversation_products_last_named_at",
    "ix_conversation_products_conversation_created_at",
    "ix_conversation_intents_intent",
    "ix_messages_sent_at",
    "ix_messages_author_sent_at",
    "ix_messages_first_answer_at",
    "ix_messages_agent_waits",
    "ix_escalations_created_at",
    "ix_escalations_resolved_at",
    "ix_answer_feedback_created_at",
    "ix_answer_feedback_message_id",
    "ix_content_impressions_shown_at",
    "ix_content_events_kind_at",
]


# The summary's own tables (storage/summary.py), whose sizes the results list beside the indexes'.
SUMMARY_TABLES: List[str] = [
    "conversation_products",
    "conversation_intents",
    "message_hours",
    "intent_hours",
    "answer_hours",
]


def vacuum(engine: Engine) -> None:
    """VACUUM ANALYZE, then a CHECKPOINT: otherwise the fill's dirty pages are written out while the first
    queries are timed (a run measured 1.5 s for a 30 ms count that way)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(MAINTENANCE))
        connection.execute(text("CHECKPOINT"))


def run(connection: Connection, statements: List[str]) -> None:
    for statement in statements:
        connection.execute(text(statement))


def fill(connection: Connection, conversations: int = CONVERSATIONS) -> None:
    """The log, then its summary as the live code keeps it."""
    run(connection, statements(conversations))
    backfill(connection)


def counts(connection: Connection) -> dict:
    tables = ("conversations", "messages", "escalations", "answer_feedback", "content_impressions", "content_events")
    return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}
