"""Starting Coverline's processes (Rasa server, action server, web chat page) as one unit.

`python -m runner` is what `make run` calls; the integration tests use the same `ServerSet`, so what
is tested is what runs.
"""
