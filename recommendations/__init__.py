"""Personalized content recommendations (issue 16): the content library (`library.py`), its vocabulary
(`vocabulary.py`) and, beside them, the ranker. `python -m recommendations import demo_data/content`."""
