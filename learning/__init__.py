"""The learning loop: what the logged chats teach the bot (issue 15).

Reviewed customer messages become NLU examples and test stories, agents' replies to resolved handoffs
become past replies, and a candidate model is promoted only past an evaluation gate. Everything that
leaves the interaction log for reuse is redacted first (`redaction.py`).

Layer: above storage, conversations and retrieval; the inbox and the runner call it.
"""
