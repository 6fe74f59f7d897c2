"""Coverline's Rasa server side: domain, dialogue data, channels, endpoints and Rasa plug-ins."""
