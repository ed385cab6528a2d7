"""The human handoff on Telegram end to end: updates into the whole assistant, the agent's
reply out to a fake Bot API server.

The whole assistant runs (tests/support/stack.py with `desk=True`) with the Telegram channel in its
credentials, as `make run` does when TELEGRAM_ACCESS_TOKEN is set, pointed at a fake Bot API
(`TELEGRAM_API_URL`) that records every request. The agent's side is played through the
helpdesk database (take, reply, resolve, as the desk's views do); the desk's worker delivers
through Rasa's HTTP API, which must send on the citizen's channel: Telegram's `sendMessage`
for the citizen's chat id. Office hours are always open here.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator
from urllib.parse import parse_qsl

import pytest
import requests

from tests.support.handoff_play import (
    create_agent,
    csat_ratings,
    desk_services,
    handoff_env,
    wait_for,
)
from tests.support.stack import DEFAULT_CREDENTIALS, MODEL, Stack

pytestmark = pytest.mark.live

BOT_ID = 7012345678
BOT_NAME = "HelpdeskKemenkeuBot"
ACCESS_TOKEN = f"{BOT_ID}:AAHfake-test-token_abcdefghijklmnopq"
SECRET = "s3cret-token_for-live-tests"
CHAT_ID = 555000111
TELEGRAM_BLOCK = """
connectors.telegram.TelegramInput:
  access_token: ${TELEGRAM_ACCESS_TOKEN}
  verify: ${TELEGRAM_BOT_NAME}
  webhook_url: ${TELEGRAM_WEBHOOK_URL}
  secret_token: ${TELEGRAM_SECRET_TOKEN}
  api_url: ${TELEGRAM_API_URL}
"""
AGENT = ("dewi", "Dewi Petugas", "sandi-rahasia-dewi-1")
#: The worker passes every 2 s; a delivery through Rasa takes well under a second more.
DELIVERY_TIMEOUT = 30


class FakeBotApi:
    """A Bot API server on a free port: records `POST /bot<token>/<method>`, answers like
    Telegram (form-encoded or JSON bodies)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                if "json" in (self.headers.get("Content-Type") or ""):
                    data = json.loads(raw or "{}")
                else:
                    data = dict(parse_qsl(raw, keep_blank_values=True))
                if isinstance(data.get("reply_markup"), str):
                    data["reply_markup"] = json.loads(data["reply_markup"])
                token, _, method = self.path.removeprefix("/bot").partition("/")
                with fake.lock:
                    fake.calls.append((token, method, data))
                    result = fake.result(method, data, len(fake.calls))
                body = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def result(method: str, data: dict[str, Any], count: int) -> Any:
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk", "username": BOT_NAME}
        if method.startswith("send"):
            message = {
                "message_id": 5000 + count,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk"},
                "chat": {"id": int(data["chat_id"]), "type": "private"},
                "date": int(time.time()),
            }
            if "text" in data:
                message["text"] = data["text"]
            return message
        return True  # setWebhook, answerCallbackQuery, ...

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The `sendMessage` requests for `chat_id`, in order."""
        with self.lock:
            return [
                data
                for _, method, data in self.calls
                if method == "sendMessage" and str(data.get("chat_id")) == str(chat_id)
            ]

    def texts_to(self, chat_id: int) -> list[str]:
        return [data.get("text", "") for data in self.sent_to(chat_id)]

    def tokens(self) -> set[str]:
        with self.lock:
            return {token for token, _, _ in self.calls}


@pytest.fixture(scope="module")
def bot_api() -> Iterator[FakeBotApi]:
    fake = FakeBotApi()
    yield fake
    fake.server.shutdown()


@pytest.fixture(scope="module")
def stack(bot_api: FakeBotApi) -> Iterator[Stack]:
    if not MODEL.is_file():
        pytest.skip("no trained model (make train)")
    env = {
        **handoff_env(),
        "TELEGRAM_ACCESS_TOKEN": ACCESS_TOKEN,
        "TELEGRAM_BOT_NAME": BOT_NAME,
        "TELEGRAM_WEBHOOK_URL": "https://helpdesk.contoh.go.id/webhooks/telegram/webhook",
        "TELEGRAM_SECRET_TOKEN": SECRET,
        "TELEGRAM_API_URL": bot_api.url,
    }
    with Stack(
        rasa=True, desk=True, env=env, credentials=DEFAULT_CREDENTIALS + TELEGRAM_BLOCK
    ) as running:
        yield running


@pytest.fixture(scope="module")
def services(stack: Stack) -> Iterator[Any]:
    """The helpdesk services on the stack's database, as the desk process builds them."""
    with desk_services(stack) as built:
        yield built


@pytest.fixture(scope="module")
def agent_id(services: Any) -> int:
    return create_agent(services, *AGENT).id


class Citizen:
    """Posts the citizen's text messages to the Telegram webhook, as Telegram does."""

    def __init__(self, stack: Stack, services: Any) -> None:
        self.stack = stack
        self.services = services
        self.update_id = int(time.time()) % 1_000_000 * 100

    def says(self, text: str) -> None:
        self.update_id += 1
        user = {"id": CHAT_ID, "is_bot": False, "first_name": "Budi", "language_code": "id"}
        update = {
            "update_id": self.update_id,
            "message": {
                "message_id": self.update_id,
                "from": user,
                "chat": {"id": CHAT_ID, "first_name": "Budi", "type": "private"},
                "date": int(time.time()),
                "text": text,
            },
        }
        response = requests.post(
            f"{self.stack.rasa_url}/webhooks/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ok"}
        # The webhook answers once the update is claimed; the dialogue handles it in the
        # background and marks it done after what the bot said was sent.
        key = f"{BOT_ID}:{self.update_id}"
        wait_for(
            lambda: (
                getattr(self.services.inbound_messages.get("telegram", key), "status", None)
                == "done"
            ),
            60,
            f"update {self.update_id} handled",
        )


def test_agent_reply_reaches_the_citizen_on_telegram(bot_api, stack, services, agent_id):
    sender = str(CHAT_ID)
    citizen = Citizen(stack, services)

    # `says` returns once the message was handled: what the bot said is sent.
    citizen.says("halo")
    assert bot_api.texts_to(CHAT_ID), "no greeting sent on Telegram"
    sent = len(bot_api.texts_to(CHAT_ID))
    citizen.says("bicara dengan petugas")
    queued = "\n".join(bot_api.texts_to(CHAT_ID)[sent:])
    assert "antrean" in queued, queued
    handoff = services.handoffs.open_for(sender)
    assert handoff is not None and handoff.status == "waiting"
    assert handoff.channel == "telegram"

    # Queued: the bot stays silent on Telegram.
    sent = len(bot_api.texts_to(CHAT_ID))
    citizen.says("SP2D kami nomor 260011301000123 belum masuk rekening")
    assert bot_api.texts_to(CHAT_ID)[sent:] == []

    # The agent takes the conversation and replies: the worker delivers on Telegram.
    service = services.handoff
    service.take(handoff.id, agent_id, max_conversations=3)
    reply = "Baik Pak Budi, kami cek ke KPPN dan kabari dalam 10 menit."
    message = service.reply(handoff.id, agent_id, reply)
    wait_for(lambda: reply in bot_api.texts_to(CHAT_ID), DELIVERY_TIMEOUT, "the agent's reply")
    assert bot_api.texts_to(CHAT_ID)[sent:] == [reply], "only the reply, once"
    wait_for(lambda: services.handoff_messages.get(message.id).status == "sent", 10, "marked sent")
    assert bot_api.tokens() == {ACCESS_TOKEN}, "every call with the bot's own token"

    # Resolve: thanks and the 1-5 agent rating question with its buttons, on Telegram.
    sent = len(bot_api.texts_to(CHAT_ID))
    assert service.resolve(handoff.id)
    rating = wait_for(
        lambda: next(
            (m for m in bot_api.sent_to(CHAT_ID)[sent:] if "layanan petugas" in m.get("text", "")),
            None,
        ),
        DELIVERY_TIMEOUT,
        "the agent rating question",
    )
    assert any("telah selesai" in t for t in bot_api.texts_to(CHAT_ID)[sent:])
    keyboard = rating.get("reply_markup", {}).get("inline_keyboard", [])
    titles = [button["text"] for row in keyboard for button in row]
    assert [t.split(" ", 1)[0] for t in titles] == ["1", "2", "3", "4", "5"], titles

    # The citizen types 5: thanked, and stored as an agent rating of this handoff.
    sent = len(bot_api.texts_to(CHAT_ID))
    citizen.says("5")
    thanks = "\n".join(bot_api.texts_to(CHAT_ID)[sent:])
    assert "Terima kasih atas penilaian" in thanks and "petugas" in thanks, thanks
    assert csat_ratings(services, sender) == [(5, "agent", handoff.id)]
