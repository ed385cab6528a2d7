"""E-mail as a channel: a mailbox read over IMAP, replies sent over SMTP in the same thread.

`EmailInput` polls the mailbox from the Rasa server's start to its stop; `EmailOutput` sends
the answers and can be used on its own. Register the channel in `credentials.yml` (`make run`
adds the block when `EMAIL_IMAP_HOST` is set); Rasa expands `${VAR}` from the environment::

    connectors.email.EmailInput:
      imap_host: ${EMAIL_IMAP_HOST}
      imap_port: ${EMAIL_IMAP_PORT}          # optional: 993 (SSL) or 143
      imap_user: ${EMAIL_IMAP_USER}
      imap_password: ${EMAIL_IMAP_PASSWORD}
      imap_ssl: ${EMAIL_IMAP_SSL}            # optional: true (default) or false
      mailbox: ${EMAIL_MAILBOX}              # optional: INBOX
      smtp_host: ${EMAIL_SMTP_HOST}
      smtp_port: ${EMAIL_SMTP_PORT}          # optional: 587, 465 (ssl) or 25 (none)
      smtp_user: ${EMAIL_SMTP_USER}          # optional: no login when empty
      smtp_password: ${EMAIL_SMTP_PASSWORD}
      smtp_security: ${EMAIL_SMTP_SECURITY}  # optional: starttls (default), ssl or none
      address: ${EMAIL_ADDRESS}              # our From address
      sender_name: ${EMAIL_SENDER_NAME}      # optional display name
      poll_seconds: ${EMAIL_POLL_SECONDS}    # optional: 15
      max_replies_per_hour: ${EMAIL_MAX_REPLIES_PER_HOUR}  # optional: 20 per address

The upper-case names are accepted as keys too.

Behaviour:

* **Reading.** Every `poll_seconds` the unseen mails are fetched without setting \\Seen
  (BODY.PEEK), parsed (`connectors.email.parse`: the citizen's new text without quoted
  history and signature, the thread, the attachments) and claimed by Message-ID in the
  helpdesk database (`inbound_message`, the shared inbox); a mail is marked \\Seen only once
  its claim is recorded. A mail is answered once, across restarts and across several Rasa
  servers reading the same mailbox; the mails are handled in background tasks, in order per
  conversation, and recovered after a crash (`connectors.inbox`).
* **Conversations.** Rasa's sender id is "<address>#<12 hex digits>": the sender's address,
  lower-cased, and a hash of the thread's root Message-ID (the first of `References`, else
  `In-Reply-To`, else the mail's own). A reply stays in its conversation; a new mail without
  references starts a new conversation of the same citizen. `metadata["email"]` holds the
  address, subject and Message-IDs.
* **Attachments** are checked (images, PDF, office documents, text; at most 10 MB, 5 per mail)
  and kept under `<HELPDESK_VAR_DIR>/email_attachments/` with their senders
  (`helpdesk.storage.attachments`: a citizen's copy lists them, an erasure and the retention
  job delete them, store `email_attachments`); `metadata["media"]` names the first
  as "email-att:<hash>", which the ticket form takes as the attachment (as a WhatsApp media
  id); a mail with only an attachment gives that reference as its text.
* **Loop guard.** Automatic mails (`Auto-Submitted` other than "no", `Precedence:
  bulk/junk/list/auto_reply`, `X-Autoreply`, list headers, delivery reports, an empty
  Return-Path, MAILER-DAEMON/postmaster/noreply senders, our own address) are marked seen and
  never answered; at most `max_replies_per_hour` mails of one address are answered per hour
  (the shared rate limiter, `helpdesk.security.ratelimit`). Our mails carry
  `Auto-Submitted: auto-replied` and `X-Auto-Response-Suppress: All`.
* **Answers.** All answers to one mail go out as one reply mail: "Re: <subject>",
  `In-Reply-To` and `References` set, a Message-ID of our domain, buttons as a numbered list;
  a reply that is only a number ("2") is read as that button's payload (the payloads are kept
  in the helpdesk database under the sent Message-ID). An agent's reply from the desk, or
  the idle sweeper's message, goes out as a mail of its own in the conversation's thread.
  SMTP with STARTTLS, SSL or neither, login optional, retries on connection errors and 4xx;
  failures are logged with the SMTP code, never content, addresses masked.
* **Health.** `GET /webhooks/email/` answers `{"status": "ok", "last_poll_seconds_ago": ...}`,
  503 while the mailbox cannot be read.
* Unreadable, empty, sender-less or oversized mails are marked seen and \\Flagged for a person,
  never deleted: nothing is lost.

The package: `parse` (mails read, pure), `render` (reply mails, pure), `attachments` (kept
files), `mailbox` (IMAP), `output` (SMTP, turns), `webhook` (the channel over the shared inbox).
"""

from connectors.email.mailbox import ImapSettings
from connectors.email.output import EmailConfigError, EmailOutput, EmailSendError, SmtpSettings
from connectors.email.webhook import EmailInput

__all__ = [
    "EmailConfigError",
    "EmailInput",
    "EmailOutput",
    "EmailSendError",
    "ImapSettings",
    "SmtpSettings",
]
