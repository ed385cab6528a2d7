"""The conversation files of tests/conversations/*.yml: their format, loading them, and checking
the bot's replies of one turn against a turn's expectations (scripts/test_conversations.py plays
them against a live assistant).

A conversation file looks like::

    conversations:
      - name: SP2D found with both values in one message
        sender: "6281111111111"        # optional; default: a fresh random id
        xfail: "reason"                # optional: a known assistant defect
        turns:
          - user: cek sp2d 261234501000777 rek 0012345678
            expect: ["Rp25.500.000"]   # substrings, case-insensitive, whitespace collapsed
            expect_not: ["tidak kami temukan"]
            expect_regex: ["\\b15 digit\\b"]   # re.search on the raw replies, case-sensitive
            buttons: ["/create_ticket"]        # button payloads that must be offered
            max_seconds: 8                     # the turn must be answered within this time
            save: {ticket: "\\d{8}-[A-Z]{6}"}  # remember a match (group 1 if any) as ${ticket}

`${name}` in a turn's text or expectations is replaced by a saved value; `${time_of_day}` by
the part of the day in the helpdesk's time zone ("pagi", "siang", "sore", "malam").
The checked text is every reply's text plus its buttons' titles and payloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

CONVERSATIONS_DIR = Path(__file__).resolve().parent.parent / "tests" / "conversations"
CONVERSATION_KEYS = {"name", "sender", "xfail", "turns", "clock"}
TURN_KEYS = {"user", "expect", "expect_not", "expect_regex", "buttons", "max_seconds", "save"}
TURN_KEYS |= {"mail"}
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class ConversationFileError(ValueError):
    """A conversation file is malformed (the message names the file and the place)."""


@dataclass
class Turn:
    user: str
    expect: list[str] = field(default_factory=list)
    expect_not: list[str] = field(default_factory=list)
    expect_regex: list[str] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)
    max_seconds: float | None = None
    save: dict[str, str] = field(default_factory=dict)
    #: Texts the e-mails sent during the turn must hold (headers and body, one mail each).
    mail: list[str] = field(default_factory=list)


@dataclass
class Conversation:
    name: str
    source: str
    turns: list[Turn]
    sender: str | None = None
    xfail: str | None = None
    #: The organisation's profile the conversation is played against (the file's `profile:`).
    profile: str = "djpb"
    #: The moment office hours and greetings go by while it plays ("2026-12-07T19:30", in
    #: the profile's time zone unless it has an offset); None: the real time.
    clock: datetime | None = None


# -- loading ----------------------------------------------------------------------------------
def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConversationFileError(f"{where} must be a string or a list of strings")


def _turn(raw: Any, where: str) -> Turn:
    if not isinstance(raw, dict):
        raise ConversationFileError(f"{where} must be a mapping")
    unknown = sorted(set(raw) - TURN_KEYS)
    if unknown:
        raise ConversationFileError(f"{where} has an unknown key {unknown[0]!r}")
    user = raw.get("user")
    if not isinstance(user, (str, int)) or str(user).strip() == "":
        raise ConversationFileError(f"{where}.user must be a non-empty string")
    save = raw.get("save") or {}
    if not isinstance(save, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in save.items()
    ):
        raise ConversationFileError(f"{where}.save must map names to regular expressions")
    max_seconds = raw.get("max_seconds")
    if max_seconds is not None and (
        isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
    ):
        raise ConversationFileError(f"{where}.max_seconds must be a number")
    turn = Turn(
        user=str(user),
        expect=_strings(raw.get("expect"), f"{where}.expect"),
        expect_not=_strings(raw.get("expect_not"), f"{where}.expect_not"),
        expect_regex=_strings(raw.get("expect_regex"), f"{where}.expect_regex"),
        buttons=_strings(raw.get("buttons"), f"{where}.buttons"),
        mail=_strings(raw.get("mail"), f"{where}.mail"),
        max_seconds=float(max_seconds) if max_seconds is not None else None,
        save=dict(save),
    )
    for pattern in [*turn.expect_regex, *turn.save.values()]:
        try:
            re.compile(_PLACEHOLDER.sub("x", pattern))
        except re.error as error:
            raise ConversationFileError(
                f"{where}: bad regular expression {pattern!r}: {error}"
            ) from error
    return turn


def _clock(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):  # YAML reads an unquoted timestamp itself
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as error:
        raise ConversationFileError(f"{where}: {value!r} is not a date and time") from error


def load_conversations(directory: Path = CONVERSATIONS_DIR) -> list[Conversation]:
    """Every conversation of `directory/*.yml`, checked for shape, unique names and senders."""
    conversations: list[Conversation] = []
    for path in sorted(directory.glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ConversationFileError(f"{path.name}: not valid YAML: {error}") from error
        items = data.get("conversations") if isinstance(data, dict) else None
        profile = data.get("profile", "djpb") if isinstance(data, dict) else "djpb"
        if not isinstance(profile, str) or not profile.strip():
            raise ConversationFileError(f"{path.name}: `profile:` names a folder of profiles/")
        if not isinstance(items, list) or not items:
            raise ConversationFileError(f"{path.name}: needs a non-empty `conversations:` list")
        for index, raw in enumerate(items):
            where = f"{path.name}: conversations[{index}]"
            if not isinstance(raw, dict):
                raise ConversationFileError(f"{where} must be a mapping")
            unknown = sorted(set(raw) - CONVERSATION_KEYS)
            if unknown:
                raise ConversationFileError(f"{where} has an unknown key {unknown[0]!r}")
            name = raw.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ConversationFileError(f"{where}.name must be a non-empty string")
            turns = raw.get("turns")
            if not isinstance(turns, list) or not turns:
                raise ConversationFileError(f"{where} ({name}) needs a non-empty `turns:` list")
            sender, xfail = raw.get("sender"), raw.get("xfail")
            clock = _clock(raw.get("clock"), f"{where}.clock")
            if sender is not None and not isinstance(sender, str):
                raise ConversationFileError(f"{where}.sender must be a quoted string")
            if xfail is not None and (not isinstance(xfail, str) or not xfail.strip()):
                raise ConversationFileError(f"{where}.xfail must be the reason (a string)")
            conversations.append(
                Conversation(
                    name=name.strip(),
                    source=path.name,
                    turns=[_turn(t, f"{where}.turns[{i}]") for i, t in enumerate(turns)],
                    sender=sender,
                    xfail=xfail,
                    profile=profile.strip(),
                    clock=clock,
                )
            )
    names: dict[str, str] = {}
    senders: dict[str, str] = {}
    for conversation in conversations:
        if conversation.name in names:
            raise ConversationFileError(
                f"{conversation.source}: conversation name {conversation.name!r} is also "
                f"used in {names[conversation.name]}"
            )
        names[conversation.name] = conversation.source
        # Conversations are independent: one sender id (tracker) per conversation.
        if conversation.sender is not None:
            if conversation.sender in senders:
                raise ConversationFileError(
                    f"{conversation.source}: {conversation.name!r} reuses the sender "
                    f"{conversation.sender} of {senders[conversation.sender]!r}"
                )
            senders[conversation.sender] = conversation.name
    return conversations


# -- checking ---------------------------------------------------------------------------------
def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def reply_text(replies: list[dict[str, Any]]) -> str:
    """What the checks read: each reply's text, then its buttons' titles and payloads."""
    lines: list[str] = []
    for reply in replies:
        if reply.get("text"):
            lines.append(str(reply["text"]))
        for button in reply.get("buttons") or []:
            lines.append(f"[{button.get('title', '')}]({button.get('payload', '')})")
        for key in ("image", "attachment", "custom"):
            if reply.get(key):
                lines.append(f"<{key}: {reply[key]}>")
    return "\n".join(lines)


def expand(template: str, variables: dict[str, str], tods: list[str], as_regex: bool) -> list[str]:
    """The template with `${name}` replaced: one variant per possible part of the day."""

    def fill(tod: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            value = tod if name == "time_of_day" else variables.get(name)
            if value is None:
                raise KeyError(name)
            return re.escape(value) if as_regex else value

        return _PLACEHOLDER.sub(replace, template)

    return list(dict.fromkeys(fill(tod) for tod in tods))


def check_mail(turn: Turn, mails: list[str], variables: dict[str, str]) -> list[str]:
    """The `mail:` texts of a turn no e-mail sent during it holds (`mails`: each as text)."""
    problems: list[str] = []
    for expected in turn.mail:
        try:
            text = expand(expected, variables, [""], as_regex=False)[0]
        except KeyError as error:
            problems.append(f"placeholder ${{{error.args[0]}}} was never saved")
            continue
        if not any(_fold(text) in _fold(mail) for mail in mails):
            problems.append(f"no e-mail holds {text!r} ({len(mails)} sent in the turn)")
    return problems


def check_turn(
    turn: Turn,
    replies: list[dict[str, Any]],
    seconds: float,
    variables: dict[str, str],
    tods: list[str],
) -> list[str]:
    """The problems of one answered turn (empty when it passed); fills `variables` from save."""
    problems: list[str] = []
    raw = reply_text(replies)
    folded = _fold(raw)
    try:
        for expected in turn.expect:
            variants = expand(expected, variables, tods, as_regex=False)
            if not any(_fold(v) in folded for v in variants):
                problems.append(f"missing {expected!r}")
        for unwanted in turn.expect_not:
            for variant in expand(unwanted, variables, tods, as_regex=False):
                if _fold(variant) in folded:
                    problems.append(f"unexpected {variant!r}")
        for pattern in turn.expect_regex:
            variants = expand(pattern, variables, tods, as_regex=True)
            if not any(re.search(v, raw) for v in variants):
                problems.append(f"no match for /{pattern}/")
    except KeyError as error:
        problems.append(f"placeholder ${{{error.args[0]}}} was never saved")
    payloads = [
        str(button.get("payload", "")) for reply in replies for button in reply.get("buttons") or []
    ]
    for payload in turn.buttons:
        if payload not in payloads:
            problems.append(f"no button with payload {payload!r} (offered: {payloads})")
    if turn.max_seconds is not None and seconds > turn.max_seconds:
        problems.append(f"took {seconds:.1f} s, more than {turn.max_seconds:g} s")
    for name, pattern in turn.save.items():
        match = re.search(pattern, raw)
        if match is None:
            problems.append(f"nothing to save as ${{{name}}}: no match for /{pattern}/")
        else:
            variables[name] = match.group(1) if match.groups() else match.group(0)
    return problems
