"""Play the held-out conversations of tests/conversations/*.yml against a live assistant.

One `Stack` (backend simulator loaded with tests/conversations/fixtures.json, action server,
Rasa server, all on free ports with a throw-away var dir) serves every conversation; each
turn is POSTed to the REST channel, with the stack's bearer token as an integrator's gateway
sends it (REST is then a SAKTI channel), and the bot's replies of that turn are checked.

The files' format, their loading and the checks of a turn's replies are in
scripts/conversations.py.

Usage:
    .venv/bin/python scripts/test_conversations.py [-k SUBSTRING] [--profile NAME] [--keep-going]

Exits 1 when a conversation fails, or when a conversation marked `xfail` passes (XPASS: the
defect looks fixed, remove the mark); 2 when the files or the stack are unusable.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

# Run as `python scripts/test_conversations.py`: the repository root, for `tests.support` and
# `helpdesk`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.conversations import (  # noqa: E402
    CONVERSATIONS_DIR,
    Conversation,
    ConversationFileError,
    check_mail,
    check_turn,
    expand,
    load_conversations,
    reply_text,
)
from tests.support.stack import MODEL, ROOT, Stack, StackError  # noqa: E402

FIXTURES = CONVERSATIONS_DIR / "fixtures.json"
#: The runner plays an integrator's authenticated REST gateway: REST is a SAKTI channel (the
#: sender id is the citizen's verified phone), which the settings allow only with a token.
REST_TOKEN = secrets.token_urlsafe(24)
STACK_ENV = {
    "HELPDESK_BACKEND_TIMEOUT": "4",
    "HELPDESK_SAKTI_CHANNELS": "whatsapp,rest",
    "HELPDESK_REST_TOKEN": REST_TOKEN,
}
REQUEST_TIMEOUT = 30.0


@dataclass
class TurnResult:
    index: int
    user: str
    replies: list[dict[str, Any]]
    seconds: float
    problems: list[str]


@dataclass
class Result:
    conversation: Conversation
    outcome: str  # PASS, FAIL, XFAIL, XPASS
    seconds: float
    turns: list[TurnResult]

    @property
    def failed_turn(self) -> TurnResult | None:
        return next((t for t in self.turns if t.problems), None)


# -- the time of day --------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _timezone(profile: str = "djpb") -> ZoneInfo:
    """The helpdesk's time zone as the assistant reads it (HELPDESK_TIMEZONE, also from .env,
    else the profile's)."""
    from helpdesk.settings import Settings, environment

    return Settings.from_env({**environment(), "HELPDESK_PROFILE": profile}).tz


def time_of_day(moment: datetime) -> str:
    """The part of the day the greeting must name (the assistant's own rule, unit-tested in
    tests/unit/test_greeting.py)."""
    from helpdesk.conversation.greeting import time_of_day as assistant_time_of_day

    return assistant_time_of_day(moment)


# -- e-mail -----------------------------------------------------------------------------------
class MailSink:
    """A local SMTP server (aiosmtpd) the stack sends its e-mails to (ticket notices to the
    helpdesk mailbox and to citizens): a turn's `mail:` checks what arrived during it."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[str] = []
        self._lock = threading.Lock()
        from scripts.servers import free_port

        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = "\n".join(
            [
                f"To: {', '.join(envelope.rcpt_tos)}",
                f"Subject: {message['Subject']}",
                body.get_content() if body is not None else "",
            ]
        )
        with self._lock:
            self.mails.append(text)
        return "250 OK"

    def __enter__(self) -> "MailSink":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def env(self) -> dict[str, str]:
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.port), "SMTP_STARTTLS": "false"}

    def since(self, mark: int, *, wait: float = 0.0) -> list[str]:
        """The mails that arrived after the first `mark`, waiting up to `wait` s for one."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                found = self.mails[mark:]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


# -- playing ----------------------------------------------------------------------------------
def set_clock(path: Path, conversation: Conversation) -> datetime | None:
    """Move the stack's test clock (HELPDESK_TEST_CLOCK_FILE) to the conversation's `clock:`
    (in the profile's time zone unless it has an offset), or back to the real time."""
    moment = conversation.clock
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=_timezone(conversation.profile))
    path.write_text(moment.isoformat() if moment is not None else "", encoding="utf-8")
    return moment


def play(
    session: requests.Session,
    url: str,
    conversation: Conversation,
    latencies: list[float],
    clock: datetime | None = None,
    mail: MailSink | None = None,
) -> Result:
    """Send every turn of a conversation until one fails (`clock`: the moment the stack's
    test clock is at, for the greeting's part of the day)."""
    sender = conversation.sender or f"conv-{uuid.uuid4().hex[:12]}"
    variables: dict[str, str] = {}
    tz = _timezone(conversation.profile)

    def current() -> datetime:
        return clock.astimezone(tz) if clock is not None else datetime.now(tz)

    results: list[TurnResult] = []
    started = time.perf_counter()
    for index, turn in enumerate(conversation.turns, start=1):
        tods = [time_of_day(current())]
        try:
            message = expand(turn.user, variables, tods, as_regex=False)[0]
        except KeyError as error:
            problem = f"placeholder ${{{error.args[0]}}} was never saved"
            results.append(TurnResult(index, turn.user, [], 0.0, [problem]))
            break
        mark = len(mail.mails) if mail is not None else 0
        sent = time.perf_counter()
        try:
            response = session.post(
                url, json={"sender": sender, "message": message}, timeout=REQUEST_TIMEOUT
            )
            response.raise_for_status()
            replies = response.json()
            if not isinstance(replies, list):
                raise ValueError(f"the REST channel answered {type(replies).__name__}")
        except (requests.RequestException, ValueError) as error:
            seconds = time.perf_counter() - sent
            results.append(TurnResult(index, message, [], seconds, [f"request failed: {error}"]))
            break
        seconds = time.perf_counter() - sent
        latencies.append(seconds)
        tods = list(dict.fromkeys([*tods, time_of_day(current())]))
        problems = check_turn(turn, replies, seconds, variables, tods)
        if turn.mail:
            mails = mail.since(mark, wait=3.0) if mail is not None else []
            problems += check_mail(turn, mails, variables)
        results.append(TurnResult(index, message, replies, seconds, problems))
        if problems:
            break
    failed = any(r.problems for r in results)
    if conversation.xfail:
        outcome = "XFAIL" if failed else "XPASS"
    else:
        outcome = "FAIL" if failed else "PASS"
    return Result(conversation, outcome, time.perf_counter() - started, results)


# -- reporting --------------------------------------------------------------------------------
def _indent(text: str, prefix: str = "        ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix + "(no reply)"


def report(result: Result) -> None:
    conversation = result.conversation
    turns = f"{len(result.turns)}/{len(conversation.turns)} turns"
    line = f"{result.outcome:5}  {conversation.source}: {conversation.name}"
    print(f"{line}  ({turns}, {result.seconds:.1f} s)", flush=True)
    if result.outcome in ("XFAIL", "XPASS"):
        print(f"       xfail: {conversation.xfail}")
    if result.outcome == "XPASS":
        print("       every turn passed: the defect looks fixed, remove the `xfail` mark")
    turn = result.failed_turn
    if turn is not None and result.outcome in ("FAIL", "XFAIL"):
        print(f"       turn {turn.index} ({turn.seconds:.2f} s): user: {turn.user!r}")
        for problem in turn.problems:
            print(f"         - {problem}")
        if result.outcome == "FAIL":
            print("       bot:")
            print(_indent(reply_text(turn.replies)))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def newer_than_model() -> list[str]:
    """Training inputs changed after the model was trained (its replies may be out of date)."""
    trained = MODEL.stat().st_mtime
    inputs = [ROOT / "config.yml", *ROOT.glob("domain/*.yml"), *ROOT.glob("data/**/*.yml")]
    return sorted(
        str(path.relative_to(ROOT)) for path in inputs if path.stat().st_mtime > trained + 1
    )


def warm_up(session: requests.Session, url: str, profile: str = "djpb") -> None:
    """Ask one FAQ question first (the first question of the profile's knowledge base): the
    action server builds the FAQ index of its fresh var dir on the first question (about
    15 s), which is no conversation's latency."""
    from helpdesk.knowledge.loader import load_faqs
    from helpdesk.profile import load_profile

    question = load_faqs(load_profile(profile).faq_source)[0].question
    started = time.perf_counter()
    try:
        session.post(
            url,
            json={"sender": f"warm-up-{uuid.uuid4().hex[:8]}", "message": question},
            timeout=120,
        )
    except requests.RequestException as error:
        print(f"warm-up failed ({error}); the first FAQ turn may be slow")
    print(f"warm-up (FAQ index build) {time.perf_counter() - started:.1f} s\n", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", dest="keyword", help="run only conversations whose name contains it")
    parser.add_argument(
        "--keep-going", action="store_true", help="run every conversation after a failure"
    )
    parser.add_argument(
        "--profile",
        action="append",
        help="run only the conversations of this profile (repeatable); default: every profile",
    )
    args = parser.parse_args(argv)

    try:
        conversations = load_conversations()
    except ConversationFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.profile:
        conversations = [c for c in conversations if c.profile in args.profile]
    if args.keyword:
        wanted = args.keyword.casefold()
        conversations = [c for c in conversations if wanted in c.name.casefold()]
    if not conversations:
        print("error: no conversation to run", file=sys.stderr)
        return 2
    if not MODEL.is_file():
        print(f"error: no trained model at {MODEL}; run `make train`", file=sys.stderr)
        return 2

    stale = newer_than_model()
    if stale:
        print(
            f"warning: {MODEL.relative_to(ROOT)} is older than {', '.join(stale)}; "
            "run `make train` for replies that match them"
        )
    total_turns = sum(len(c.turns) for c in conversations)
    profiles = list(dict.fromkeys(c.profile for c in conversations))
    print(
        f"{len(conversations)} conversations, {total_turns} turns, "
        f"profile(s) {', '.join(profiles)}; starting the stack..."
    )
    started = time.perf_counter()
    results: list[Result] = []
    latencies: list[float] = []
    played = 0.0
    stop = False
    clock_dir = tempfile.TemporaryDirectory(prefix="conversations-clock-")
    clock_file = Path(clock_dir.name) / "clock"
    sink = MailSink().__enter__()
    try:
        for profile in profiles:
            if stop:
                break
            env = {
                **STACK_ENV,
                "HELPDESK_PROFILE": profile,
                "HELPDESK_TEST_CLOCK_FILE": str(clock_file),
                **sink.env,
            }
            with Stack(rasa=True, fixtures=FIXTURES, env=env) as stack:
                ready = time.perf_counter()
                print(f"stack ({profile}) ready in {ready - started:.0f} s", flush=True)
                with requests.Session() as session:
                    session.headers["Authorization"] = f"Bearer {REST_TOKEN}"
                    warm_up(session, stack.rest_url, profile)
                    ready = time.perf_counter()
                    for conversation in (c for c in conversations if c.profile == profile):
                        moment = set_clock(clock_file, conversation)
                        result = play(
                            session, stack.rest_url, conversation, latencies, moment, sink
                        )
                        results.append(result)
                        report(result)
                        if result.outcome in ("FAIL", "XPASS") and not args.keep_going:
                            print("\nstopped at the first failure (--keep-going runs them all)")
                            stop = True
                            break
                played += time.perf_counter() - ready
                if any(r.outcome in ("FAIL", "XPASS") for r in results):
                    print("\n--- action server log (tail) ---")
                    print(stack.log_tail("actions", 3000))
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        sink.__exit__()
        clock_dir.cleanup()

    counts = {o: sum(r.outcome == o for r in results) for o in ("PASS", "FAIL", "XFAIL", "XPASS")}
    skipped = len(conversations) - len(results)
    total = time.perf_counter() - started
    print(
        "\n"
        + ", ".join(f"{n} {o.lower()}" for o, n in counts.items() if n or o in ("PASS", "FAIL"))
        + (f", {skipped} not run" if skipped else "")
        + f"; {len(latencies)} turns played in {played:.1f} s ({total:.0f} s in all)"
    )
    if latencies:
        print(
            f"turn latency: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms"
        )
    if stale:
        print(f"warning: the model is older than {', '.join(stale)} (run `make train`)")
    for result in results:
        if result.outcome == "XFAIL":
            print(f"known defect: {result.conversation.name}: {result.conversation.xfail}")
    return 1 if counts["FAIL"] or counts["XPASS"] or skipped else 0


if __name__ == "__main__":
    sys.exit(main())
