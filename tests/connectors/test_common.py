"""Unit tests of `connectors.common`, what the WhatsApp and Telegram channels share."""

from __future__ import annotations

import hashlib
import random
import threading
from types import SimpleNamespace
from typing import Any

import pytest
from sanic import Blueprint, Sanic

from connectors.common import (
    ELLIPSIS,
    ShortIds,
    add_health_route,
    as_dict,
    as_list,
    base_url,
    check_retry_settings,
    choices,
    clean_credential,
    head,
    inbound_repository,
    json_object,
    mask_id,
    missing_credentials,
    missing_message,
    one_line,
    read_credentials,
    shorten,
    split_text,
    str_or_none,
)

REQUIRED = {"access_token": "X_ACCESS_TOKEN", "verify": "X_BOT_NAME"}
OPTIONAL = {"api_url": "X_API_URL"}


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# =========================================================================== credentials


class TestCredentials:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, ""), ("", ""), ("  token \n", "token"), ("${X_ACCESS_TOKEN}", ""), (123, "123")],
    )
    def test_clean_credential(self, value: Any, expected: str) -> None:
        assert clean_credential(value) == expected

    def test_missing_credentials_are_named_with_their_variables_in_order(self) -> None:
        values = {"verify": " ", "access_token": "${X_ACCESS_TOKEN}"}
        assert missing_credentials(values, REQUIRED) == [
            "access_token (X_ACCESS_TOKEN)",
            "verify (X_BOT_NAME)",
        ]
        assert missing_credentials({"access_token": "t", "verify": "b"}, REQUIRED) == []

    def test_read_credentials_cleans_every_key(self) -> None:
        values, missing = read_credentials(
            {"access_token": " t ", "verify": "bot", "unknown": "x"},
            REQUIRED,
            OPTIONAL,
            env_name_keys=False,
        )
        assert values == {"access_token": "t", "verify": "bot", "api_url": ""}
        assert missing == []

    def test_read_credentials_of_nothing(self) -> None:
        values, missing = read_credentials(None, REQUIRED, OPTIONAL, env_name_keys=True)
        assert values == {"access_token": "", "verify": "", "api_url": ""}
        assert missing == ["access_token (X_ACCESS_TOKEN)", "verify (X_BOT_NAME)"]

    def test_environment_variable_names_as_keys_only_when_asked(self) -> None:
        block = {"X_ACCESS_TOKEN": "t", "verify": "bot", "X_API_URL": "http://api"}
        values, missing = read_credentials(block, REQUIRED, OPTIONAL, env_name_keys=True)
        assert values == {"access_token": "t", "verify": "bot", "api_url": "http://api"}
        assert missing == []
        values, missing = read_credentials(block, REQUIRED, OPTIONAL, env_name_keys=False)
        assert values["access_token"] == "" and values["api_url"] == ""
        assert missing == ["access_token (X_ACCESS_TOKEN)"]

    def test_the_lower_case_key_wins(self) -> None:
        block = {"access_token": "lower", "X_ACCESS_TOKEN": "upper", "verify": "bot"}
        values, _ = read_credentials(block, REQUIRED, OPTIONAL, env_name_keys=True)
        assert values["access_token"] == "lower"

    def test_missing_message(self) -> None:
        text = missing_message("Xchat", "connectors/xchat.py", ["a (A)", "b (B)"])
        assert text == (
            "The Xchat channel cannot start: credentials missing or empty: a (A), b (B). "
            "Set them in the environment (credentials.yml block: see connectors/xchat.py)."
        )
        text = missing_message("Xchat", "x.py", ["X_TOKEN"], what="environment variables")
        assert "environment variables missing or empty: X_TOKEN." in text

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, "https://default"),
            ("", "https://default"),
            ("${X_API_URL}", "https://default"),
            (" http://127.0.0.1:8081/v20.0/ ", "http://127.0.0.1:8081/v20.0"),
        ],
    )
    def test_base_url(self, value: Any, expected: str) -> None:
        assert base_url(value, "https://default/") == expected

    def test_retry_settings(self) -> None:
        check_retry_settings(10.0, 1, 0.0)
        for timeout, attempts, backoff in ((0.0, 3, 0.5), (10.0, 0, 0.5), (10.0, 3, -0.1)):
            with pytest.raises(ValueError):
                check_retry_settings(timeout, attempts, backoff)


# =========================================================================== webhook JSON


class TestJson:
    def test_json_object(self) -> None:
        assert json_object(b'{"update_id": 1}') == {"update_id": 1}
        assert json_object('{"é": "ü"}'.encode()) == {"é": "ü"}

    @pytest.mark.parametrize(
        "body", [b"", b"{", b"[1, 2]", b'"text"', b"null", b"\xff", b"\xff\xfe{"]
    )
    def test_anything_but_an_object_is_none(self, body: bytes) -> None:
        assert json_object(body) is None

    def test_as_dict_and_as_list(self) -> None:
        assert as_dict({"a": 1}) == {"a": 1}
        assert as_list([1]) == [1]
        for value in (None, "x", 1, [1], {"a": 1}):
            if not isinstance(value, dict):
                assert as_dict(value) == {}
            if not isinstance(value, list):
                assert as_list(value) == []

    @pytest.mark.parametrize(
        ("value", "expected", "scalar_expected"),
        [
            (None, None, None),
            ("", None, None),
            ("abc", "abc", "abc"),
            (0, "0", "0"),
            (12345, "12345", "12345"),
            (False, "False", "False"),
            ({"a": 1}, "{'a': 1}", None),
            ([], "[]", None),
        ],
    )
    def test_str_or_none(
        self, value: Any, expected: str | None, scalar_expected: str | None
    ) -> None:
        assert str_or_none(value) == expected
        assert str_or_none(value, scalars_only=True) == scalar_expected


# =========================================================================== logs


@pytest.mark.parametrize(
    ("value", "expected"),
    [("6281234567890", "***7890"), (-1001234567, "***4567"), ("12", "***12"), ("", "***")],
)
def test_mask_id_keeps_only_the_last_four_characters(value: Any, expected: str) -> None:
    assert mask_id(value) == expected
    assert mask_id(None) == "***"


# =========================================================================== ShortIds


def short_ids(limit: int = 20, digest_chars: int = 12, max_entries: int = 10_000) -> ShortIds:
    return ShortIds(
        "id:", lambda payload: len(payload) <= limit, digest_chars, max_entries=max_entries
    )


class TestShortIds:
    def test_a_payload_that_fits_is_its_own_id(self) -> None:
        ids = short_ids()
        assert ids.to_id("/affirm") == "/affirm"
        assert ids.to_payload("/affirm") == "/affirm"
        assert ids.to_id("x" * 20) == "x" * 20

    def test_a_long_payload_gets_a_hash_id_that_maps_back(self) -> None:
        ids = short_ids()
        payload = "x" * 21
        short_id = ids.to_id(payload)
        expected = "id:" + hashlib.sha256(payload.encode()).hexdigest()[:12]
        assert short_id == expected and len(short_id) <= 20
        assert ids.to_id(payload) == short_id  # stable
        assert ids.to_payload(short_id) == payload

    def test_the_full_digest_by_default(self) -> None:
        ids = ShortIds("p:", lambda payload: len(payload) <= 100)
        short_id = ids.to_id("y" * 101)
        assert short_id == "p:" + hashlib.sha256(b"y" * 101).hexdigest()

    def test_a_payload_with_the_prefix_is_hashed(self) -> None:
        ids = short_ids()
        short_id = ids.to_id("id:abc")
        assert short_id != "id:abc" and ids.to_payload(short_id) == "id:abc"

    def test_fits_decides_in_the_channels_units(self) -> None:
        ids = ShortIds("tg:", lambda payload: len(payload.encode("utf-8")) <= 8, 4)
        assert ids.to_id("abcdefgh") == "abcdefgh"
        assert ids.to_id("éééé") == "éééé"  # 8 bytes
        assert ids.to_id("ééééé").startswith("tg:")  # 5 characters, 10 bytes

    def test_an_unknown_hash_id_gives_none(self) -> None:
        other = short_ids()
        assert short_ids().to_payload(other.to_id("z" * 30)) is None

    def test_the_least_recently_used_ids_are_forgotten(self) -> None:
        ids = short_ids(max_entries=2)
        first, second = ids.to_id("a" * 30), ids.to_id("b" * 30)
        ids.to_id("a" * 30)  # used again: now the most recent
        third = ids.to_id("c" * 30)
        assert ids.to_payload(first) == "a" * 30
        assert ids.to_payload(second) is None
        assert ids.to_payload(third) == "c" * 30

    def test_empty_payload_is_refused(self) -> None:
        with pytest.raises(ValueError):
            short_ids().to_id("")

    @pytest.mark.parametrize(
        ("prefix", "digest_chars", "max_entries"),
        [("", 12, 10), ("id:", 0, 10), ("id:", 65, 10), ("id:", 12, 0), ("id:", 30, 10)],
    )
    def test_invalid_settings(self, prefix: str, digest_chars: int, max_entries: int) -> None:
        # ("id:", 30): a hash id of 33 characters would not fit the limit of 20 itself.
        with pytest.raises(ValueError):
            ShortIds(prefix, lambda p: len(p) <= 20, digest_chars, max_entries=max_entries)

    def test_threads_share_one_mapping(self) -> None:
        ids = short_ids(max_entries=10_000)
        payloads = [f"payload number {i:04d} of the test" for i in range(800)]
        results: dict[str, str] = {}

        def work(chunk: list[str]) -> None:
            for payload in chunk:
                results[payload] = ids.to_id(payload)

        threads = [threading.Thread(target=work, args=(payloads[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(ids.to_payload(results[payload]) == payload for payload in payloads)


# =========================================================================== texts


class TestSplitText:
    def test_short_and_blank_texts(self) -> None:
        assert split_text("  halo  ", 10) == ["halo"]
        assert split_text(" \n ", 10) == []
        assert split_text("", 10) == []

    def test_cuts_at_paragraphs_then_lines_then_spaces_then_hard(self) -> None:
        assert split_text("aaa bb\n\ncc dd", 12) == ["aaa bb", "cc dd"]
        assert split_text("aaaa\nbbb ccc", 9) == ["aaaa", "bbb ccc"]
        assert split_text("aaa bbb ccc", 8) == ["aaa bbb", "ccc"]
        assert split_text("abcdefghij", 4) == ["abcd", "efgh", "ij"]

    def test_a_paragraph_break_that_fits_wins_over_a_later_space(self) -> None:
        assert split_text("aa\n\nbb cc dd", 9) == ["aa", "bb cc dd"]

    def test_measure_counts_in_the_channels_units(self) -> None:
        assert split_text("🙂" * 5, 5) == ["🙂" * 5]  # characters
        parts = split_text("🙂" * 5, 5, measure=utf16_units)  # 10 UTF-16 units
        assert parts == ["🙂🙂", "🙂🙂", "🙂"]
        assert split_text("ab 🙂🙂 cd", 6) == ["ab 🙂🙂", "cd"]
        assert split_text("ab 🙂🙂 cd", 6, measure=utf16_units) == ["ab", "🙂🙂", "cd"]

    def test_invalid_limits(self) -> None:
        with pytest.raises(ValueError):
            split_text("abc", 0)
        with pytest.raises(ValueError):
            split_text("🙂🙂", 1, measure=utf16_units)  # one character needs 2 units

    @pytest.mark.parametrize("measure", [len, utf16_units])
    def test_every_part_fits_and_no_word_is_lost(self, measure: Any) -> None:
        rnd = random.Random(7)
        pieces = ["kata", "panjang" * 4, "🙂", " ", "  ", "\n", "\n\n", "é"]
        for _ in range(300):
            text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 80)))
            limit = rnd.randint(2, 40)
            parts = split_text(text, limit, measure=measure)
            assert all(part and part == part.strip() for part in parts)
            assert all(measure(part) <= limit for part in parts)
            assert "".join("".join(parts).split()) == "".join(text.split())


class TestShorten:
    def test_one_line(self) -> None:
        assert one_line("  Cek\n\nstatus \t tiket ") == "Cek status tiket"

    def test_short_text_stays(self) -> None:
        assert shorten("Cek  status\ntiket", 20, at_word=True) == "Cek status tiket"
        assert shorten("Cek  status\ntiket", 16, at_word=False) == "Cek status tiket"

    def test_cut_after_a_word_or_hard(self) -> None:
        text = "Informasi pencairan dana SP2D"
        assert shorten(text, 14, at_word=True) == "Informasi…"
        assert shorten(text, 14, at_word=False) == "Informasi pen…"
        assert len(shorten(text, 14, at_word=True)) <= 14

    def test_a_word_cut_that_keeps_under_half_is_a_hard_cut(self) -> None:
        assert shorten("Ab Permohonanresetpassword", 20, at_word=True) == "Ab Permohonanresetp…"

    def test_head(self) -> None:
        line = "Pendaftaran kontrak pengadaan barang"
        assert head(line, 24, at_word=True) == "Pendaftaran kontrak"
        assert head(line, 24, at_word=False) == "Pendaftaran kontrak pen"
        assert head("Pendaftaran kontrak x", 21, at_word=True) == "Pendaftaran kontrak"
        assert ELLIPSIS == "…"


class TestChoices:
    def test_titles_and_payloads(self) -> None:
        buttons = [
            {"title": " Ya,\nbenar ", "payload": " /affirm "},
            {"title": "Tanpa payload"},
            {"payload": "/deny"},
            {"title": "", "payload": ""},
            "not a button",
            SimpleNamespace(title="x", payload="y"),
        ]
        assert choices(buttons) == [
            ("Ya, benar", "/affirm"),
            ("Tanpa payload", "Tanpa payload"),
            ("/deny", "/deny"),
        ]

    def test_title_of_shapes_titles_and_payloads_standing_in_for_them(self) -> None:
        buttons = [{"title": "Judul yang panjang sekali", "payload": "1"}, {"payload": "2 3 4 5 6"}]

        def short(text: str) -> str:
            return shorten(text, 6, at_word=False)

        assert choices(buttons, title_of=short) == [("Judul…", "1"), ("2 3 4…", "2 3 4 5 6")]
        assert choices([]) == []


# =========================================================================== input channels


def test_inbound_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    injected: Any = object()
    assert inbound_repository(injected) is injected
    shared: Any = object()
    monkeypatch.setattr(
        "helpdesk.services.get_services", lambda: SimpleNamespace(inbound_messages=shared)
    )
    assert inbound_repository(None) is shared


async def test_health_route() -> None:
    blueprint = Blueprint("common_test_webhook")
    add_health_route(blueprint, "/health")
    app = Sanic("common_test_health")
    app.blueprint(blueprint, url_prefix="/webhooks/common_test")
    assert app.url_for("common_test_webhook.health") == "/webhooks/common_test/health"
    route = app.router.find_route_by_view_name("common_test_webhook.health")
    assert route is not None and route.methods == frozenset({"GET"})
    reply = await route.handler(None)
    assert reply.status == 200 and reply.body == b'{"status":"ok"}'
