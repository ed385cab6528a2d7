"""A fake WhatsApp Cloud API for end-to-end tests: signed Meta deliveries into the assistant,
and a fake Graph API that records what the assistant sends.

Used by tests/e2e_live/test_whatsapp_live.py and the agent desk's browser test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import requests

SECRET = "app-secret-for-tests"
PHONE_NUMBER_ID = "109876543210"
TOKEN = "api-t0ken"
WHATSAPP_BLOCK = """
connectors.whatsapp.WhatsAppInput:
  access_token: ${WHATSAPP_ACCESS_TOKEN}
  phone_number_id: ${WHATSAPP_PHONE_NUMBER_ID}
  app_secret: ${WHATSAPP_APP_SECRET}
  verify_token: ${WHATSAPP_VERIFY_TOKEN}
  api_url: ${WHATSAPP_API_URL}
"""


class FakeGraph:
    """Records POST {base}/{phone_number_id}/messages bodies; answers like the Graph API.

    It serves media too: `add_media(media_id, data, mime_type)` makes `GET {base}/{media_id}`
    answer the JSON (`url`, `mime_type`, `file_size`) and `GET` of that url the bytes, both
    with the bearer token only (401 otherwise). `media_status` set to an error status makes
    every media request fail with it (the platform down); `media_gets` records the paths.
    Uploads (`POST {base}/{phone_number_id}/media`, multipart) are recorded in `uploads`
    (`path`, the form `fields`, the file's `filename`, `type` and `data`) and answered with
    a new media id (`{"id": "media-out-<n>"}`), or with `upload_status` when it is set.
    """

    def __init__(self, token: str = "test-access-token") -> None:
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.token = token
        self.media: dict[str, tuple[bytes, str]] = {}
        self.media_status: int | None = None
        self.media_gets: list[str] = []
        self.uploads: list[dict[str, Any]] = []
        self.upload_status: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with fake.lock:
                    fake.media_gets.append(self.path)
                error = {"error": {"message": "error", "code": 100}}
                if fake.media_status is not None:
                    failed = json.dumps(error).encode()
                    return self._answer(fake.media_status, failed, "application/json")
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, json.dumps(error).encode(), "application/json")
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[1] == "media-bytes" and parts[2] in fake.media:
                    data, mime_type = fake.media[parts[2]]
                    return self._answer(200, data, mime_type)
                if len(parts) == 2 and parts[1] in fake.media:
                    data, mime_type = fake.media[parts[1]]
                    info = {
                        "messaging_product": "whatsapp",
                        "url": f"{fake.url}/media-bytes/{parts[1]}",
                        "mime_type": mime_type,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "file_size": len(data),
                        "id": parts[1],
                    }
                    return self._answer(200, json.dumps(info).encode(), "application/json")
                return self._answer(404, json.dumps(error).encode(), "application/json")

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.endswith("/media"):
                    upload = {"path": self.path, **read_multipart(self.headers, raw)}
                    with fake.lock:
                        fake.uploads.append(upload)
                        media_id = f"media-out-{len(fake.uploads)}"
                    if fake.upload_status is not None:
                        error = {"error": {"message": "error", "code": 131053}}
                        failed = json.dumps(error).encode()
                        return self._answer(fake.upload_status, failed, "application/json")
                    answer = json.dumps({"id": media_id}).encode()
                    return self._answer(200, answer, "application/json")
                body = json.loads(raw or b"{}")
                with fake.lock:
                    fake.bodies.append({"path": self.path, **body})
                reply = json.dumps({"messages": [{"id": f"wamid.out{len(fake.bodies)}"}]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(reply.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v20.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_media(self, media_id: str, data: bytes, mime_type: str) -> None:
        """Serve `data` as the media `media_id`."""
        with self.lock:
            self.media[media_id] = (data, mime_type)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def recipients(self) -> set[str]:
        """Every phone the assistant sent something to."""
        with self.lock:
            return {str(b["to"]) for b in self.bodies if b.get("to")}

    def texts_to(self, phone: str) -> list[str]:
        """Every text the assistant sent to `phone` (body of text and interactive messages)."""
        with self.lock:
            bodies = [b for b in self.bodies if b.get("to") == phone]
        texts = []
        for body in bodies:
            if body.get("type") == "text":
                texts.append(body["text"]["body"])
            elif body.get("type") == "interactive":
                texts.append(body["interactive"]["body"]["text"])
        return texts

    def options_to(self, phone: str) -> list[tuple[str, str]]:
        """(id, title) of every button or list row of the last interactive message to `phone`."""
        with self.lock:
            bodies = [
                b for b in self.bodies if b.get("to") == phone and b.get("type") == "interactive"
            ]
        if not bodies:
            return []
        interactive = bodies[-1]["interactive"]
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            return [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
        return [
            (row["id"], row["title"])
            for section in action.get("sections", [])
            for row in section.get("rows", [])
        ]

    def wait_for(self, phone: str, needle: str, timeout: float = 30) -> list[str]:
        """Every text sent to `phone`, once one of them holds `needle`."""
        return wait_for_text(lambda: self.texts_to(phone), needle, phone, timeout)


def wait_for_text(
    texts: Callable[[], list[str]], needle: str, recipient: str, timeout: float = 30
) -> list[str]:
    """`texts()` once one of them holds `needle` (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = texts()
        if any(needle in text for text in sent):
            return sent
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never sent to {recipient}; sent: {texts()}")


def post_signed(url: str, payload: dict[str, Any], secret: str) -> requests.Response:
    """POST `payload` as Meta delivers it: JSON signed with the app secret
    (`X-Hub-Signature-256`), as WhatsApp, Messenger and Instagram webhooks receive it."""
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return requests.post(
        url,
        data=raw,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature},
        timeout=30,
    )


def read_multipart(headers: Any, raw: bytes) -> dict[str, Any]:
    """The fields and the (one) file of a multipart/form-data body: `fields` (name -> text),
    `filename`, `type` and `data` of the file part."""
    head = f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode()
    message = BytesParser(policy=email_policy.default).parsebytes(head + raw)
    found: dict[str, Any] = {"fields": {}, "filename": None, "type": None, "data": None}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            found.update(filename=part.get_filename(), type=part.get_content_type(), data=payload)
        else:
            found["fields"][str(name)] = payload.decode("utf-8")
    return found


def deliver(stack: Any, phone: str, name: str, text: str, message_id: str) -> requests.Response:
    """POST one signed Meta delivery of a text message."""
    return deliver_message(stack, phone, name, message_id, type="text", text={"body": text})


def press(
    stack: Any,
    phone: str,
    name: str,
    option: tuple[str, str],
    message_id: str,
    *,
    list_row: bool = False,
) -> requests.Response:
    """POST one signed Meta delivery of a reply button (or list row) pressed: `option` is the
    (id, title) the assistant sent (`FakeGraph.options_to`)."""
    kind = "list_reply" if list_row else "button_reply"
    reply = {"id": option[0], "title": option[1]}
    return deliver_message(
        stack, phone, name, message_id, type="interactive", interactive={"type": kind, kind: reply}
    )


def deliver_message(
    stack: Any, phone: str, name: str, message_id: str, **message: Any
) -> requests.Response:
    """POST one signed Meta delivery of a message (`message`: its type and content)."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550783881",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": phone}],
                            "messages": [
                                {
                                    "from": phone,
                                    "id": message_id,
                                    "timestamp": str(int(time.time())),
                                    **message,
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    return post_signed(f"{stack.rasa_url}/webhooks/whatsapp/webhook", payload, SECRET)


def whatsapp_env(graph: FakeGraph) -> dict[str, str]:
    """The environment that enables the WhatsApp channel against `graph`."""
    return {
        "WHATSAPP_ACCESS_TOKEN": "test-access-token",
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_APP_SECRET": SECRET,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WHATSAPP_API_URL": graph.url,
    }
