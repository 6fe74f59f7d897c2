"""Coverline's own NLU: the fine-tuned intent + sentiment classifier and the data it learns sentiment from."""
