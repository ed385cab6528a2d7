"""The shared inbox: claim once, answer at once, in order per sender, mark done, recover."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest
from rasa.core.channels.channel import CollectingOutputChannel
from sqlalchemy.exc import DataError, OperationalError

from connectors.inbox import Accepted, Inbound, Inbox, InboxPolicy
from helpdesk.storage.inbound_messages import InboundMessageRepository
from tests.connectors.test_whatsapp import backdate, messages_counted, wait_until

SECRET_TEXT = "NIK saya 3201234567890001 tolong reset"
log = logging.getLogger("connectors.testchannel")


def item(key: str, text: str = "halo", sender: str = "6281234567890") -> Inbound:
    return Inbound(key, sender, "text", text, {"channel": "testchannel"}, label=f"#{key}")


def make_inbox(repository: Any, **policy: Any) -> Inbox:
    return Inbox(
        "testchannel",
        CollectingOutputChannel(),
        log=log,
        repository=repository,
        policy=InboxPolicy(**policy),
    )


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# =========================================================================== Inbound


def test_inbound_round_trips_through_json() -> None:
    message = Inbound("k1", "s1", "text", "hai", {"name": "Budi", "media": {"id": "x"}}, "#1")
    assert Inbound.from_json(message.to_json()) == message
    plain = Inbound("k2", "s2", "photo", "file-id")
    assert Inbound.from_json(plain.to_json()) == plain
    assert plain.log_id == "k2" and message.log_id == "#1"


def test_inbound_reads_what_whatsapp_stored_before_the_inbox() -> None:
    stored = (
        '{"message_id": "wamid.A", "sender": "6281", "type": "text", "text": "hai", '
        '"metadata": {"name": "Budi"}}'
    )
    assert Inbound.from_json(stored) == Inbound("wamid.A", "6281", "text", "hai", {"name": "Budi"})


@pytest.mark.parametrize("data", ["[1]", '{"text": "x"}', '{"message_id": "a"}'])
def test_inbound_refuses_what_it_did_not_write(data: str) -> None:
    with pytest.raises(ValueError):
        Inbound.from_json(data)


@pytest.mark.parametrize(
    ("accepted", "answer"),
    [
        (Accepted(), (200, "ok")),
        (Accepted(claimed=(item("a"),)), (200, "ok")),
        (Accepted(duplicates=(item("a"),)), (200, "duplicate")),
        (Accepted(claimed=(item("a"),), duplicates=(item("b"),)), (200, "ok")),
        (Accepted(error=OperationalError("x", {}, Exception())), (503, "unavailable")),
        (Accepted(error=DataError("x", {}, Exception())), (200, "ok")),
        (Accepted(error=UnicodeEncodeError("utf-8", "x", 0, 1, "no")), (200, "ok")),
    ],
)
def test_the_answer_for_the_platform(accepted: Accepted, answer: tuple[int, str]) -> None:
    assert accepted.answer() == answer


# =========================================================================== delivery


async def test_a_delivery_is_claimed_handled_and_marked_done_once(collector, repository) -> None:
    inbox = make_inbox(repository)
    accepted = await inbox.accept([item("k1"), item("k2", "apa kabar")], collector.handle_message)
    assert [i.key for i in accepted.claimed] == ["k1", "k2"] and accepted.answer() == (200, "ok")
    await inbox.drain()
    again = await inbox.accept([item("k1")], collector.handle_message)
    assert again.answer() == (200, "duplicate") and [i.key for i in again.duplicates] == ["k1"]
    await inbox.drain()
    assert collector.texts == ["halo", "apa kabar"]
    first = collector.messages[0]
    assert (first.sender_id, first.input_channel, first.message_id) == (
        "6281234567890",
        "testchannel",
        "k1",
    )
    assert repository.get("testchannel", "k1").status == "done"


async def test_the_answer_does_not_wait_for_the_dialogue(collector, repository) -> None:
    collector.block = asyncio.Event()
    inbox = make_inbox(repository)
    accepted = await asyncio.wait_for(
        inbox.accept([item("k1")], collector.handle_message), timeout=2
    )
    assert accepted.answer() == (200, "ok")
    await wait_until(lambda: len(collector.messages) == 1)
    assert repository.get("testchannel", "k1").status == "received"
    # a re-delivery while the message is in work here is only acknowledged
    assert (await inbox.accept([item("k1")], collector.handle_message)).duplicates
    collector.block.set()
    assert await inbox.drain(5)
    assert repository.get("testchannel", "k1").status == "done"
    assert collector.texts == ["halo"]


async def test_messages_of_one_sender_are_handled_in_order_others_in_parallel(
    collector, repository
) -> None:
    collector.block = asyncio.Event()
    inbox = make_inbox(repository)
    await inbox.accept([item("a1", "satu"), item("a2", "dua")], collector.handle_message)
    await inbox.accept([item("b1", "lain", sender="6289999")], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 2)
    await asyncio.sleep(0.05)
    assert sorted(collector.texts) == ["lain", "satu"]  # "dua" waits for "satu"
    collector.block.set()
    await inbox.drain()
    assert collector.texts.index("satu") < collector.texts.index("dua")


async def test_a_senders_messages_claimed_in_two_processes_are_handled_in_claim_order(
    collector, repository, session_factory
) -> None:
    collector.block = asyncio.Event()
    first, second = make_inbox(repository), make_inbox(InboundMessageRepository(session_factory))
    await first.accept([item("a1", "satu")], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 1)
    # The next message reaches the other process (another Rasa server behind the balancer).
    await second.accept([item("a2", "dua")], collector.handle_message)
    await second.accept([item("b1", "lain", sender="6289999")], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 2)
    await asyncio.sleep(0.3)
    assert collector.texts == ["satu", "lain"]  # "dua" waits for "satu", "lain" does not
    collector.block.set()
    assert await first.drain(5) and await second.drain(5)
    assert collector.texts == ["satu", "lain", "dua"]
    assert repository.get("testchannel", "a2").status == "done"


async def test_an_earlier_message_in_work_elsewhere_holds_the_next_one_only_so_long(
    collector, repository, caplog
) -> None:
    # Claimed just now by another process that never finishes it: the next one waits, then
    # goes on.
    assert repository.claim("testchannel", "a1", "6281234567890", item("a1", "satu").to_json())
    inbox = make_inbox(repository, order_timeout=0.3)
    await inbox.accept([item("a2", "dua")], collector.handle_message)
    await asyncio.sleep(0.15)
    assert collector.texts == []
    assert await inbox.drain(5)
    assert collector.texts == ["dua"]
    assert "waited 0 s for 1 earlier ones" in log_text(caplog)


async def test_an_earlier_message_left_by_a_dead_process_is_taken_over_and_handled_first(
    collector, repository, session_factory, caplog
) -> None:
    caplog.set_level(logging.INFO)
    assert repository.claim("testchannel", "a1", "6281234567890", item("a1", "satu").to_json())
    backdate(session_factory, "a1", timedelta(minutes=5))  # its process died long ago
    first, second = make_inbox(repository), make_inbox(InboundMessageRepository(session_factory))
    await first.accept([item("a2", "dua")], collector.handle_message)
    await second.accept([item("a3", "tiga")], collector.handle_message)
    assert await first.drain(5) and await second.drain(5)
    assert collector.texts == ["satu", "dua", "tiga"]  # in claim order, each once
    assert all(repository.get("testchannel", k).status == "done" for k in ("a1", "a2", "a3"))
    assert "unfinished message #a1 from" in log_text(caplog)
    # Recovery finds nothing left to do.
    assert await first.recover(collector.handle_message) == 0


async def test_an_earlier_message_recovered_here_after_a_later_one_does_not_stall_it(
    collector, repository, session_factory
) -> None:
    # a1 was left by a crash; a2 arrives and holds the sender's turn while recovery (in this
    # process) starts a1 behind it: a2 must not wait for a1, which waits for a2's turn.
    assert repository.claim("testchannel", "a1", "6281234567890", item("a1", "satu").to_json())
    backdate(session_factory, "a1", timedelta(minutes=5))
    inbox = make_inbox(repository, order_timeout=30)
    inbox._in_work.add("a1")  # recovery has a1 in work, queued behind a2
    await inbox.accept([item("a2", "dua")], collector.handle_message)
    await asyncio.wait_for(inbox.drain(), 5)
    assert collector.texts == ["dua"]


async def test_a_failed_handling_is_logged_without_content_and_marked_done(
    collector, repository, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.testchannel")
    collector.fail_with = RuntimeError(f"could not parse {SECRET_TEXT!r}")
    inbox = make_inbox(repository)
    await inbox.accept([item("k1", SECRET_TEXT)], collector.handle_message)
    await inbox.drain()
    assert repository.get("testchannel", "k1").status == "done"
    text = log_text(caplog)
    assert "RuntimeError" in text and "#k1" in text and "***7890" in text
    assert SECRET_TEXT not in text and "6281234567890" not in text


class FailingRepository(InboundMessageRepository):
    """Claims the first `good` messages, then raises `error`."""

    def __init__(self, session_factory, error: Exception, good: int = 0) -> None:
        super().__init__(session_factory)
        self.error = error
        self.good = good

    def claim(self, *args: Any, **kwargs: Any) -> bool:
        if self.good <= 0:
            raise self.error
        self.good -= 1
        return super().claim(*args, **kwargs)


async def test_a_database_failure_asks_the_platform_to_retry(
    collector, session_factory, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.testchannel")
    error = OperationalError("INSERT ...", {"payload": SECRET_TEXT}, Exception("disk I/O error"))
    inbox = make_inbox(FailingRepository(session_factory, error, good=1))
    accepted = await inbox.accept([item("k1"), item("k2", SECRET_TEXT)], collector.handle_message)
    assert accepted.answer() == (503, "unavailable")
    await inbox.drain()
    assert collector.texts == ["halo"]  # what was claimed before the failure is handled
    assert "OperationalError" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


async def test_content_the_database_refuses_is_acknowledged_and_dropped(
    collector, session_factory, caplog
) -> None:
    caplog.set_level(logging.DEBUG, logger="connectors.testchannel")
    inbox = make_inbox(FailingRepository(session_factory, DataError("INSERT", {}, Exception())))
    accepted = await inbox.accept([item("k1", SECRET_TEXT)], collector.handle_message)
    assert accepted.answer() == (200, "ok") and accepted.dropped
    await inbox.drain()
    assert collector.messages == []
    assert "dropped" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


# =========================================================================== recovery


async def test_a_redelivery_takes_over_a_claim_a_crash_left(
    collector, repository, session_factory
) -> None:
    assert repository.claim("testchannel", "k1", "6281234567890")  # the process died here
    backdate(session_factory, "k1", timedelta(minutes=5))
    inbox = make_inbox(repository)
    accepted = await inbox.accept([item("k1", "tolong")], collector.handle_message)
    assert [i.key for i in accepted.claimed] == ["k1"]
    await inbox.drain()
    assert collector.texts == ["tolong"]
    assert repository.get("testchannel", "k1").status == "done"


async def test_a_young_claim_of_another_process_is_left_alone(collector, repository) -> None:
    assert repository.claim("testchannel", "k1", "6281234567890")  # in work elsewhere
    inbox = make_inbox(repository)
    assert (await inbox.accept([item("k1")], collector.handle_message)).duplicates
    assert await inbox.recover(collector.handle_message) == 0
    await inbox.drain()
    assert collector.messages == []
    assert repository.get("testchannel", "k1").status == "received"


async def test_recovery_handles_unfinished_messages_once_across_processes(
    collector, repository, session_factory
) -> None:
    for n in range(3):
        assert repository.claim("testchannel", f"k{n}", "6281234567890", item(f"k{n}").to_json())
        backdate(session_factory, f"k{n}", timedelta(minutes=5))
    first = make_inbox(repository)
    second = make_inbox(InboundMessageRepository(session_factory))
    counts = await asyncio.gather(
        first.recover(collector.handle_message), second.recover(collector.handle_message)
    )
    await first.drain()
    await second.drain()
    assert sum(counts) == 3
    assert sorted(m.message_id for m in collector.messages) == ["k0", "k1", "k2"]


async def test_recovery_skips_what_this_process_has_in_work(
    collector, repository, session_factory
) -> None:
    collector.block = asyncio.Event()
    inbox = make_inbox(repository, recovery_delay=timedelta(0))
    await inbox.accept([item("k1")], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 1)
    assert await inbox.recover(collector.handle_message) == 0
    collector.block.set()
    await inbox.drain()
    assert collector.texts == ["halo"]


async def test_recovery_drops_old_or_unreadable_messages(
    collector, repository, session_factory, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.testchannel")
    assert repository.claim("testchannel", "old", "6281", item("old", SECRET_TEXT).to_json())
    backdate(session_factory, "old", timedelta(hours=25))
    assert repository.claim("testchannel", "bare", "6281")  # stored without a payload
    backdate(session_factory, "bare", timedelta(minutes=5))
    inbox = make_inbox(repository)
    assert await inbox.recover(collector.handle_message) == 0
    assert collector.messages == []
    assert repository.get("testchannel", "old").status == "done"
    assert repository.get("testchannel", "bare").status == "done"
    assert "dropped" in log_text(caplog) and SECRET_TEXT not in log_text(caplog)


async def test_recovery_leaves_other_channels_alone(collector, repository, session_factory) -> None:
    assert repository.claim("otherchannel", "k1", "6281", item("k1").to_json())
    backdate(session_factory, "k1", timedelta(minutes=5))
    assert await make_inbox(repository).recover(collector.handle_message) == 0
    assert repository.get("otherchannel", "k1").status == "received"


async def test_start_recovers_at_once_and_again_after_the_delay(collector, repository) -> None:
    inbox = make_inbox(
        repository, recovery_delay=timedelta(seconds=0.3), recovery_interval=0.1, heartbeat=0.05
    )
    inbox.start(collector.handle_message)
    # claimed just after the start by a process that then died
    assert repository.claim("testchannel", "k1", "6281", item("k1").to_json())
    await wait_until(lambda: collector.texts == ["halo"])
    assert await inbox.stop()
    assert repository.get("testchannel", "k1").status == "done"


async def test_a_claim_in_work_is_renewed_and_not_taken_over_by_another_process(
    collector, repository, session_factory
) -> None:
    """A message that waits long in a live process (for the sender's earlier ones, for Rasa's
    lock) is not another process's to handle: its claim is renewed while in work."""
    collector.block = asyncio.Event()
    inbox = make_inbox(repository)
    await inbox.accept([item("k1")], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 1)
    backdate(session_factory, "k1", timedelta(minutes=5))  # long in work
    other = make_inbox(InboundMessageRepository(session_factory))

    assert await inbox.heartbeat() == 1

    assert await other.recover(collector.handle_message) == 0
    assert not repository.reclaim("testchannel", "k1", timedelta(minutes=1))
    collector.block.set()
    assert await inbox.drain(5)
    assert collector.texts == ["halo"]  # once
    assert await inbox.heartbeat() == 0  # nothing in work, nothing renewed


def test_touch_renews_only_unfinished_claims_of_its_channel(repository, session_factory) -> None:
    for channel, key in [("testchannel", "k1"), ("testchannel", "k2"), ("otherchannel", "k3")]:
        assert repository.claim(channel, key, "6281", item(key).to_json())
        backdate(session_factory, key, timedelta(minutes=5))
    assert repository.mark_done("testchannel", "k2")

    assert repository.touch("testchannel", ["k1", "k2", "k3", "unknown"]) == 1
    assert repository.touch("testchannel", []) == 0

    minute = timedelta(minutes=1)
    assert not repository.reclaim("testchannel", "k1", minute)  # renewed just now
    assert repository.reclaim("otherchannel", "k3", minute)  # another channel's: left old


async def test_a_running_inbox_keeps_its_claims_alive_past_the_recovery_delay(
    collector, repository, session_factory
) -> None:
    collector.block = asyncio.Event()
    policy = {"recovery_delay": timedelta(seconds=0.3), "heartbeat": 0.05}
    inbox = make_inbox(repository, **policy)
    inbox.start(collector.handle_message)
    await inbox.accept([item("k1")], collector.handle_message)
    await asyncio.sleep(0.8)  # in work for over twice the recovery delay
    other = make_inbox(InboundMessageRepository(session_factory), **policy)

    assert await other.recover(collector.handle_message) == 0

    collector.block.set()
    assert await inbox.stop()
    assert collector.texts == ["halo"]


async def test_a_survivor_takes_over_a_dead_process_s_claims_without_a_restart(
    collector, repository
) -> None:
    survivor = make_inbox(
        repository, recovery_delay=timedelta(seconds=0.3), recovery_interval=0.1, heartbeat=0.05
    )
    survivor.start(collector.handle_message)
    await asyncio.sleep(0.15)  # its start's recovery is over
    # claimed by a process that died at once (no heartbeat renews it)
    assert repository.claim("testchannel", "k1", "6281", item("k1").to_json())

    await wait_until(lambda: collector.texts == ["halo"])

    assert await survivor.stop()
    assert repository.get("testchannel", "k1").status == "done"


async def test_a_failing_heartbeat_is_logged_and_the_message_still_handled(
    collector, repository, caplog
) -> None:
    class Broken(InboundMessageRepository):
        def touch(self, channel, message_ids):
            raise OperationalError("UPDATE", {}, Exception("database is locked"))

    collector.block = asyncio.Event()
    inbox = make_inbox(Broken(repository._sessions))
    await inbox.accept([item("k1", SECRET_TEXT)], collector.handle_message)
    await wait_until(lambda: len(collector.messages) == 1)

    assert await inbox.heartbeat() == 0

    assert "could not renew the claims of 1 messages in work (OperationalError)" in log_text(caplog)
    assert SECRET_TEXT not in log_text(caplog)
    collector.block.set()
    assert await inbox.drain(5)
    assert repository.get("testchannel", "k1").status == "done"


async def test_stop_waits_for_work_and_reports_what_is_left(collector, repository, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.testchannel")
    collector.block = asyncio.Event()
    inbox = make_inbox(repository, shutdown_timeout=0.1)
    await inbox.accept([item("k1")], collector.handle_message)
    assert await inbox.stop() is False
    assert "still in work at shutdown" in log_text(caplog)
    collector.block.set()
    await inbox.drain()
    assert repository.get("testchannel", "k1").status == "done"


# =========================================================================== the reply ledger


class Replier:
    """Stands in for Rasa: answers each message with `replies` texts through its output
    channel; with `die_after` set, stops for good after that many (a `kill -9` mid-turn)."""

    def __init__(self, replies: int, die_after: int | None = None) -> None:
        self.replies = replies
        self.die_after = die_after

    async def handle_message(self, user_message: Any) -> None:
        for n in range(1, self.replies + 1):
            if self.die_after is not None and n > self.die_after:
                await asyncio.Event().wait()  # never set: the process is gone
            await user_message.output_channel.send_response(
                user_message.sender_id, {"text": f"{user_message.message_id} balasan {n}"}
            )


def sent_texts(inbox: Inbox) -> list[str]:
    return [m["text"] for m in inbox.output.messages]


async def test_a_new_messages_replies_are_recorded_as_they_go_out(repository) -> None:
    inbox = make_inbox(repository)
    received_before = messages_counted("other", "in")  # "testchannel" is no known channel
    await inbox.accept([item("k1")], Replier(2).handle_message)
    await inbox.drain()
    assert messages_counted("other", "in") - received_before == 1
    assert sent_texts(inbox) == ["k1 balasan 1", "k1 balasan 2"]
    assert repository.replies_sent("testchannel", "k1") == {1, 2}


async def test_a_turn_cut_short_by_a_crash_sends_only_what_did_not_go_out(
    repository, session_factory, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="connectors.testchannel")
    dead = make_inbox(repository)
    await dead.accept([item("k1")], Replier(3, die_after=2).handle_message)
    await wait_until(lambda: len(sent_texts(dead)) == 2)
    for task in list(dead._tasks):  # the process is killed: nothing more of it runs
        task.cancel()
    await dead.drain()
    assert repository.get("testchannel", "k1").status == "received"
    backdate(session_factory, "k1", timedelta(minutes=5))

    survivor = make_inbox(InboundMessageRepository(session_factory))
    assert await survivor.recover(Replier(3).handle_message) == 1
    await survivor.drain()
    assert sent_texts(survivor) == ["k1 balasan 3"]
    assert repository.replies_sent("testchannel", "k1") == {1, 2, 3}
    assert repository.get("testchannel", "k1").status == "done"
    assert "reply 1 to k1 went out before the crash; not sent again" in log_text(caplog)


async def test_a_redelivery_that_takes_over_also_skips_what_went_out(
    repository, session_factory
) -> None:
    assert repository.claim("testchannel", "k1", "6281234567890", item("k1").to_json())
    assert repository.record_reply("testchannel", "k1", 1)
    backdate(session_factory, "k1", timedelta(minutes=5))
    inbox = make_inbox(repository)
    accepted = await inbox.accept([item("k1")], Replier(2).handle_message)
    await inbox.drain()
    assert [i.key for i in accepted.claimed] == ["k1"]
    assert sent_texts(inbox) == ["k1 balasan 2"]


class UnreadableLedger(InboundMessageRepository):
    def replies_sent(self, channel: str, cause: str) -> frozenset[int]:
        raise OperationalError("SELECT", {}, Exception("database is locked"))


async def test_a_ledger_that_cannot_be_read_never_holds_a_reply_back(
    repository, session_factory, caplog
) -> None:
    assert repository.claim("testchannel", "k1", "6281234567890", item("k1").to_json())
    assert repository.record_reply("testchannel", "k1", 1)
    backdate(session_factory, "k1", timedelta(minutes=5))
    inbox = make_inbox(UnreadableLedger(session_factory))
    assert await inbox.recover(Replier(2).handle_message) == 1
    await inbox.drain()
    assert sent_texts(inbox) == ["k1 balasan 1", "k1 balasan 2"]
    assert "could not read the replies sent for k1 (OperationalError); sending" in log_text(caplog)


async def test_the_turns_output_channel_is_the_channels_by_name_and_attributes(repository) -> None:
    inbox = make_inbox(repository)
    collector_output: list[Any] = []

    async def handle(user_message: Any) -> None:
        collector_output.append(user_message.output_channel)

    await inbox.accept([item("k1")], handle)
    await inbox.drain()
    (output,) = collector_output
    assert output.name() == "collector" and output.wrapped is inbox.output
    assert output.messages is inbox.output.messages


async def test_a_message_rasa_saved_before_the_crash_is_only_marked_done(
    collector, repository, session_factory, caplog
) -> None:
    """Killed between Rasa saving the turn and the inbox marking it done: handling it again
    would answer the next step of the conversation with this message's words."""
    caplog.set_level(logging.INFO, logger="connectors.testchannel")
    for key in ("saved", "unsaved"):
        assert repository.claim("testchannel", key, "6281234567890", item(key).to_json())
        backdate(session_factory, key, timedelta(minutes=5))
    asked: list[tuple[str, str]] = []

    async def recorded(sender_id: str, message_id: str) -> bool:
        asked.append((sender_id, message_id))
        return message_id == "saved"

    inbox = make_inbox(repository)
    inbox._recorded = recorded
    await inbox.recover(collector.handle_message)
    await inbox.drain()
    assert [m.message_id for m in collector.messages] == ["unsaved"]
    assert sorted(asked) == [("6281234567890", "saved"), ("6281234567890", "unsaved")]
    assert repository.get("testchannel", "saved").status == "done"
    assert "message #saved was handled before the crash; not handled again" in log_text(caplog)


async def test_a_new_message_is_not_looked_up_and_a_failing_lookup_handles_it(
    collector, repository, session_factory, caplog
) -> None:
    async def broken(sender_id: str, message_id: str) -> bool:
        raise ConnectionError("tracker store down")

    inbox = make_inbox(repository)
    inbox._recorded = broken
    await inbox.accept([item("new")], collector.handle_message)  # new: no lookup at all
    assert repository.claim("testchannel", "old", "6281234567890", item("old").to_json())
    backdate(session_factory, "old", timedelta(minutes=5))
    await inbox.recover(collector.handle_message)
    await inbox.drain()
    assert sorted(m.message_id for m in collector.messages) == ["new", "old"]
    assert "could not check whether message #old was handled (ConnectionError)" in log_text(caplog)


async def test_recorded_by_reads_the_latest_session_of_the_agents_tracker_store() -> None:
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from connectors.common import recorded_by

    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker("6281234567890", slots=[])
    tracker.update(UserUttered("halo", message_id="wamid.A"))
    await store.save(tracker)
    recorded = recorded_by(
        SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    )
    assert await recorded("6281234567890", "wamid.A")
    assert not await recorded("6281234567890", "wamid.B")
    assert not await recorded("6289999999999", "wamid.A")
    assert not await recorded_by(SimpleNamespace(ctx=SimpleNamespace()))("6281234567890", "wamid.A")
