"""Repository of the settings admins change in the agent desk (e.g. the office hours)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from helpdesk.storage.base import _Repository
from helpdesk.storage.db import retry_on_locked, session_scope
from helpdesk.storage.models import DeskSetting, utcnow


@dataclass(frozen=True)
class DeskSettingRecord:
    """A desk setting's value and when it last changed."""

    key: str
    value: str
    updated_at: datetime


class DeskSettingRepository(_Repository):
    """Settings admins change in the desk, as text by key (e.g. "office_hours" as YAML)."""

    def get(self, key: str) -> DeskSettingRecord | None:
        """The setting's value and change time, or None when it was never set."""
        with session_scope(self._sessions) as session:
            row = session.get(DeskSetting, key)
            if row is None:
                return None
            return DeskSettingRecord(key=row.key, value=row.value, updated_at=row.updated_at)

    def updated_at(self, key: str) -> datetime | None:
        """When the setting last changed (a cheap check for caches), or None when unset."""
        with session_scope(self._sessions) as session:
            return session.execute(
                select(DeskSetting.updated_at).where(DeskSetting.key == key)
            ).scalar_one_or_none()

    def set(self, key: str, value: str) -> DeskSettingRecord:
        """Store a setting (insert or replace)."""

        def work() -> DeskSettingRecord:
            now = utcnow()
            with session_scope(self._sessions) as session:
                row = session.get(DeskSetting, key)
                if row is None:
                    row = DeskSetting(key=key, value=value, updated_at=now)
                    session.add(row)
                else:
                    row.value = value
                    row.updated_at = now
                return DeskSettingRecord(key=key, value=value, updated_at=now)

        return retry_on_locked(work)

    def delete(self, key: str) -> bool:
        """Remove a setting (back to the default); False when it was not set."""

        def work() -> bool:
            with session_scope(self._sessions) as session:
                return bool(
                    session.execute(delete(DeskSetting).where(DeskSetting.key == key)).rowcount
                )

        return retry_on_locked(work)
