"""Facebook Messenger and Instagram channels over Meta's messaging webhooks.

`MessengerInput` receives Meta's Messenger Platform webhook at `/webhooks/messenger/webhook`,
`InstagramInput` the Instagram Messaging webhook at `/webhooks/instagram/webhook` (GET:
subscription check, POST: signed deliveries); `MessengerOutput` and `InstagramOutput` send
answers through the Send API and can be used on their own. Register the channels in
`credentials.yml` (`make run` adds the blocks when the variables are set); Rasa expands
`${VAR}` from the environment::

    connectors.meta.MessengerInput:
      access_token: ${MESSENGER_PAGE_ACCESS_TOKEN}
      app_secret: ${MESSENGER_APP_SECRET}
      verify_token: ${MESSENGER_VERIFY_TOKEN}
      page_id: ${MESSENGER_PAGE_ID}          # optional: only this page's events
      api_url: ${MESSENGER_API_URL}          # optional

    connectors.meta.InstagramInput:
      access_token: ${INSTAGRAM_ACCESS_TOKEN}
      account_id: ${INSTAGRAM_ACCOUNT_ID}
      app_secret: ${INSTAGRAM_APP_SECRET}
      verify_token: ${INSTAGRAM_VERIFY_TOKEN}
      api_url: ${INSTAGRAM_API_URL}          # optional

`api_url` is the Graph API base URL (default `https://graph.facebook.com/v20.0`). The
upper-case names are accepted as keys too.

Behaviour (the same as the WhatsApp channel's where the platforms agree, see
`connectors.common.meta`):

* A delivery is processed only when its `X-Hub-Signature-256` header is the HMAC-SHA256 of the
  raw body with the app secret (403 otherwise); a body over 3 MB gets 413 unread, one that is
  not a JSON object 400. A signed delivery whose contents cannot be used (another platform's
  object, odd ids, echoes) is answered 200 and logged by kind.
* Texts become the user's text; a tapped quick reply or a postback gives the payload the
  assistant offered ("/affirm", `/menu_select{...}`); attachments without text give one line
  each, "Lampiran gambar: <url>" (the ticket form keeps the first URL as the attachment, as it
  keeps a WhatsApp media id) and `metadata["media"]` (`type`, `url`, `count`). An Instagram
  story reply carries `metadata["story_url"]`. Echoes of the assistant's own messages, deleted
  and unsupported messages, deliveries, reads and reactions are acknowledged and left out.
* Each message id (`mid`) is claimed in the helpdesk database (`inbound_message`) before the
  webhook answers 200, so a re-delivered message is answered once, also after a restart; the
  messages are then handled in background tasks, in order per sender, and recovered after a
  crash (`connectors.inbox`).
* Answers: texts split at 2000 characters, buttons as up to 13 quick replies (titles cut at
  20 characters, payloads over 1000 characters sent as short ids), more as numbered text,
  images as attachments. Retries on connection errors, timeouts, 429 and 5xx; other 4xx are
  logged with Meta's error code.
* The 24-hour window: each message is sent as a `RESPONSE` within 24 hours of the citizen's
  last message (read from `inbound_message`); after that an agent's reply from the desk goes
  out tagged `HUMAN_AGENT` (up to 7 days) and anything else is not sent, only logged
  (`connectors.meta.window`).
* Logs never hold message content; sender ids appear masked (last four characters).

The package: `payloads` (deliveries parsed, pure), `render` (answers as Send API bodies,
pure), `window` (the messaging windows, pure), `output` (sending), `webhook` (the routes over
the shared inbox).
"""

from connectors.meta.output import (
    InstagramOutput,
    MessengerOutput,
    MetaConfigError,
    MetaOutput,
    MetaSendError,
)
from connectors.meta.webhook import InstagramInput, MessengerInput, MetaInput

__all__ = [
    "InstagramInput",
    "InstagramOutput",
    "MessengerInput",
    "MessengerOutput",
    "MetaConfigError",
    "MetaInput",
    "MetaOutput",
    "MetaSendError",
]
