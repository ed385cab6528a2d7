"""E-mail notification of new tickets over SMTP.

One message goes to the helpdesk mailbox (when configured) with every ticket field, and one
confirmation goes to the citizen with the ticket id and how to check its status. Failures
are logged without the message body and reported as False: the ticket is already stored.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from helpdesk.conversation.dates import format_datetime_id

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.settings import Settings
    from helpdesk.tickets.service import TicketInfo

logger = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def helpdesk_message(ticket: "TicketInfo", *, mail_from: str, mailbox: str) -> EmailMessage:
    """The message to the helpdesk mailbox, with every field of the ticket."""
    message = EmailMessage()
    message["Subject"] = f"[Tiket {ticket.id}] {_one_line(ticket.subject)}"
    message["From"] = mail_from
    message["To"] = mailbox
    if ticket.email:
        message["Reply-To"] = ticket.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    body = "\n".join(
        [
            "Tiket baru telah dibuat melalui asisten virtual helpdesk.",
            "",
            f"Nomor tiket : {ticket.id}",
            f"Status      : {ticket.status_label} ({ticket.status})",
            f"Dibuat      : {format_datetime_id(ticket.created_at)}",
            f"E-mail      : {ticket.email or '- (hubungi melalui kanal percakapan)'}",
            f"Subjek      : {ticket.subject}",
            f"Lampiran    : {ticket.attachment or '-'}",
            "",
            "Kronologi:",
            ticket.chronology,
            "",
        ]
    )
    message.set_content(body, charset="utf-8")
    return message


def citizen_message(ticket: "TicketInfo", *, mail_from: str) -> EmailMessage:
    """The confirmation to the citizen: ticket id, summary and how to check the status."""
    message = EmailMessage()
    message["Subject"] = f"Tiket Anda {ticket.id} telah kami terima"
    message["From"] = mail_from
    message["To"] = ticket.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    body = "\n".join(
        [
            "Bapak/Ibu yang kami hormati,",
            "",
            "Terima kasih telah menghubungi layanan helpdesk kami. Laporan Anda telah kami",
            "terima dan dicatat dengan rincian berikut:",
            "",
            f"Nomor tiket : {ticket.id}",
            f"Subjek      : {ticket.subject}",
            f"Status      : {ticket.status_label}",
            f"Diterima    : {format_datetime_id(ticket.created_at)}",
            "",
            "Mohon simpan nomor tiket tersebut. Untuk mengetahui perkembangannya, silakan",
            f'ketik "cek status tiket {ticket.id}" atau pilih menu "Cek Status Tiket"',
            "pada percakapan dengan asisten virtual kami.",
            "",
            "E-mail ini dikirim otomatis; mohon tidak membalas e-mail ini.",
            "",
            "Hormat kami,",
            "Tim Helpdesk",
            "",
        ]
    )
    message.set_content(body, charset="utf-8")
    return message


class EmailNotifier:
    """Sends ticket e-mails through the SMTP server in the settings.

    Args:
        settings: Uses `smtp_host`, `smtp_port`, `smtp_user`, `smtp_password`,
            `smtp_starttls`, `smtp_timeout`, `mail_from` and `helpdesk_mailbox`.
    """

    def __init__(self, settings: "Settings") -> None:
        self._settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            client.ehlo()
            if s.smtp_starttls:
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if s.smtp_user:
                client.login(s.smtp_user, s.smtp_password)
        except BaseException:
            client.close()
            raise
        return client

    def ticket_created(self, ticket: "TicketInfo") -> bool:
        """Send the helpdesk message (when a mailbox is set) and the citizen's confirmation.

        Args:
            ticket: The stored ticket.

        Returns:
            True when every message was accepted by the SMTP server, False otherwise
            (the failure is logged without the message body).
        """
        s = self._settings
        messages: list[tuple[str, EmailMessage]] = []
        if s.helpdesk_mailbox:
            messages.append(
                (
                    "helpdesk mailbox",
                    helpdesk_message(ticket, mail_from=s.mail_from, mailbox=s.helpdesk_mailbox),
                )
            )
        if ticket.email:
            messages.append(("citizen", citizen_message(ticket, mail_from=s.mail_from)))
        ok = self.send(messages, what=f"ticket {ticket.id}")
        if ok and messages:
            logger.info("ticket %s notified by e-mail (%d messages)", ticket.id, len(messages))
        return ok

    def send(self, messages: list[tuple[str, EmailMessage]], *, what: str) -> bool:
        """Send (recipient label, message) pairs in one SMTP session.

        Returns:
            True when every message was accepted (or there was none); False otherwise, the
            failure logged with `what` and without the message body.
        """
        if not messages:
            return True
        s = self._settings
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            logger.error(
                "cannot reach SMTP server %s:%s for %s: %s",
                s.smtp_host,
                s.smtp_port,
                what,
                exc.__class__.__name__ + (f": {exc}" if str(exc) else ""),
            )
            return False
        ok = True
        try:
            for recipient, message in messages:
                try:
                    client.send_message(message)
                except (smtplib.SMTPException, OSError) as exc:
                    ok = False
                    logger.error(
                        "SMTP refused the e-mail to the %s for %s: %s",
                        recipient,
                        what,
                        exc.__class__.__name__,
                    )
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
        return ok
