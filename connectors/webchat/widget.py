"""The chat widget for any website: its one-line loader, the embedding policy, the office
status the chat shows, and messages left for the officers outside office hours.

A site adds one line::

    <script src="https://asisten.contoh.go.id/webhooks/webchat/widget.js" async></script>

`widget.js` (rendered from `webchat/widget.js.tmpl` with the profile's name, colour and
whether it asks a visitor's name first) puts a launcher bubble on the page and opens the chat
page of this server in an iframe panel (`?embed=1`); the page tells the loader about new
messages (the unread badge) and about being closed over `postMessage`. Only the sites of the
profile's `widget.allowed_origins` (and `HELPDESK_WIDGET_ORIGINS`) may frame the page: its
Content-Security-Policy names them in `frame-ancestors`.

`GET status` gives the chat the office status (open now, the hours, the next opening);
`POST offline` keeps a message left outside office hours as a ticket.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from helpdesk.conversation.flows import accept
from helpdesk.conversation.validation import validate_email

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.services import Services
    from helpdesk.settings import Settings

logger = logging.getLogger("connectors.webchat")

#: The loader's template (not served as an asset: its suffix is not a served type).
LOADER_TEMPLATE = "widget.js.tmpl"
#: The loader is small and changes with the profile: browsers keep it five minutes.
LOADER_HEADERS: Mapping[str, str] = {
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
}
#: Subject of a ticket made from a message left in the widget outside office hours.
OFFLINE_SUBJECT = "Pesan dari situs web di luar jam layanan"
#: Longest name and message accepted from the offline form.
NAME_LIMIT = 80
MESSAGE_LIMIT = 2000
MESSAGE_MINIMUM = 10


@dataclass(frozen=True)
class WidgetConfig:
    """What the loader and the page need from the profile."""

    title: str
    colour: str
    prechat_name: bool
    allowed_origins: tuple[str, ...]

    def as_json(self) -> str:
        """The loader's configuration, safe inside a `<script>` (no `</`)."""
        data = {"title": self.title, "colour": self.colour, "prechatName": self.prechat_name}
        return json.dumps(data, ensure_ascii=True).replace("</", "<\\/")


def widget_config(settings: "Settings", title: str) -> WidgetConfig:
    profile = settings.profile
    return WidgetConfig(
        title=title,
        colour=profile.widget.colour,
        prechat_name=profile.widget.prechat_name,
        allowed_origins=settings.widget_origins,
    )


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """The CSP directive that lets only this server and `origins` frame the chat."""
    return "frame-ancestors " + " ".join(["'self'", *origins])


def render_loader(template: str, config: WidgetConfig) -> str:
    """The loader with its configuration filled in."""
    return template.replace("/*CONFIG*/null", config.as_json())


def clean_name(text: Any) -> str | None:
    """A visitor's name as typed (letters, spaces, . ' -), collapsed; None when it is none."""
    if not isinstance(text, str) or len(text) > NAME_LIMIT:
        return None
    return accept("name", text)


# -- office status ---------------------------------------------------------------------------
def office_status(services: "Services", now: datetime) -> dict[str, Any]:
    """Whether officers are on duty now, their hours and the next opening (in Indonesian)."""
    hours = services.office_hours
    is_open = hours.is_open(now)
    return {
        "open": is_open,
        "hours": hours.describe(),
        "next_opening": None if is_open else hours.format_next_opening(now),
    }


# -- messages left outside office hours ------------------------------------------------------
@dataclass(frozen=True)
class OfflineMessage:
    name: str
    email: str
    message: str


def read_offline(body: Any) -> tuple[OfflineMessage | None, dict[str, str]]:
    """The offline form's fields, or the errors per field (Indonesian, for the form)."""
    if not isinstance(body, dict):
        return None, {"form": "Data formulir tidak dapat dibaca. Silakan coba lagi."}
    errors: dict[str, str] = {}
    name = clean_name(body.get("name"))
    if name is None:
        errors["name"] = "Mohon tuliskan nama Anda dengan huruf, misalnya Siti Aminah."
    raw_email = body.get("email")
    email = validate_email(raw_email) if isinstance(raw_email, str) else None
    if email is None:
        errors["email"] = "Mohon tuliskan alamat e-mail yang valid, misalnya nama@contoh.go.id."
    raw_message = body.get("message")
    message = " ".join(raw_message.split()) if isinstance(raw_message, str) else ""
    if len(message) < MESSAGE_MINIMUM:
        errors["message"] = "Mohon tuliskan pesan Anda (paling sedikit 10 karakter)."
    elif len(message) > MESSAGE_LIMIT:
        errors["message"] = f"Pesan terlalu panjang (paling banyak {MESSAGE_LIMIT} karakter)."
    if errors:
        return None, errors
    return OfflineMessage(str(name), str(email), message), {}


def record_offline(
    services: "Services", message: OfflineMessage, now: datetime, session_id: str | None
) -> dict[str, Any]:
    """Keep the message as a ticket; what the form tells the visitor."""
    from helpdesk.tickets.service import TicketDraft

    ticket = services.tickets.create(
        TicketDraft(
            subject=OFFLINE_SUBJECT,
            chronology=f"Nama: {message.name}\n\n{message.message}",
            email=message.email,
            sender_id=session_id,
            channel="socketio",
        )
    )
    logger.info("web chat: a message left outside office hours became ticket %s", ticket.id)
    return {
        "ticket": ticket.id,
        "next_opening": services.office_hours.format_next_opening(now),
    }
