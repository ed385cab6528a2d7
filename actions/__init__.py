"""Rasa custom actions and form validators of the helpdesk assistant (one per module)."""
