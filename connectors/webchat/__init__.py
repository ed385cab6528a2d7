"""The web chat page ("live chat" of the service's website), served by the Rasa server.

`WebChatInput` serves a single-page chat client and nothing else: the page talks to Rasa's own
socket.io channel (`socketio:` in `credentials.yml`), which receives the messages and sends the
answers. Serving the page from the Rasa server keeps it on the same origin as socket.io, whose
server Rasa creates with `cors_allowed_origins=[]` (cross-origin browsers are refused).

Routes, under `/webhooks/webchat/`:

* `/webhooks/webchat/`: the page (`webchat/index.html`, with the title and socket.io path
  filled in and asset URLs versioned by their content),
* `/webhooks/webchat/static/<file>`: its assets (`webchat/*.css`, `webchat/*.js`,
  `webchat/vendor/socket.io.min.js`, images), read into memory when the server starts,
* `/webhooks/webchat/health`: `{"status": "ok"}`.

Register it in `credentials.yml` beside the socket.io channel; both keys are optional::

    socketio:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
    connectors.webchat.WebChatInput:
      title: Layanan Bantuan        # page title and header
      socket_path: /socket.io       # must equal `socketio_path` of the socketio channel

The page needs `session_persistence: true` and the default event names shown above.

`SocketIOInput` is Rasa's socket.io channel with its sessions fixed; use it in place of
`socketio:` (same keys, same name "socketio", same `/socket.io` path)::

    connectors.webchat.SocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true

Rasa 3.6's own channel calls `AsyncServer.enter_room` without awaiting it, a coroutine since
python-socketio 5.10 (RasaHQ/rasa#13027): with `session_persistence: true` no answer ever
reaches the browser. It also lets a client pick any `session_id` (any tracker, a WhatsApp
phone number included) and pass any `metadata` (`channel` among it, which `actions.base
.channel_of` trusts). `SocketIOInput` awaits the room, accepts only session ids it could have
issued, binds each connection to its confirmed session, and sets the metadata itself. A session
id whose conversation began on another channel (an integrator can choose any sender id on
REST) is never joined: `session_request` issues a new one, and a message is dropped.

The package: `payloads` (socket.io session ids and limits), `page` (the chat page and its
assets) and `webhook` (`WebChatInput`, `SocketIOInput`; no inbox: answers go back on the socket).
"""

from connectors.webchat.webhook import SocketIOInput, WebChatConfigError, WebChatInput

__all__ = ["SocketIOInput", "WebChatConfigError", "WebChatInput"]
