"""Identifiers masked in free text and in every log record (helpdesk.security.logmask)."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
import warnings
from typing import Iterator

import pytest

from helpdesk.security import logmask
from helpdesk.security.masking import mask_identifiers
from helpdesk.settings import PROJECT_ROOT

NIK = "3201234567890001"
NIP = "198001012005011001"
PHONE = "6281234567890"
ACCOUNT = "1234567890"
SP2D = "260011301000123"
EMAIL = "budi.santoso@contoh.go.id"
FULL_VALUES = (NIK, NIP, PHONE, ACCOUNT, SP2D, EMAIL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NIK 3201 2345 6789 0001", "NIK ************0001"),
        ("NIK 3201-2345-6789-0001.", "NIK ************0001."),
        ("nik:3201234567890001,", "nik:************0001,"),
        ("NIP 19800101 200501 1 001", "NIP **************1001"),
        ("NIP 198001012005011001", "NIP **************1001"),
        ("hubungi +62 812-3456-7890", "hubungi *********7890"),
        ("wa 0812 3456 7890 ya", "wa ********7890 ya"),
        ("sender 6281234567890 failed", "sender *********7890 failed"),
        ("e-mail budi@contoh.go.id!", "e-mail bu***@co***.go.id!"),
        ('{"email": "Budi.Santoso@Kemenkeu.GO.ID"}', '{"email": "Bu***@Ke***.GO.ID"}'),
        ("q=budi%40contoh.go.id", "q=bu***@co***.go.id"),
        ('/inform{"nik":"3201234567890001"}', '/inform{"nik":"************0001"}'),
        (
            '/inform{\\"nik\\": \\"3201234567890001\\"}',
            '/inform{\\"nik\\": \\"************0001\\"}',
        ),
        ("cek sp2d 260011301000123 rek 1234567890", "cek sp2d ***********0123 rek ******7890"),
        ("rekening 1357-924-680", "rekening ******4680"),
        ("NRP 92050123", "NRP ****0123"),
        ("POST /conversations/6281234567890/execute?token=s3cret&x=1", None),
        ("Authorization: Bearer abc.DEF-123", "Authorization: Bearer ***"),
    ],
)
def test_identifiers_are_masked(text: str, expected: str | None) -> None:
    masked = mask_identifiers(text)
    if expected is not None:
        assert masked == expected
    for value in (*FULL_VALUES, "3201 2345 6789 0001", "s3cret", "812-3456-7890"):
        assert value not in masked


@pytest.mark.parametrize(
    "text",
    [
        "ticket 20260414-DBKSWU created",
        "idle since 2026-04-14 10:22:33+00:00",
        "2026-04-14T10:22:33.123456",
        "listening on 127.0.0.1:5005 and 192.168.100.200:8081",
        "satker 415011, amount Rp15.000.000, 3 attempts in 12.5 ms",
        "a question without numbers",
        "",
    ],
)
def test_dates_ticket_ids_addresses_and_small_numbers_are_kept(text: str) -> None:
    assert mask_identifiers(text) == text


def test_a_date_beside_an_identifier_is_kept_and_the_identifier_masked() -> None:
    assert mask_identifiers("2026-04-14 10:22:33 3201234567890001") == (
        "2026-04-14 10:22:33 ************0001"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a" * 300_000,
        "a" * 60 + "@" + ("a" * 60 + "@") * 5_000,
        "%40" * 100_000,
        "1 " * 150_000,
        "a_b=c&" * 50_000,
        ("x@y." * 75_000),
    ],
)
def test_masking_stays_linear_on_long_hostile_texts(text: str) -> None:
    started = time.perf_counter()
    mask_identifiers(text)
    assert time.perf_counter() - started < 1.0


# --- the installed filter -------------------------------------------------------------------


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Logging as before `install` (another test may have imported `actions`), restored after."""
    factory = logging.getLogRecordFactory()
    showwarning = warnings.showwarning
    filters = {handler: list(handler.filters) for handler in logmask._handlers()}
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        warnings.showwarning = showwarning
        for handler, kept in filters.items():
            handler.filters[:] = kept


def _capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, stream


def test_a_record_logged_after_install_comes_out_masked(fresh_logging) -> None:
    logger, stream = _capture("test.logmask.message")
    logger.info("before install: %s", "nothing")
    logmask.install()

    logger.warning("could not create the ticket of %s (nik %s, email %s)", PHONE, NIK, EMAIL)
    logger.info({"text": f'/inform{{"nip": "{NIP}"}}'})
    logger.info("sp2d %s account %s", SP2D, ACCOUNT)

    output = stream.getvalue()
    assert "could not create the ticket of *********7890 (nik ************0001" in output
    assert "bu***@co***.go.id" in output
    for value in FULL_VALUES:
        assert value not in output, output


def test_tracebacks_and_extra_fields_are_masked(fresh_logging) -> None:
    logger, stream = _capture("test.logmask.traceback")
    stream_access = io.StringIO()
    access = logging.StreamHandler(stream_access)
    access.setFormatter(logging.Formatter("%(host)s %(request)s %(message)s"))
    access_logger = logging.getLogger("test.logmask.access")
    access_logger.handlers[:] = [access]
    access_logger.setLevel(logging.INFO)
    access_logger.propagate = False
    logmask.install()

    try:
        raise ValueError(f"not a valid e-mail address: {EMAIL!r} for NIK {NIK}")
    except ValueError:
        logger.exception("REST failure for %s", PHONE)
    access_logger.info(
        "",
        extra={"host": "10.0.0.7:5500", "request": f"POST /conversations/{PHONE}/x?token=t0k"},
    )

    output = stream.getvalue() + stream_access.getvalue()
    assert "Traceback" in output and "ValueError: not a valid e-mail address" in output
    assert "10.0.0.7:5500 POST /conversations/*********7890/x?token=***" in output
    for value in (*FULL_VALUES, "t0k"):
        assert value not in output, output


def test_a_handler_added_after_install_gets_masked_messages(fresh_logging) -> None:
    logmask.install()
    logger, stream = _capture("test.logmask.late")  # like Sanic's handlers, made later

    logger.error("user said %r", f"nik saya {NIK} hp {PHONE}")

    assert NIK not in stream.getvalue() and PHONE not in stream.getvalue()
    assert "************0001" in stream.getvalue()


def test_warnings_are_routed_through_logging_and_masked(fresh_logging) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    py_warnings = logging.getLogger("py.warnings")
    saved = (list(py_warnings.handlers), py_warnings.propagate)
    py_warnings.handlers[:] = [handler]
    py_warnings.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            logmask.install()
            # What Rasa says about a button payload with an entity the domain lacks.
            payload = json.dumps({"nik": NIK, "phone": PHONE})
            warnings.warn(f"Failed to parse arguments in line '/inform{payload}'.", UserWarning)
    finally:
        py_warnings.handlers[:], py_warnings.propagate = saved

    output = stream.getvalue()
    assert "Failed to parse arguments" in output
    assert NIK not in output and PHONE not in output


def test_a_record_with_wrong_arguments_is_kept_masked_not_raised(fresh_logging) -> None:
    logger, stream = _capture("test.logmask.wrong")
    logmask.install()

    logger.info("two %s %s", NIK)  # one argument short

    assert "two %s %s" in stream.getvalue() and NIK not in stream.getvalue()


def test_install_is_idempotent(fresh_logging) -> None:
    logmask.install()
    factory = logging.getLogRecordFactory()
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger("test.logmask.twice").addHandler(handler)

    logmask.install()
    logmask.install()

    assert logging.getLogRecordFactory() is factory
    assert sum(isinstance(f, logmask.IdentifierMaskingFilter) for f in handler.filters) == 1
    assert logmask.installed()


def test_the_filter_works_alone_on_a_handler(fresh_logging) -> None:
    logger, stream = _capture("test.logmask.alone")
    logger.handlers[0].addFilter(logmask.IdentifierMaskingFilter())

    logger.info("email %s", EMAIL)

    assert EMAIL not in stream.getvalue() and "bu***@co***.go.id" in stream.getvalue()


@pytest.mark.parametrize(
    "code",
    [
        "import actions",  # the action server imports the package before any call
        # the Rasa server, when it loads the model (its first pipeline component is built)
        "from components.length_guard import MessageLengthGuard as G; G(G.get_default_config())",
        "from helpdesk.cli import main; main(['report', '--help'])",  # desk, sweeper, CLI
    ],
)
def test_every_process_we_start_installs_the_masking(code: str) -> None:
    check = (
        f"{code}\n"
        "import logging, warnings\n"
        "from helpdesk.security import logmask\n"
        "assert logmask.installed(), 'not installed'\n"
        "assert warnings.showwarning.__module__ == 'logging', 'warnings not captured'\n"
        "print(logging.getLogger('x').makeRecord('x', 20, 'f', 1, 'nik %s', ('"
        + NIK
        + "',), None).getMessage())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("nik ************0001")
