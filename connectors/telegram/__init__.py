"""Telegram channel: Rasa's Telegram channel made fit for the helpdesk.

`TelegramInput` receives Telegram's webhook at `/webhooks/telegram/webhook`; `TelegramOutput`
sends the answers through the Bot API (aiogram 2, as in Rasa). Register the channel in
`credentials.yml` under its module path (the short key `telegram:` would load Rasa's own
channel); the values come from the environment::

    connectors.telegram.TelegramInput:
      access_token: ${TELEGRAM_ACCESS_TOKEN}
      verify: ${TELEGRAM_BOT_NAME}
      webhook_url: ${TELEGRAM_WEBHOOK_URL}
      secret_token: ${TELEGRAM_SECRET_TOKEN}
      api_url: ${TELEGRAM_API_URL}

* `access_token`: the token from @BotFather (`123456789:AA...`).
* `verify`: the bot's username, without `@`.
* `webhook_url`: the public HTTPS URL of `/webhooks/telegram/webhook`.
* `secret_token` (optional, recommended): 1-256 characters of `A-Z a-z 0-9 _ -`. Telegram sends
  it in the `X-Telegram-Bot-Api-Secret-Token` header of every update; requests without it are
  refused (403). Without it anyone who knows the webhook URL can post updates.
* `api_url` (optional): the Bot API server, default `https://api.telegram.org` (a local Bot API
  server, or a fake one in tests).

Rasa expands `${VAR}` when it reads the file and refuses to start when a variable is not set
(an empty one is fine), so leave the optional lines out when their variables are not set
(`scripts/run.py` does). The three required values, when missing or empty, stop the server with
an error that names them.

How it differs from Rasa's channel (`rasa/core/channels/telegram.py`):

* Nothing contacts Telegram while the app is built, and `get_output_channel()` never does (Rasa's
  runs `asyncio.run(set_webhook(...))`, which needs the network and fails inside a running
  loop, e.g. for `/conversations/<id>/execute?output_channel=latest`). The webhook is
  registered in a background task once the server has started (a failure is logged, the server
  runs on), and again on `POST /webhooks/telegram/set_webhook` with
  `Authorization: Bearer <token>`, the token being Rasa's API token (`RASA_API_TOKEN`) or the
  secret token (401 otherwise; the secret also counts in `X-Telegram-Bot-Api-Secret-Token`).
  Before registering, `getMe` checks that the token belongs to the bot named in `verify`
  (registering would otherwise take the webhook of another bot).
* No `getMe` per update: the secret token authenticates Telegram's requests.
* Updates go through the shared inbox (`connectors.inbox`), as WhatsApp's messages do: each is
  claimed once in the helpdesk database (`inbound_message`, key `<bot id>:<update_id>`) and
  answered 200 at once, then handled in the background in order per chat. A re-delivered
  update is answered once, also after a restart; one left unfinished by a crash is handled again
  at the next start, or when Telegram delivers it again after `reclaim_after`.
* Button taps (`callback_query`) give the button's payload and are answered
  (`answerCallbackQuery`), so the spinner on the citizen's button stops.
* Photos, documents, videos, audio and voice notes give their `file_id` as the text (the ticket
  form's attachment step takes it) and `metadata["media"]`; locations, stickers, contacts and
  the like are ignored (logged by type). `/start` becomes `/greet`, `/help` becomes `/menu`.
* Buttons: up to three short ones in one row, otherwise one per row; `button_type` ("inline":
  one row, "vertical": one per row, "reply": a reply keyboard) is honoured when a response gives
  it. Payloads longer than Telegram's 64-byte `callback_data` are sent as a hash id.
* A text is one message (Rasa sends every paragraph separately) unless it is longer than
  Telegram's 4096 characters; then it is split at paragraph, line or word boundaries.
* Sending is retried on flood control and network errors; a message that cannot be sent is
  logged (type of error, chat id masked, never the content) and the conversation goes on.
* Hostile input: a body over `BODY_LIMIT` is refused unread (413); one that is not a JSON
  object, or nests deeper than Telegram's updates do, gets 400. An update with ids that are
  not Telegram's (not whole numbers of at most 64 bits) is acknowledged (200) and ignored.
  Texts are cleaned (no NUL, no lone surrogates) and cut at `connectors.common
  .MESSAGE_TEXT_LIMIT` characters, and every string of the metadata is capped.

The package: `payloads` (updates parsed, pure), `render` (answers as texts and keyboards, pure),
`output` (`TelegramOutput`, sending with retries), `webhook` (`TelegramInput`, the routes over
the shared inbox, `connectors.inbox`).
"""

from connectors.telegram.output import TelegramConfigError, TelegramOutput
from connectors.telegram.webhook import TelegramInput

__all__ = ["TelegramConfigError", "TelegramInput", "TelegramOutput"]
