"""The REST channel: an integrators' API, authenticated, strict about its input.

Same URL, request and reply as Rasa's `rest` channel, which it replaces in `credentials.yml`::

    connectors.rest.RestInput:

`POST /webhooks/rest/webhook` with `{"sender": "...", "message": "...", "metadata": {...}}`
answers the bot's messages as a JSON list (`?stream=true`: one JSON message a line);
`GET /webhooks/rest/` is the health route. The channel's name stays "rest", so Rasa records
`input_channel: rest` for its messages.

What it adds to Rasa's channel:

* **Who may call.** With `HELPDESK_REST_TOKEN` set, every request must carry
  `Authorization: Bearer <token>` (401 otherwise). Without it, only clients on the loopback
  interface are answered (403 for others): a development default. Behind a reverse proxy every
  request comes from the proxy's address, so set the token there.
* **Input.** A body over `BODY_LIMIT` bytes is refused with 413 before it is read. Malformed
  input gets 400 with a JSON error, never a 5xx: a body that is not a JSON object, a missing or
  non-string `sender` or `message`, a sender over `SENDER_LIMIT` characters or with control
  characters, NUL characters or lone surrogates anywhere, an `input_channel` other than "rest"
  (Rasa's channel let a caller claim to be WhatsApp), and `metadata` that is not an object or
  is over `METADATA_LIMIT` bytes. Of the metadata only scalars and objects of scalars are kept,
  their strings capped (`connectors.common.cap_metadata`); `channel` is always "rest". As on
  every channel, the text handed to Rasa is cleaned of control characters and cut at
  `connectors.common.MESSAGE_TEXT_LIMIT` characters (`cap_text`).
* **One channel per conversation.** A sender id whose conversation began on another channel
  (a WhatsApp citizen's phone number, a web chat session) is refused with 409: nothing is added
  to that conversation (`connectors.common.ConversationGuard`).
* **Logs** name senders masked (last four characters) and never hold message text.

Errors are JSON objects `{"error": "<code>", "message": "<English text>"}`.

The package: `payloads` (request bodies parsed and validated, pure) and `webhook` (`RestInput`, the
routes; no inbox: the caller waits for the answer on the same request, nothing is re-delivered).
"""

from connectors.rest.webhook import RestConfigError, RestInput

__all__ = ["RestConfigError", "RestInput"]
