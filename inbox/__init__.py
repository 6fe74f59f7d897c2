"""The agents' inbox: a FastAPI app (JSON API + server-rendered pages) over Coverline's database.

`create_app()` in `inbox.main` builds it; `python -m inbox` serves it and manages agents.
"""
