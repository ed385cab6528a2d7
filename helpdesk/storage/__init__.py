"""Relational storage of the helpdesk: engine, models, migrations and repositories."""
