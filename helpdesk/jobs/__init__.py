"""Periodic jobs beside Rasa: the idle sweeper."""
