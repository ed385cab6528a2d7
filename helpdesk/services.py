"""The service container that actions and connectors use.

Heavy objects (FAQ retriever, database engine, SMTP notifier) are built lazily, once per
process, on first use - never at import time. Tests build a `Services` with their own
objects injected (fake embedder, in-memory SQLite) instead.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from helpdesk.settings import Settings, get_settings

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from sqlalchemy.orm import sessionmaker

    from helpdesk.knowledge.retriever import Retriever
    from helpdesk.menu import Menu
    from helpdesk.storage.repositories import (
        ConversationRepository,
        CsatRepository,
        QuestionLogRepository,
        TicketRepository,
    )
    from helpdesk.tickets import TicketService


class Services:
    """Lazily built helpdesk services, shared by every action in a process."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        retriever: "Retriever" | None = None,
        session_factory: "sessionmaker" | None = None,
        tickets: "TicketService" | None = None,
        menu: "Menu" | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._retriever = retriever
        self._session_factory = session_factory
        self._tickets = tickets
        self._menu = menu
        self._lock = threading.RLock()

    @property
    def retriever(self) -> "Retriever":
        """The FAQ retriever; builds the index if the sources changed, loads it once."""
        with self._lock:
            if self._retriever is None:
                from helpdesk.knowledge.retriever import build_retriever

                self._retriever = build_retriever(self.settings)
            return self._retriever

    @property
    def session_factory(self) -> "sessionmaker":
        """The SQLAlchemy session factory of the ticket store (migrated to head on first use)."""
        with self._lock:
            if self._session_factory is None:
                from helpdesk.storage.db import make_engine, make_session_factory, upgrade

                url = self.settings.effective_database_url
                upgrade(url)
                self._session_factory = make_session_factory(make_engine(url))
            return self._session_factory

    @property
    def ticket_repository(self) -> "TicketRepository":
        from helpdesk.storage.repositories import TicketRepository

        return TicketRepository(self.session_factory)

    @property
    def csat(self) -> "CsatRepository":
        from helpdesk.storage.repositories import CsatRepository

        return CsatRepository(self.session_factory)

    @property
    def questions(self) -> "QuestionLogRepository":
        from helpdesk.storage.repositories import QuestionLogRepository

        return QuestionLogRepository(self.session_factory)

    @property
    def conversations(self) -> "ConversationRepository":
        from helpdesk.storage.repositories import ConversationRepository

        return ConversationRepository(self.session_factory)

    @property
    def tickets(self) -> "TicketService":
        """Ticket creation and status, with e-mail notification when SMTP is configured."""
        with self._lock:
            if self._tickets is None:
                from helpdesk.notify import EmailNotifier
                from helpdesk.tickets import TicketService

                notifier = EmailNotifier(self.settings) if self.settings.smtp_enabled else None
                self._tickets = TicketService(
                    self.ticket_repository, notifier=notifier, tz=self.settings.tz
                )
            return self._tickets

    @property
    def menu(self) -> "Menu":
        """The numbered main menu, from `HELPDESK_MENU_FILE`."""
        with self._lock:
            if self._menu is None:
                from helpdesk.menu import load_menu

                self._menu = load_menu(self.settings.menu_file)
            return self._menu


_services: Services | None = None
_services_lock = threading.Lock()


def get_services() -> Services:
    """The process-wide `Services`, created on first call."""
    global _services
    with _services_lock:
        if _services is None:
            _services = Services()
        return _services


def set_services(services: Services | None) -> None:
    """Replace the process-wide services (tests, or a host that builds its own)."""
    global _services
    with _services_lock:
        _services = services
