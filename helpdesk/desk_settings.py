"""Settings admins change in the agent desk, with their file-based defaults.

The office hours come from `HELPDESK_OFFICE_HOURS_FILE` until an admin saves other hours in
the desk: then the YAML stored in the desk setting "office_hours" wins. The action server asks
for the hours on every handoff, so `effective_office_hours` answers from a cache and only
re-parses when the stored setting's change time (or the file's modification time) moves.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from helpdesk.office_hours import OfficeHours, OfficeHoursError, load_office_hours
from helpdesk.settings import Settings
from helpdesk.storage.accounts import DeskSettingRepository

logger = logging.getLogger(__name__)

#: Desk setting holding the office hours as YAML (the format of helpdesk/office_hours.yml).
OFFICE_HOURS_KEY = "office_hours"


def parse_office_hours_text(text: str) -> OfficeHours:
    """Parse office hours written as YAML text (same format and checks as the file).

    Raises:
        OfficeHoursError: The text is not valid YAML or has an invalid field; the message
            names the field (without any file name).
    """
    # The loader reads files; a private temporary file keeps one parser for both sources.
    fd, name = tempfile.mkstemp(prefix="office_hours_", suffix=".yml")
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return load_office_hours(path)
    except OfficeHoursError as exc:
        message = str(exc).replace(f"{path}: ", "").replace(str(path), "office_hours")
        raise OfficeHoursError(message) from None
    finally:
        path.unlink(missing_ok=True)


@dataclass(frozen=True)
class OfficeHoursSnapshot:
    """The office hours in force and where they came from.

    Attributes:
        hours: The parsed office hours.
        source: "desk" (saved by an admin) or "file" (HELPDESK_OFFICE_HOURS_FILE).
        updated_at: When the desk setting was saved (None for the file).
    """

    hours: OfficeHours
    source: str
    updated_at: datetime | None


class OfficeHoursProvider:
    """The effective office hours, cached: one cheap query per call, parsing only on change.

    Args:
        settings: Gives `office_hours_file`, the default.
        session_factory: The helpdesk store, where the desk setting lives.
    """

    def __init__(self, settings: Settings, session_factory: Callable[[], Any]) -> None:
        self._file = Path(settings.office_hours_file)
        self._settings = DeskSettingRepository(session_factory)
        self._lock = threading.Lock()
        self._file_cache: tuple[float, OfficeHours] | None = None
        self._desk_cache: OfficeHoursSnapshot | None = None
        self._bad_setting_at: datetime | None = None

    def snapshot(self) -> OfficeHoursSnapshot:
        """The hours in force now (desk setting when saved and valid, else the file).

        Raises:
            OfficeHoursError: No valid desk setting and the file is missing or invalid.
        """
        with self._lock:
            changed_at = self._settings.updated_at(OFFICE_HOURS_KEY)
            if changed_at is not None:
                cached = self._desk_cache
                if cached is not None and cached.updated_at == changed_at:
                    return cached
                if changed_at != self._bad_setting_at:
                    snapshot = self._load_desk_setting()
                    if snapshot is not None:
                        return snapshot
            return OfficeHoursSnapshot(self._load_file(), "file", None)

    def get(self) -> OfficeHours:
        """The office hours in force now."""
        return self.snapshot().hours

    def _load_desk_setting(self) -> OfficeHoursSnapshot | None:
        record = self._settings.get(OFFICE_HOURS_KEY)
        if record is None:
            return None
        try:
            hours = parse_office_hours_text(record.value)
        except OfficeHoursError as exc:
            # The desk validates before saving; this only happens after a manual DB edit.
            logger.error("office hours saved in the desk are invalid, using the file: %s", exc)
            self._bad_setting_at = record.updated_at
            return None
        self._desk_cache = OfficeHoursSnapshot(hours, "desk", record.updated_at)
        return self._desk_cache

    def _load_file(self) -> OfficeHours:
        try:
            mtime = self._file.stat().st_mtime
        except OSError:
            mtime = -1.0
        if self._file_cache is None or self._file_cache[0] != mtime:
            self._file_cache = (mtime, load_office_hours(self._file))
        return self._file_cache[1]


_providers: "weakref.WeakKeyDictionary[Any, dict[Path, OfficeHoursProvider]]" = (
    weakref.WeakKeyDictionary()
)
_providers_lock = threading.Lock()


def office_hours_provider(
    settings: Settings, session_factory: Callable[[], Any]
) -> OfficeHoursProvider:
    """The shared provider for this store and file (one per session factory and file)."""
    with _providers_lock:
        by_file = _providers.setdefault(session_factory, {})
        path = Path(settings.office_hours_file)
        if path not in by_file:
            by_file[path] = OfficeHoursProvider(settings, session_factory)
        return by_file[path]


def effective_office_hours(settings: Settings, session_factory: Callable[[], Any]) -> OfficeHours:
    """The office hours in force: the desk setting when an admin saved one, else the file.

    Cheap to call per request: one indexed query, and parsing only when something changed.

    Raises:
        OfficeHoursError: No valid desk setting and the file is missing or invalid.
    """
    return office_hours_provider(settings, session_factory).get()


def office_hours_text(settings: Settings, session_factory: Callable[[], Any]) -> tuple[str, str]:
    """The YAML an admin edits and its source: ("desk" or "file").

    The file's text is returned when no desk setting was saved (empty if the file is missing).
    """
    record = DeskSettingRepository(session_factory).get(OFFICE_HOURS_KEY)
    if record is not None:
        return record.value, "desk"
    try:
        return Path(settings.office_hours_file).read_text(encoding="utf-8"), "file"
    except OSError:
        return "", "file"
