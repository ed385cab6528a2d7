"""WhatsApp channel for Meta's WhatsApp Cloud API.

`WhatsAppInput` receives Meta's webhook at `/webhooks/whatsapp/webhook` (GET: subscription
check, POST: signed deliveries); `WhatsAppOutput` sends answers through the Graph API and can be
used on its own, outside a request (e.g. by a sweeper closing idle sessions). Register the
channel in `credentials.yml`; the values come from the environment (Rasa expands `${VAR}` when
it reads the file and refuses to start when one of them is not set)::

    connectors.whatsapp.WhatsAppInput:
      access_token: ${WHATSAPP_ACCESS_TOKEN}
      phone_number_id: ${WHATSAPP_PHONE_NUMBER_ID}
      app_secret: ${WHATSAPP_APP_SECRET}
      verify_token: ${WHATSAPP_VERIFY_TOKEN}
      api_url: ${WHATSAPP_API_URL}

`api_url` is the Graph API base URL; when it is empty (or the line is left out) the default
`https://graph.facebook.com/v20.0` is used. The upper-case names (`WHATSAPP_ACCESS_TOKEN: ...`)
are accepted as keys too.

Behaviour:

* A delivery is processed only when its `X-Hub-Signature-256` header is the HMAC-SHA256 of the
  raw body with the app secret (403 otherwise). A body over `BODY_LIMIT` is refused unread
  (413); one that is not a JSON object, or nests deeper than Meta's ever do, gets 400: neither
  is a Meta delivery. A signed delivery whose contents cannot be used (odd types, ids too long,
  a message the database refuses for its content) is answered 200 and logged: Meta retries
  every other answer for days.
* Texts are cleaned (no NUL, no lone surrogates) and cut at `connectors.common
  .MESSAGE_TEXT_LIMIT` characters; every string of the metadata is capped
  (`connectors.common.cap_metadata`).
* Each message id is claimed in the helpdesk database (`inbound_message`) before the webhook
  answers 200, so a re-delivered message is acknowledged and not answered twice, also after a
  restart. The messages are then handled in background tasks (in order per sender), so slow
  dialogue work never makes Meta retry.
* A claimed message whose handling did not finish (the process died) is handled again when the
  server starts next (at least once); see `WhatsAppInput.recover_pending`.
* WhatsApp's 24-hour customer service window: free text goes out only within 24 hours of the
  citizen's last message (`inbound_message`); after it a message goes out as the approved
  template that stands for it (`helpdesk.conversation.message_templates`, the profile's
  `files.whatsapp_templates`), or not at all (logged). See `WhatsAppOutput`.
* Logs never hold message content, not even in the messages of exceptions
  (`connectors.common.failure_trace`), and phone numbers appear masked (last four digits).

The package: `payloads` (Meta's deliveries parsed, pure), `render` (answers and templates as
Graph API bodies, pure), `output` (`WhatsAppOutput`, sending with retries within the window),
`webhook` (`WhatsAppInput`, the routes over the shared inbox, `connectors.inbox`).
"""

from connectors.whatsapp.output import WhatsAppConfigError, WhatsAppOutput, WhatsAppSendError
from connectors.whatsapp.webhook import WhatsAppInput

__all__ = ["WhatsAppConfigError", "WhatsAppInput", "WhatsAppOutput", "WhatsAppSendError"]
