"""The service container that actions, connectors and the agent desk use.

Heavy objects (FAQ retriever, database engine, SMTP notifier, backend HTTP clients) are built
lazily, once per process, on first use - never at import time. Tests build a `Services` with
their own objects injected (fake embedder, in-memory SQLite, fake backend clients) instead.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from helpdesk.settings import Settings, get_settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:  # pragma: no cover - imports for type checkers only
    from email.message import EmailMessage
    from typing import Callable

    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import sessionmaker

    from helpdesk.backends.contracts import ContractClient
    from helpdesk.backends.digit import DigitClient
    from helpdesk.backends.http import BackendHttp
    from helpdesk.backends.sakti import SaktiClient
    from helpdesk.backends.sp2d import Sp2dClient
    from helpdesk.broadcasts.service import BroadcastService
    from helpdesk.conversation.flow_store import FlowStore
    from helpdesk.conversation.flows import Flow
    from helpdesk.conversation.menu import Menu
    from helpdesk.conversation.message_templates import TemplateRegistry
    from helpdesk.handoff.desk_settings import OfficeHoursProvider, OfficeHoursSettings
    from helpdesk.handoff.office_hours import OfficeHours
    from helpdesk.handoff.service import HandoffService
    from helpdesk.knowledge.inbox import QuestionInbox
    from helpdesk.knowledge.models import FaqEntry
    from helpdesk.knowledge.retriever import Retriever
    from helpdesk.privacy.requests import DataRequests, EmailCodes
    from helpdesk.privacy.retention import Retention
    from helpdesk.security.audit import AuditTrail
    from helpdesk.security.ratelimit import LookupLimits, RateLimiter
    from helpdesk.storage.api_tokens import ApiTokenRepository
    from helpdesk.storage.attachments import AttachmentFiles
    from helpdesk.storage.button_payloads import ButtonPayloadRepository
    from helpdesk.storage.canned_responses import CannedResponseRepository
    from helpdesk.storage.contacts import ContactRepository
    from helpdesk.storage.conversations import ConversationRepository
    from helpdesk.storage.desk_queries import DeskQueries
    from helpdesk.storage.desk_sessions import TrustedDeviceRepository
    from helpdesk.storage.desk_users import DeskUserRepository
    from helpdesk.storage.divisions import DivisionRepository
    from helpdesk.storage.feedback import CsatRepository, QuestionLogRepository
    from helpdesk.storage.flow_submissions import FlowSubmissionRepository
    from helpdesk.storage.handoff_messages import HandoffMessageRepository
    from helpdesk.storage.handoffs import HandoffRepository
    from helpdesk.storage.inbound_messages import InboundMessageRepository
    from helpdesk.storage.knowledge_base import KnowledgeBaseRepository
    from helpdesk.storage.tickets import TicketRepository
    from helpdesk.tickets.service import TicketService


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
        office_hours: "OfficeHours" | None = None,
        sp2d: "Sp2dClient" | None = None,
        contracts: "ContractClient" | None = None,
        digit: "DigitClient" | None = None,
        sakti: "SaktiClient" | None = None,
        rate_limiter: "RateLimiter" | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._retriever = retriever
        self._session_factory = session_factory
        self._tickets = tickets
        self._menu = menu
        self._flow_store: "FlowStore | None" = None
        self._office_hours = office_hours
        self._office_hours_provider: "OfficeHoursProvider" | None = None
        self._backend_http: "BackendHttp" | None = None
        self._sp2d = sp2d
        self._contracts = contracts
        self._digit = digit
        self._sakti = sakti
        self._rate_limiter = rate_limiter
        self._tracker_engine: "Engine | None" = None
        self._lock = threading.RLock()
        self._retriever_lock = threading.RLock()
        self._warming: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._retriever_revision: int | None = None

    @property
    def retriever(self) -> "Retriever":
        """The FAQ retriever over the published knowledge base; builds the index if it
        changed, loads it once (`refresh_knowledge` swaps in the next one). The build holds
        its own lock, not the container's: the database and the rest stay usable meanwhile."""
        if self._retriever is not None:
            return self._retriever
        with self._retriever_lock:
            if self._retriever is None:
                from helpdesk.knowledge.retriever import build_retriever

                revision, entries = self._knowledge()
                built = build_retriever(self.settings, entries=entries)
                with self._lock:
                    self._retriever, self._retriever_revision = built, revision
            return self._retriever

    def warm_retriever(self) -> bool:
        """True when the retriever is loaded; else start loading it in the background (once)
        and return False: a page that needs it says so instead of waiting for a build."""
        if self._retriever is not None:
            return True
        with self._lock:
            if self._warming is None or not self._warming.is_alive():

                def load() -> None:
                    try:
                        self.retriever  # noqa: B018 - built for later requests
                    except Exception:
                        logger.exception("the knowledge base could not be loaded")

                self._warming = threading.Thread(target=load, name="kb-warm", daemon=True)
                self._warming.start()
        return False

    def refresh_knowledge(self) -> bool:
        """Swap in a retriever for the knowledge base's current revision when a publication
        came after the one in use (built outside the lock, reusing the unchanged rows'
        vectors: questions go on with the old one meanwhile, never a half-built one).

        Returns:
            True when a new retriever is in use; False when nothing changed, no retriever
            is loaded yet (the first question builds it) or it was given (tests).
        """
        if self._retriever is None or self._retriever_revision is None:
            return False
        with self._refresh_lock:
            if self.knowledge_base.revision() == self._retriever_revision:
                return False
            from helpdesk.knowledge.retriever import build_retriever

            revision, entries = self._knowledge()
            fresh = build_retriever(self.settings, entries=entries, previous=self._retriever)
            with self._lock:
                self._retriever, self._retriever_revision = fresh, revision
            return True

    @property
    def retriever_revision(self) -> int | None:
        """The knowledge base revision the retriever in use was built from (None: none yet)."""
        return self._retriever_revision

    @property
    def loaded_retriever(self) -> "Retriever | None":
        """The FAQ retriever when this process has already built it, else None (health
        checks: never builds it, never waits for a build in progress)."""
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
    def knowledge_base(self) -> "KnowledgeBaseRepository":
        """The curated knowledge base: entries, versions, the publication revision."""
        from helpdesk.storage.knowledge_base import KnowledgeBaseRepository

        return KnowledgeBaseRepository(self.session_factory)

    def knowledge_entries(self) -> "list[FaqEntry]":
        """The published FAQ entries; an empty knowledge base is seeded from
        `HELPDESK_KB_SOURCE` first (`helpdesk.knowledge.curation.curated_entries`)."""
        return self._knowledge()[1]

    def _knowledge(self) -> "tuple[int, list[FaqEntry]]":
        """The revision and the published entries (the revision read first: a publication
        in between is caught by the next refresh)."""
        from helpdesk.knowledge.curation import curated_entries, seed

        repository = self.knowledge_base
        seed(repository, self.settings.kb_source)
        revision = repository.revision()
        return revision, curated_entries(repository, self.settings.kb_source)

    @property
    def ticket_repository(self) -> "TicketRepository":
        from helpdesk.storage.tickets import TicketRepository

        return TicketRepository(self.session_factory)

    @property
    def csat(self) -> "CsatRepository":
        from helpdesk.storage.feedback import CsatRepository

        return CsatRepository(self.session_factory)

    @property
    def questions(self) -> "QuestionLogRepository":
        from helpdesk.storage.feedback import QuestionLogRepository

        return QuestionLogRepository(self.session_factory)

    @property
    def question_inbox(self) -> "QuestionInbox":
        """The knowledge managers' questions inbox, over the retriever in use."""
        from helpdesk.knowledge.inbox import QuestionInbox
        from helpdesk.storage.question_inbox import QuestionInboxRepository

        return QuestionInbox(
            QuestionInboxRepository(self.session_factory),
            self.knowledge_base,
            lambda: self.retriever,
        )

    @property
    def flow_submissions(self) -> "FlowSubmissionRepository":
        """What citizens gave in the profile's guided flows."""
        from helpdesk.storage.flow_submissions import FlowSubmissionRepository

        return FlowSubmissionRepository(self.session_factory)

    @property
    def conversations(self) -> "ConversationRepository":
        from helpdesk.storage.conversations import ConversationRepository

        return ConversationRepository(self.session_factory)

    @property
    def button_payloads(self) -> "ButtonPayloadRepository":
        """Long button payloads behind the short ids the channels send."""
        from helpdesk.storage.button_payloads import ButtonPayloadRepository

        return ButtonPayloadRepository(self.session_factory)

    @property
    def inbound_messages(self) -> "InboundMessageRepository":
        """Inbound channel messages (webhook de-duplication and crash recovery)."""
        from helpdesk.storage.inbound_messages import InboundMessageRepository

        return InboundMessageRepository(self.session_factory)

    @property
    def rate_limiter(self) -> "RateLimiter":
        """The rate limiter every process shares through the database (desk logins, lookups)."""
        with self._lock:
            if self._rate_limiter is None:
                from helpdesk.security.ratelimit import RateLimiter
                from helpdesk.storage.ratelimits import RateLimitRepository

                self._rate_limiter = RateLimiter(RateLimitRepository(self.session_factory))
            return self._rate_limiter

    @property
    def lookup_limits(self) -> "LookupLimits":
        """How often citizens' self-service lookups may run (per sender, per identifier)."""
        from helpdesk.security.ratelimit import LookupLimits

        return LookupLimits(self.rate_limiter)

    @property
    def tracker_engine(self) -> "Engine":
        """The engine of Rasa's SQL tracker store (`settings.effective_tracker_store_url`)."""
        with self._lock:
            if self._tracker_engine is None:
                from sqlalchemy import create_engine

                self._tracker_engine = create_engine(self.settings.effective_tracker_store_url)
            return self._tracker_engine

    @property
    def attachment_files(self) -> "AttachmentFiles":
        """The files citizens sent (e-mail attachments) under the var directory."""
        from helpdesk.storage.attachments import AttachmentFiles, attachments_folder

        return AttachmentFiles(attachments_folder(self.settings.var_dir), clock=self.settings.now)

    @property
    def retention(self) -> "Retention":
        """The retention job over every store, with the profile's periods."""
        from helpdesk.privacy.retention import Retention
        from helpdesk.rasa_bridge.retention import TrackerRetention
        from helpdesk.storage.retention import RetentionRepository

        return Retention(
            self.settings.profile.retention,
            RetentionRepository(self.session_factory),
            TrackerRetention(self.tracker_engine),
            attachments=self.attachment_files,
            clock=self.settings.now,
        )

    def _mail_sender(self) -> "Callable[[EmailMessage], bool] | None":
        """Sends one e-mail through the configured SMTP server (None: SMTP not configured)."""
        if not self.settings.smtp_enabled:
            return None
        from helpdesk.tickets.notify import EmailNotifier

        notifier = EmailNotifier(self.settings)
        return lambda message: notifier.send([("citizen", message)], what=message["Subject"])

    @property
    def data_requests(self) -> "DataRequests":
        """Citizens' data requests (copy, erasure) with the profile's privacy settings."""
        from datetime import timedelta

        from helpdesk.privacy.requests import DataRequests
        from helpdesk.rasa_bridge.retention import TrackerRetention
        from helpdesk.storage.data_requests import DataRequestRepository
        from helpdesk.storage.personal_data import PersonalDataRepository

        return DataRequests(
            DataRequestRepository(self.session_factory),
            PersonalDataRepository(self.session_factory),
            TrackerRetention(self.tracker_engine),
            self.audit,
            self.settings.profile.requests,
            tz=self.settings.tz,
            clock=self.settings.now,
            quiet=timedelta(seconds=self.settings.erasure_quiet_seconds),
            send_mail=self._mail_sender(),
            mail_from=self.settings.mail_from,
            attachments=self.attachment_files,
        )

    @property
    def email_codes(self) -> "EmailCodes":
        """Codes e-mailed to web chat visitors to verify an address."""
        from helpdesk.privacy.requests import EmailCodes
        from helpdesk.storage.data_requests import EmailVerificationRepository

        return EmailCodes(
            EmailVerificationRepository(self.session_factory),
            self._mail_sender(),
            mail_from=self.settings.mail_from,
            clock=self.settings.now,
        )

    @property
    def api_tokens(self) -> "ApiTokenRepository":
        """Integrators' API tokens (scopes, revocation)."""
        from helpdesk.storage.api_tokens import ApiTokenRepository

        return ApiTokenRepository(self.session_factory)

    @property
    def audit(self) -> "AuditTrail":
        """The audit trail: self-service lookups and desk actions, chained by hashes."""
        from helpdesk.security.audit import AuditTrail
        from helpdesk.storage.audit import AuditRepository

        return AuditTrail(AuditRepository(self.session_factory))

    @property
    def tickets(self) -> "TicketService":
        """Ticket creation and status, with e-mail notification when SMTP is configured."""
        with self._lock:
            if self._tickets is None:
                from helpdesk.tickets.notify import EmailNotifier
                from helpdesk.tickets.service import TicketService

                notifier = EmailNotifier(self.settings) if self.settings.smtp_enabled else None
                self._tickets = TicketService(
                    self.ticket_repository,
                    notifier=notifier,
                    tz=self.settings.tz,
                    division_for_category=self.divisions.id_for_category,
                )
            return self._tickets

    @property
    def menu(self) -> "Menu":
        """The numbered main menu, from `HELPDESK_MENU_FILE`."""
        with self._lock:
            if self._menu is None:
                from helpdesk.conversation.menu import load_menu

                self._menu = load_menu(self.settings.menu_file)
            return self._menu

    @property
    def flow_store(self) -> "FlowStore":
        """The guided flows in force (published in the desk, else the profile's file) and
        their draft; a document saved or published is checked against the published FAQ."""
        from helpdesk.conversation.flow_store import FlowStore, in_knowledge_base

        with self._lock:
            if self._flow_store is None:
                self._flow_store = FlowStore(
                    self.settings.profile.flows_file,
                    self.session_factory,
                    check=in_knowledge_base(self.knowledge_base, self.settings.kb_source),
                )
            return self._flow_store

    @property
    def flows(self) -> "dict[str, Flow]":
        """The organisation's guided flows, read again when they change (published in the
        desk, or the file edited): a changed flow is live without a restart."""
        return self.flow_store.flows()

    @property
    def office_hours(self) -> "OfficeHours":
        """The staff's office hours: as an admin saved them in the agent desk, else
        `HELPDESK_OFFICE_HOURS_FILE` (re-read only when either changes)."""
        with self._lock:
            if self._office_hours is not None:
                return self._office_hours
            if self._office_hours_provider is None:
                from helpdesk.handoff.desk_settings import OfficeHoursProvider

                self._office_hours_provider = OfficeHoursProvider(
                    self.settings, self.session_factory
                )
            provider = self._office_hours_provider
        return provider.get()

    @property
    def office_hours_settings(self) -> "OfficeHoursSettings":
        """The office hours as admins edit them in the agent desk (text, hours in force,
        save, back to the file)."""
        from helpdesk.handoff.desk_settings import OfficeHoursSettings

        return OfficeHoursSettings(self.settings, self.session_factory)

    @property
    def handoffs(self) -> "HandoffRepository":
        """The queue of conversations handed to human agents."""
        from helpdesk.storage.handoffs import HandoffRepository

        return HandoffRepository(self.session_factory)

    @property
    def handoff_messages(self) -> "HandoffMessageRepository":
        """Agents' replies on their way to the citizens (the outbox)."""
        from helpdesk.storage.handoff_messages import HandoffMessageRepository

        return HandoffMessageRepository(self.session_factory)

    @property
    def handoff(self) -> "HandoffService":
        """The human handoff: office hours, the agents' queue, offline requests as tickets."""
        from helpdesk.handoff.service import HandoffService

        return HandoffService(
            self.office_hours,
            self.tickets,
            self.handoffs,
            self.handoff_messages,
            timeout_minutes=self.settings.handoff_timeout_minutes,
            division_for_category=self.divisions.id_for_category,
        )

    # --- broadcasts ----------------------------------------------------------------------

    def whatsapp_templates(self) -> "TemplateRegistry":
        """The approved WhatsApp templates of the profile (read again when the file changes)."""
        from helpdesk.conversation.message_templates import load_registry

        return load_registry(self.settings.profile.whatsapp_templates_file)

    @property
    def broadcasts(self) -> "BroadcastService":
        """Supervisors' WhatsApp broadcasts and the citizens' consent to them."""
        from helpdesk.broadcasts.service import BroadcastService
        from helpdesk.storage.broadcasts import BroadcastRepository

        return BroadcastService(
            BroadcastRepository(self.session_factory),
            self.whatsapp_templates,
            daily_limit=self.settings.broadcast_daily_limit,
        )

    # --- the agent desk ------------------------------------------------------------------

    @property
    def desk_users(self) -> "DeskUserRepository":
        """The agent desk's users: agents, supervisors and admins."""
        from helpdesk.storage.desk_users import DeskUserRepository

        return DeskUserRepository(self.session_factory)

    @property
    def trusted_devices(self) -> "TrustedDeviceRepository":
        """Browsers that logged in to the desk before (the login throttle's device cookie)."""
        from helpdesk.storage.desk_sessions import TrustedDeviceRepository

        return TrustedDeviceRepository(self.session_factory)

    @property
    def divisions(self) -> "DivisionRepository":
        """Teams of agents and the FAQ categories each serves (routes handoffs and tickets)."""
        from helpdesk.storage.divisions import DivisionRepository

        return DivisionRepository(self.session_factory)

    @property
    def canned_responses(self) -> "CannedResponseRepository":
        """Agents' reply templates."""
        from helpdesk.storage.canned_responses import CannedResponseRepository

        return CannedResponseRepository(self.session_factory)

    @property
    def contacts(self) -> "ContactRepository":
        """What agents know about each citizen: notes and tags, kept across handoffs."""
        from helpdesk.storage.contacts import ContactRepository

        return ContactRepository(self.session_factory)

    @property
    def desk_queries(self) -> "DeskQueries":
        """The desk's read-only lists: tickets by filter, a citizen's questions and handoffs."""
        from helpdesk.storage.desk_queries import DeskQueries

        return DeskQueries(self.session_factory)

    @property
    def backend_http(self) -> "BackendHttp":
        """The HTTP layer (one `requests.Session`) shared by every backend client."""
        with self._lock:
            if self._backend_http is None:
                from helpdesk.backends.http import BackendHttp

                self._backend_http = BackendHttp.from_settings(self.settings)
            return self._backend_http

    @property
    def sp2d(self) -> "Sp2dClient":
        """The SP2D lookup client, on the shared `backend_http`."""
        with self._lock:
            if self._sp2d is None:
                from helpdesk.backends.sp2d import Sp2dClient

                self._sp2d = Sp2dClient(self.backend_http)
            return self._sp2d

    @property
    def contracts(self) -> "ContractClient":
        """The contract registration client, on the shared `backend_http`."""
        with self._lock:
            if self._contracts is None:
                from helpdesk.backends.contracts import ContractClient

                self._contracts = ContractClient(self.backend_http)
            return self._contracts

    @property
    def digit(self) -> "DigitClient":
        """The DIGIT account client, on the shared `backend_http`."""
        with self._lock:
            if self._digit is None:
                from helpdesk.backends.digit import DigitClient

                self._digit = DigitClient(self.backend_http)
            return self._digit

    @property
    def sakti(self) -> "SaktiClient":
        """The SAKTI user client, on the shared `backend_http`."""
        with self._lock:
            if self._sakti is None:
                from helpdesk.backends.sakti import SaktiClient

                self._sakti = SaktiClient(self.backend_http)
            return self._sakti


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
