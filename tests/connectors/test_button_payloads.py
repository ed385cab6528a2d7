"""Long button payloads are understood by whichever process receives the tap.

WhatsApp reply ids and Telegram's callback data are too short for an FAQ question: the channel
sends a hash id and keeps the payload in the helpdesk database. Two channel instances stand for
two processes (nothing shared in memory); the tap sent by one is received by the other.
"""

from __future__ import annotations

from connectors.common import ServicesPayloadStore, ShortIds
from connectors.telegram import TelegramInput
from connectors.whatsapp import WhatsAppInput
from connectors.whatsapp.render import PayloadIds
from helpdesk.storage.button_payloads import ButtonPayloadRepository
from tests.connectors import test_telegram as tg
from tests.connectors import test_whatsapp as wa

LONG = '/ask_question{"faq_id": "sakti-reset-password", "question": "' + "x" * 300 + '"}'


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.fail = False
        self.saves = 0

    def save(self, short_id: str, payload: str) -> bool:
        self.saves += 1
        if self.fail:
            raise RuntimeError("database is locked")
        self.rows.setdefault(short_id, payload)
        return True

    def get(self, short_id: str) -> str | None:
        if self.fail:
            raise RuntimeError("database is locked")
        return self.rows.get(short_id)


def test_a_hash_id_made_in_one_process_is_read_in_another() -> None:
    store = MemoryStore()
    sender, receiver = PayloadIds(store=store), PayloadIds(store=store)
    short_id = sender.to_id(LONG)
    assert short_id.startswith("wa-payload:") and len(short_id) <= 256
    assert receiver.to_payload(short_id) == LONG
    assert PayloadIds().to_payload(short_id) is None  # without the store: unknown
    assert sender.to_id("/affirm") == "/affirm" and store.saves == 1  # short ones: no store


def test_a_failing_store_keeps_the_tap_working_here_and_retries_later() -> None:
    store = MemoryStore()
    store.fail = True
    ids = ShortIds("tg:", lambda p: len(p.encode()) <= 64, 40, store=store)
    short_id = ids.to_id(LONG)
    assert ids.to_payload(short_id) == LONG and ids.store_failures == 1
    store.fail = False
    assert ids.to_id(LONG) == short_id  # saved now
    assert store.rows == {short_id: LONG}
    other = ShortIds("tg:", lambda p: len(p.encode()) <= 64, 40, store=store)
    assert other.to_payload(short_id) == LONG


def test_attach_keeps_the_first_store() -> None:
    first, second = MemoryStore(), MemoryStore()
    ids = PayloadIds()
    ids.attach(first)
    ids.attach(second)
    ids.to_id(LONG)
    assert first.rows and not second.rows


async def test_whatsapp_tap_on_a_long_payload_reaches_rasa_in_another_process(
    services, collector, graph_api
) -> None:
    def process() -> WhatsAppInput:  # as credentials.yml builds it: its own output and mapping
        return WhatsAppInput(
            wa.ACCESS_TOKEN, wa.PHONE_NUMBER_ID, wa.APP_SECRET, wa.VERIFY_TOKEN, graph_api.url
        )

    services.inbound_messages.claim("whatsapp", "wamid.LAST", wa.SENDER)  # inside the window
    first = process()
    async with first.output:
        await first.output.send_text_with_buttons(
            wa.SENDER, "Pertanyaan terkait:", [{"title": "Reset password SAKTI", "payload": LONG}]
        )
    (body,) = graph_api.bodies
    reply_id = next(
        b["reply"]["id"] for b in body["interactive"]["action"]["buttons"]
    )  # the short id, not the payload
    assert reply_id != LONG and reply_id.startswith("wa-payload:")
    assert ButtonPayloadRepository(services.session_factory).get(reply_id) == LONG

    async with wa.serve(process(), collector) as second:
        assert await second.post(wa.delivery([wa.button_reply(reply_id, "Reset password")])) == 200
        await second.channel.drain()
    assert collector.texts == [LONG]


async def test_telegram_tap_on_a_long_payload_reaches_rasa_in_another_process(
    services, collector
) -> None:
    async with tg.running_bot_api() as bot_api:

        def process() -> TelegramInput:
            return TelegramInput(
                tg.ACCESS_TOKEN,
                tg.BOT_NAME,
                tg.WEBHOOK_URL,
                secret_token=tg.SECRET,
                api_url=bot_api.url,
                register_at_start=False,
            )

        first = process()
        await first.output.send_text_with_buttons(
            str(tg.CHAT_ID), "Pertanyaan terkait:", [{"title": "Reset password", "payload": LONG}]
        )
        await first.output.close()
        (sent,) = bot_api.calls("sendMessage")
        data = sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        assert data.startswith("tg:") and len(data.encode()) <= 64

        async with tg.serve(process(), collector) as second:
            assert (await second.post(tg.callback_update(data)))[0] == 200
    assert collector.texts == [LONG]


def test_the_services_store_uses_the_helpdesk_database(services) -> None:
    store = ServicesPayloadStore()
    assert store.save("tg:abc", LONG)
    assert ButtonPayloadRepository(services.session_factory).get("tg:abc") == LONG
    assert store.get("tg:abc") == LONG
