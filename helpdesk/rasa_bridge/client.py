"""The Rasa server's HTTP API, as the helpdesk's background services use it.

The idle sweeper and the agent desk never talk to the channels themselves: they ask the Rasa
server (API token required) to run an action or to send a bot message on an output channel
(WhatsApp, Telegram, web chat), so it reaches the citizen and is logged in the tracker. The
channel is the one the caller names (the desk: the channel the citizen asked for an officer
on), else `latest`: the channel the citizen last wrote from.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import requests

from helpdesk.security.masking import mask_digits

logger = logging.getLogger(__name__)

#: Rasa's `output_channel` value for "the channel the conversation's latest message came from".
LATEST = "latest"


class RasaClient:
    """A small client of the Rasa HTTP API (one `requests.Session`, explicit timeouts).

    Args:
        rasa_url: Base URL of the Rasa server, e.g. http://localhost:5005.
        token: The API token (`--auth-token`), sent as the `token` query parameter.
        timeout: Seconds per request.
    """

    def __init__(self, rasa_url: str, token: str, timeout: float = 10.0) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.rasa_url = rasa_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def _url(self, sender_id: str, path: str) -> str:
        return f"{self.rasa_url}/conversations/{quote(sender_id, safe='')}/{path}"

    def _post(self, what: str, sender_id: str, path: str, params: dict, body: Any) -> bool:
        try:
            response = self.session.post(
                self._url(sender_id, path),
                params={**params, "token": self.token},
                json=body,
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            logger.warning(
                "%s for %s failed: %s", what, mask_digits(sender_id), type(error).__name__
            )
            return False
        if response.status_code != 200:
            logger.warning(
                "%s for %s failed: HTTP %s", what, mask_digits(sender_id), response.status_code
            )
            return False
        return True

    def execute(self, sender_id: str, action: str, channel: str | None = None) -> bool:
        """Run `action` in the conversation, its messages going to `channel`.

        Args:
            sender_id: The conversation.
            action: The action's name.
            channel: The output channel's name ("whatsapp"); None: the latest input channel.

        Returns:
            True when the Rasa server ran it, False on any failure (the caller retries).
        """
        return self._post(
            f"running {action}",
            sender_id,
            "execute",
            {"output_channel": channel or LATEST},
            {"name": action},
        )

    def send_bot_message(
        self, sender_id: str, text: str, metadata: dict[str, Any], channel: str | None = None
    ) -> bool:
        """Log a bot message in the tracker and send it on `channel` (None: the citizen's
        latest channel)."""
        return self._post(
            "sending an agent reply",
            sender_id,
            "tracker/events",
            {"output_channel": channel or LATEST, "execute_side_effects": "true"},
            [{"event": "bot", "text": text, "metadata": metadata}],
        )
