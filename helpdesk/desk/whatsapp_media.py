"""`WhatsAppMedia`: fetches a citizen's media from the Cloud API, for the agent desk.

It lives beside the desk, not in connectors/whatsapp/: the desk is a helpdesk process and
may not import the Rasa channels (only plain HTTP is needed here).

`GET {api_url}/{media_id}` (bearer token) answers JSON with a short-lived `url`, the
`mime_type` and the `file_size`; `GET url` (the same token) gives the bytes. A media id can
be fetched again for 30 days, so the desk fetches on first opening and keeps the file
(`helpdesk.desk.media.open_attachment`). A file larger than the helpdesk keeps is refused from
the announced size, before its bytes are read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import requests

from helpdesk.desk.media import MediaFile, MediaRefused, MediaUnavailable
from helpdesk.settings import DEFAULT_GRAPH_API_URL
from helpdesk.storage.attachments import MAX_BYTES

if TYPE_CHECKING:  # pragma: no cover
    from helpdesk.settings import Settings

logger = logging.getLogger("connectors.whatsapp")

#: Seconds to wait for the Graph API (each request).
TIMEOUT = 20.0


class WhatsAppMedia:
    """A `helpdesk.desk.media.MediaSource` over the WhatsApp Cloud API."""

    def __init__(
        self,
        access_token: str,
        api_url: str = DEFAULT_GRAPH_API_URL,
        *,
        timeout: float = TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        if not access_token:
            raise ValueError("access_token must not be empty")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {access_token}"

    @classmethod
    def from_settings(cls, settings: "Settings", **kwargs: Any) -> "WhatsAppMedia | None":
        """The source configured by WHATSAPP_ACCESS_TOKEN and WHATSAPP_API_URL; None when
        the channel has no token."""
        token = settings.whatsapp_access_token.strip()
        if not token or token.startswith("${"):
            return None
        api_url = settings.whatsapp_api_url.strip() or DEFAULT_GRAPH_API_URL
        return cls(token, api_url, **kwargs)

    def _get(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            answer = self.session.get(url, timeout=self.timeout, **kwargs)
            answer.raise_for_status()
        except requests.RequestException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            kind = type(exc).__name__
            logger.warning("whatsapp: media not fetched (%s, status %s)", kind, status)
            raise MediaUnavailable(str(status or type(exc).__name__)) from exc
        return answer

    def fetch(self, media_id: str) -> MediaFile:
        """The media's bytes and type.

        Raises:
            MediaUnavailable: The Graph API failed, or answered without a URL.
            MediaRefused: "too large" (announced or read).
        """
        if not media_id or "/" in media_id or not media_id.isalnum():
            raise MediaUnavailable("not a media id")
        try:
            info = self._get(f"{self.api_url}/{media_id}").json()
        except ValueError as exc:
            raise MediaUnavailable("not JSON") from exc
        url = info.get("url") if isinstance(info, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MediaUnavailable("no url")
        size = info.get("file_size")
        if isinstance(size, int) and size > MAX_BYTES:
            raise MediaRefused("too large")
        answer = self._get(url, stream=True)
        with answer:
            data = answer.raw.read(MAX_BYTES + 1, decode_content=True)
        if len(data) > MAX_BYTES:
            raise MediaRefused("too large")
        content_type = str(info.get("mime_type") or answer.headers.get("Content-Type") or "")
        return MediaFile(data, content_type)
