"""Personal identifiers masked in every log record of a process.

`install()` is called once at the start of each process we run: the action server (the
`actions` package), the Rasa server (the `components` package, imported when the model
loads) and the `helpdesk` command (the desk, the sweeper, the simulator, the CLI tools). From
then on every log record of the process, whichever library logs it and whichever handler
writes it, has its message, its traceback and its extra text fields passed through
`helpdesk.security.masking.mask_identifiers`: NIK, NIP, NRP, phone, account and SP2D numbers
keep their last four digits, e-mail addresses their first letters, tokens in URLs none.
Python warnings are routed through logging, so Rasa's warnings about a button payload
(`/inform{"nik": ...}`) are masked too.

Why a record factory and not only a handler filter: handlers are added after we install
(Sanic configures its own when an app is made, tests add theirs), and a filter on a logger
does not see the records its children propagate. The factory masks the message, the
arguments and the traceback of every record when it is made; `IdentifierMaskingFilter`,
added to every handler present at install time, also masks the `extra` fields that Python
attaches after the factory (Sanic's access log line: the URL with the sender id and
`?token=`). The filter can also be named in a `logging.config.dictConfig` file.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

from helpdesk.security.masking import mask_identifiers

#: Attribute set on a record whose message, arguments and traceback are masked.
_MASKED = "_helpdesk_masked"
#: Attribute of the installed record factory (so `install` is idempotent).
_FACTORY_MARK = "_helpdesk_masking_factory"
#: Attributes every record has; the others were added through `extra=`.
_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__
) | {"message", "asctime", _MASKED}
_TRACEBACKS = logging.Formatter()


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask the identifiers of one record in place (cheap when it is already done).

    The message is formatted with its arguments and masked (the arguments are then
    cleared); the traceback is rendered and masked into `exc_text`, which formatters print
    instead of rendering `exc_info` again; text fields added through `extra=` are masked.

    Args:
        record: A record on its way to the handlers.

    Returns:
        The same record.
    """
    if not record.__dict__.get(_MASKED):
        try:
            message = record.getMessage()
        except Exception:  # wrong arguments: keep what there is, masked, instead of failing
            message = f"{record.msg!s} {record.args!r}"
        record.msg = mask_identifiers(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_identifiers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_identifiers(record.stack_info)
        record.__dict__[_MASKED] = True
    for name in record.__dict__.keys() - _STANDARD_ATTRIBUTES:
        value = record.__dict__[name]
        if isinstance(value, str):
            record.__dict__[name] = mask_identifiers(value)
    return record


class IdentifierMaskingFilter(logging.Filter):
    """A logging filter that masks identifiers in each record and lets every record pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask `record` in place (see `mask_record`); always True."""
        mask_record(record)
        return True


def _masking_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(previous(*args, **kwargs))

    setattr(factory, _FACTORY_MARK, True)
    return factory


def _handlers() -> list[logging.Handler]:
    loggers: list[Any] = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    found: list[logging.Handler] = []
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if handler not in found:
                found.append(handler)
    return found


def install() -> None:
    """Mask identifiers in every log record of this process from now on (idempotent).

    Wraps the log record factory, adds `IdentifierMaskingFilter` to every handler already
    configured (call again after configuring more handlers to cover their `extra` fields),
    and routes Python warnings through logging.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, _FACTORY_MARK, False):
        logging.setLogRecordFactory(_masking_factory(current))
    for handler in _handlers():
        if not any(isinstance(f, IdentifierMaskingFilter) for f in handler.filters):
            handler.addFilter(IdentifierMaskingFilter())
    logging.captureWarnings(True)
    if getattr(warnings.showwarning, "__module__", None) != "logging":
        # Captured once before, then replaced (e.g. restored by `warnings.catch_warnings`).
        logging.captureWarnings(False)
        logging.captureWarnings(True)


def installed() -> bool:
    """Whether `install` has been called in this process (the record factory masks)."""
    return bool(getattr(logging.getLogRecordFactory(), _FACTORY_MARK, False))
