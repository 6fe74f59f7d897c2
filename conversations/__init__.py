"""A conversation's life, in one place: its statuses, every move between them, the escalation queries,
and how Rasa's tracker events become the interaction log.

Layering: settings → storage → conversations → actions, channels, inbox. Every process (the Rasa
server's event broker, the action server, the inbox) changes a conversation's status only through
`conversations.lifecycle`; a test (tests/conversations/test_status_writes.py) keeps it that way.
"""
