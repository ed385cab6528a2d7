"""The data map: every place personal data lands, its data class, what happens to it when its
retention period ends, and the period - a default here, set per organisation in its profile:

```yaml
privacy:
  retention_days:          # days; 0 keeps the data (an archive duty, a legal hold)
    tracker_events: 90
    ticket: 1825
```

`docs/privacy.md` shows the same map as a table for readers; `DATA_MAP` is the one the code
uses (`helpdesk.privacy.retention`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, Mapping


class Disposal(str, Enum):
    """What the retention job does with a record past its period."""

    DELETE = "delete"
    #: The record stays for the figures (counts, ratings, durations); whatever names or
    #: reaches the citizen is removed and identifiers in its text are masked.
    ANONYMISE = "anonymise"


@dataclass(frozen=True)
class Store:
    """One place personal data lands, as the retention job treats it."""

    key: str
    place: str
    data_class: str
    disposal: Disposal
    default_days: int
    #: The shortest period accepted (what the store needs to work, e.g. re-deliveries).
    min_days: int = 1


#: Every store the retention job covers, in the order it runs. Logs (masked at the source),
#: exports (on the downloader's machine), e-mail notices (in the mailbox) and the audit trail
#: (append-only, masked) are outside it: see docs/privacy.md.
DATA_MAP: tuple[Store, ...] = (
    Store(
        "tracker_events",
        "Rasa tracker store, table `events`",
        "conversation content: every message, slot (NIK, NIP, phone, e-mail, account), "
        "button and bot reply",
        Disposal.DELETE,
        90,
    ),
    Store(
        "flow_submission",
        "`flow_submission`",
        "what citizens typed in guided flows (name, phone, topic...)",
        Disposal.DELETE,
        90,
    ),
    Store(
        "handoff_message",
        "`handoff_message`",
        "agents' replies to a citizen (free text)",
        Disposal.DELETE,
        365,
    ),
    Store(
        "handoff",
        "`handoff`",
        "who asked for an agent: sender id (phone), name, last question",
        Disposal.ANONYMISE,
        365,
    ),
    Store(
        "ticket",
        "`ticket`",
        "complaints: subject, chronology, attachment link, e-mail, sender id (phone)",
        Disposal.ANONYMISE,
        730,
    ),
    Store(
        "question_log",
        "`question_log`",
        "questions citizens typed, with their sender id",
        Disposal.ANONYMISE,
        365,
    ),
    Store(
        "csat_rating",
        "`csat_rating`",
        "ratings with the sender id and the question rated",
        Disposal.ANONYMISE,
        365,
    ),
    Store(
        "conversation",
        "`conversation`",
        "that a sender started a session, on which channel",
        Disposal.ANONYMISE,
        365,
    ),
    Store(
        "email_attachments",
        "files under `<HELPDESK_VAR_DIR>/email_attachments/` (with a JSON sidecar)",
        "files citizens attached to their mails or sent on a channel (scans of IDs, letters, "
        "screenshots), files agents sent them from the desk, their names and the citizens' "
        "sender ids",
        Disposal.DELETE,
        730,
    ),
    Store(
        "broadcast_recipient",
        "`broadcast_recipient`",
        "the numbers, names and template values of broadcast recipients, and what became "
        "of each message",
        Disposal.DELETE,
        365,
    ),
    Store(
        "contact",
        "`contact`",
        "agents' notes and tags on a citizen, their name",
        Disposal.DELETE,
        730,
    ),
    Store(
        "idle_closure",
        "`idle_closure`",
        "when a sender's session was closed for silence",
        Disposal.DELETE,
        30,
    ),
    Store(
        "inbound_message",
        "`inbound_message` (handled deliveries)",
        "the raw delivery of each message from WhatsApp, Telegram, the web chat",
        Disposal.DELETE,
        30,
    ),
    Store(
        "sent_reply",
        "`sent_reply` (the reply ledger)",
        "which replies went to a sender (ids only)",
        Disposal.DELETE,
        30,
    ),
)
STORE_KEYS = tuple(store.key for store in DATA_MAP)


#: The keys of a profile's `privacy` mapping.
PRIVACY_KEYS = frozenset({"retention_days", "approval", "answer_within_days", "erasure_exempt"})
#: Kinds of citizens' data requests: a copy of their data (UU PDP Pasal 7), its deletion (Pasal 8).
REQUEST_KINDS = ("access", "erasure")


class PolicyError(ValueError):
    """A retention setting that cannot be used (unknown store, not a whole number, too short)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """The retention period of each store, in days (0: kept)."""

    days: Mapping[str, int] = field(
        default_factory=lambda: {s.key: s.default_days for s in DATA_MAP}
    )

    def period(self, key: str) -> timedelta | None:
        """How long `key`'s records are kept; None when they are kept."""
        days = self.days.get(key, 0)
        return timedelta(days=days) if days > 0 else None

    @classmethod
    def from_config(cls, raw: Any, where: str = "privacy") -> "RetentionPolicy":
        """The defaults with a profile's `privacy` mapping applied.

        Raises:
            PolicyError: Naming the key that is wrong.
        """
        days = {store.key: store.default_days for store in DATA_MAP}
        if raw is None:
            return cls(days)
        if not isinstance(raw, dict) or set(raw) - PRIVACY_KEYS:
            raise PolicyError(f"{where}: may only hold {', '.join(sorted(PRIVACY_KEYS))}")
        given = raw.get("retention_days") or {}
        if not isinstance(given, dict):
            raise PolicyError(f"{where}.retention_days: must map stores to days")
        stores = {store.key: store for store in DATA_MAP}
        for key, value in given.items():
            if key not in stores:
                raise PolicyError(
                    f"{where}.retention_days: unknown store {key!r}; stores: {', '.join(stores)}"
                )
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise PolicyError(f"{where}.retention_days.{key}: must be a whole number of days")
            if 0 < value < stores[key].min_days:
                raise PolicyError(
                    f"{where}.retention_days.{key}: at least {stores[key].min_days} day(s)"
                )
            days[key] = value
        return cls(days)


@dataclass(frozen=True)
class RequestPolicy:
    """How citizens' data requests are handled (a profile's `privacy` mapping):

    - `approval`: the kinds a supervisor approves before they are carried out (default:
      erasure: an officer checks the state-administration exemptions first);
    - `answer_within_days`: the time limit shown to citizens and supervisors (UU PDP: 3 x 24
      hours, Pasal 32, 33);
    - `erasure_exempt`: stores kept on an erasure for state administration (Pasal 15), e.g.
      `[ticket]`; the retention job still anonymises them at the end of their period.
    """

    approval: frozenset[str] = frozenset({"erasure"})
    answer_within_days: int = 3
    erasure_exempt: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, raw: Any, where: str = "privacy") -> "RequestPolicy":
        """The defaults with a profile's `privacy` mapping applied.

        Raises:
            PolicyError: Naming the key that is wrong.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise PolicyError(f"{where}: must be a mapping")
        approval = raw.get("approval", sorted(cls.approval))
        if not isinstance(approval, list) or set(approval) - set(REQUEST_KINDS):
            raise PolicyError(f"{where}.approval: a list of {', '.join(REQUEST_KINDS)}")
        days = raw.get("answer_within_days", cls.answer_within_days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 30:
            raise PolicyError(f"{where}.answer_within_days: a whole number of days, 1 to 30")
        exempt = raw.get("erasure_exempt", [])
        if not isinstance(exempt, list) or set(exempt) - set(STORE_KEYS):
            raise PolicyError(f"{where}.erasure_exempt: a list of stores ({', '.join(STORE_KEYS)})")
        return cls(frozenset(approval), days, frozenset(exempt))
