"""Coverline's database: SQLAlchemy models, engine/session handling, migrations and seed data.

Shared by the Rasa server (interaction log broker), the action server and the inbox, so the three
processes agree on one schema whatever DATABASE_URL points at.
"""
