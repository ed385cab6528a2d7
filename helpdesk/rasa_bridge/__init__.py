"""Rasa's HTTP API client and its SQL events reader: the one place that knows Rasa's shapes."""
