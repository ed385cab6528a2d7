"""Fixtures of the security tests: the action tests' services (a real retriever over a few
FAQs, a migrated SQLite store) and dispatcher, reused as they are."""

from __future__ import annotations

from tests.actions.conftest import dispatcher, retriever, services, settings

__all__ = ["dispatcher", "retriever", "services", "settings"]
