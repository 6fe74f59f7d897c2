"""Coverline's custom actions (rasa-sdk), one module per concern.

The action server imports every submodule and registers each concrete Action subclass.
"""
