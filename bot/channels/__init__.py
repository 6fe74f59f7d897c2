"""Coverline's Rasa input/output channels: thin adapters in the shape of rasa/core/channels/*.py."""
