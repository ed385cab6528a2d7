"""The services of the assistant: how each one starts, and the environment they share.

`plan()` is the one definition of how each service starts (arguments, health URL, start-up
time); `make run` (scripts/run.py) starts all of them and the test stacks
(tests/support/stack.py) start the ones a test needs, so the tests run what `make run` runs.
`build_environment()` is the child processes' environment: `.env` (see `.env.example`), the
caller's environment, then a working default for every variable on a single machine.

Secrets travel in the environment, never on a command line (which every local user can read
with `ps`): the Rasa server gets its API token through scripts/rasa_server.py, and the action
server's token (`RASA_ACTIONS_TOKEN`, generated per run when unset, like `RASA_API_TOKEN`) is
read by the action server (rasa_sdk_plugins/action_auth.py) and by Rasa from endpoints.yml.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote, urlsplit

from helpdesk.knowledge.embedders import quiet_openmp
from helpdesk.settings import _read_dotenv

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


#: Channels `make run` adds to credentials.yml when their first variable is set: the block's
#: variables are expanded by Rasa from the environment (an unset one would stop Rasa).
OPTIONAL_CHANNELS = {
    "connectors.whatsapp.WhatsAppInput": (
        "WHATSAPP_ACCESS_TOKEN",
        {
            "access_token": "WHATSAPP_ACCESS_TOKEN",
            "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
            "app_secret": "WHATSAPP_APP_SECRET",
            "verify_token": "WHATSAPP_VERIFY_TOKEN",
            "api_url": "WHATSAPP_API_URL",
        },
    ),
    "connectors.telegram.TelegramInput": (
        "TELEGRAM_ACCESS_TOKEN",
        {
            "access_token": "TELEGRAM_ACCESS_TOKEN",
            "verify": "TELEGRAM_BOT_NAME",
            "webhook_url": "TELEGRAM_WEBHOOK_URL",
            "secret_token": "TELEGRAM_SECRET_TOKEN",
            "api_url": "TELEGRAM_API_URL",
        },
    ),
    "connectors.meta.MessengerInput": (
        "MESSENGER_PAGE_ACCESS_TOKEN",
        {
            "access_token": "MESSENGER_PAGE_ACCESS_TOKEN",
            "app_secret": "MESSENGER_APP_SECRET",
            "verify_token": "MESSENGER_VERIFY_TOKEN",
            "page_id": "MESSENGER_PAGE_ID",
            "api_url": "MESSENGER_API_URL",
        },
    ),
    "connectors.meta.InstagramInput": (
        "INSTAGRAM_ACCESS_TOKEN",
        {
            "access_token": "INSTAGRAM_ACCESS_TOKEN",
            "account_id": "INSTAGRAM_ACCOUNT_ID",
            "app_secret": "INSTAGRAM_APP_SECRET",
            "verify_token": "INSTAGRAM_VERIFY_TOKEN",
            "api_url": "INSTAGRAM_API_URL",
        },
    ),
    "connectors.email.EmailInput": (
        "EMAIL_IMAP_HOST",
        {
            "imap_host": "EMAIL_IMAP_HOST",
            "imap_port": "EMAIL_IMAP_PORT",
            "imap_user": "EMAIL_IMAP_USER",
            "imap_password": "EMAIL_IMAP_PASSWORD",
            "imap_ssl": "EMAIL_IMAP_SSL",
            "mailbox": "EMAIL_MAILBOX",
            "smtp_host": "EMAIL_SMTP_HOST",
            "smtp_port": "EMAIL_SMTP_PORT",
            "smtp_user": "EMAIL_SMTP_USER",
            "smtp_password": "EMAIL_SMTP_PASSWORD",
            "smtp_security": "EMAIL_SMTP_SECURITY",
            "address": "EMAIL_ADDRESS",
            "sender_name": "EMAIL_SENDER_NAME",
            "poll_seconds": "EMAIL_POLL_SECONDS",
            "max_replies_per_hour": "EMAIL_MAX_REPLIES_PER_HOUR",
        },
    ),
}


def write_credentials(env: dict[str, str], var_dir: Path) -> tuple[Path, list[str]]:
    """credentials.yml plus the channels whose variables are set; returns the file and names."""
    text = (ROOT / "credentials.yml").read_text(encoding="utf-8").rstrip() + "\n"
    enabled = []
    for channel, (switch, keys) in OPTIONAL_CHANNELS.items():
        if not env.get(switch):
            continue
        enabled.append(channel.rsplit(".", 1)[1].removesuffix("Input").lower())
        text += f"\n{channel}:\n"
        for key, variable in keys.items():
            if env.get(variable):  # unset optional keys keep the channel's default
                text += f"  {key}: ${{{variable}}}\n"
    path = var_dir / "credentials.yml"
    path.write_text(text, encoding="utf-8")
    return path, enabled


def redis_lock_store(url: str, key_prefix: str = "") -> tuple[str, dict[str, str]]:
    """Rasa's Redis lock store for `url` (redis://[user:password@]host[:port][/db], or
    rediss:// for TLS): the endpoints.yml block and the variables it reads its secrets from.

    The password stays out of the written file: the block names `${RASA_LOCK_STORE_PASSWORD}`,
    which Rasa expands from its environment.

    Raises:
        ValueError: When `url` is not a redis:// or rediss:// URL, or `key_prefix` is not
            alphanumeric (Rasa would silently drop it).
    """
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
        raise ValueError(f"HELPDESK_REDIS_URL must be redis://host:port/db, not {url!r}")
    if key_prefix and not key_prefix.isalnum():
        raise ValueError(f"the lock store's key prefix must be alphanumeric, not {key_prefix!r}")
    database = parts.path.strip("/") or "0"
    lines = [
        "lock_store:",
        "  type: redis",
        f"  url: {parts.hostname}",
        f"  port: {parts.port or 6379}",
        f"  db: {int(database)}",
    ]
    secrets_env = {}
    if parts.username:
        secrets_env["RASA_LOCK_STORE_USERNAME"] = unquote(parts.username)
        lines.append("  username: ${RASA_LOCK_STORE_USERNAME}")
    if parts.password:
        secrets_env["RASA_LOCK_STORE_PASSWORD"] = unquote(parts.password)
        lines.append("  password: ${RASA_LOCK_STORE_PASSWORD}")
    if parts.scheme == "rediss":
        lines.append("  use_ssl: true")
    if key_prefix:
        lines.append(f"  key_prefix: {key_prefix}")
    return "\n".join(lines) + "\n", secrets_env


def write_endpoints(env: dict[str, str], var_dir: Path) -> Path:
    """The endpoints file Rasa starts with: endpoints.yml itself, or, when
    `HELPDESK_REDIS_URL` is set, a copy in `var_dir` with Rasa's Redis lock store added (so
    several Rasa servers handle one conversation's messages one at a time, in order). The
    lock store's secrets are put in `env`."""
    source = ROOT / "endpoints.yml"
    url = env.get("HELPDESK_REDIS_URL", "")
    if not url:
        return source
    block, secrets_env = redis_lock_store(url, env.get("HELPDESK_REDIS_KEY_PREFIX", ""))
    env.update(secrets_env)
    path = var_dir / "endpoints.yml"
    path.write_text(source.read_text(encoding="utf-8").rstrip() + "\n\n" + block, "utf-8")
    return path


def build_environment(
    base: Mapping[str, str] | None = None, *, dotenv: bool = True
) -> dict[str, str]:
    """The environment of the child processes: `.env` (unless `dotenv` is false: a generated
    file such as the Compose file must not depend on this checkout's `.env`), then `base`
    (default: the caller's environment), then defaults."""
    env = _read_dotenv(ROOT / ".env") if dotenv else {}
    env.update(os.environ if base is None else base)
    var_dir = Path(env.get("HELPDESK_VAR_DIR") or ROOT / "var")
    if not var_dir.is_absolute():
        var_dir = ROOT / var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("HELPDESK_VAR_DIR", str(var_dir))
    env.setdefault("RASA_ACTIONS_PORT", "5055")
    # Only the Rasa server may call the action server: loopback, and a token on every call.
    if not env.get("RASA_ACTIONS_HOST"):
        env["RASA_ACTIONS_HOST"] = "127.0.0.1"
    if not env.get("RASA_ACTIONS_TOKEN"):
        env["RASA_ACTIONS_TOKEN"] = secrets.token_urlsafe(24)
    env.setdefault("RASA_PORT", "5005")
    env.setdefault(
        "ACTION_ENDPOINT_URL",
        f"http://{local_address(env['RASA_ACTIONS_HOST'])}:{env['RASA_ACTIONS_PORT']}/webhook",
    )
    # Tracker store: SQLite under var/ unless RASA_TRACKER_STORE_URL names another database.
    env.setdefault("RASA_TRACKER_STORE_URL", "")
    env.setdefault("RASA_TRACKER_DB", str(var_dir / "tracker.db"))
    if not env.get("RASA_API_TOKEN"):
        env["RASA_API_TOKEN"] = secrets.token_urlsafe(24)
    # Backend services: the simulator on HELPDESK_BACKEND_PORT unless an integrator points
    # HELPDESK_BACKEND_URL at the real systems (then HELPDESK_BACKEND_SIMULATOR defaults to false).
    simulate = env.get("HELPDESK_BACKEND_SIMULATOR") or (
        "false" if env.get("HELPDESK_BACKEND_URL") else "true"
    )
    env["HELPDESK_BACKEND_SIMULATOR"] = simulate.strip().lower()
    env.setdefault("HELPDESK_BACKEND_PORT", "8081")
    if not env.get("HELPDESK_BACKEND_URL"):
        env["HELPDESK_BACKEND_URL"] = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}"
    env.setdefault("HELPDESK_DESK_PORT", "5060")
    env.setdefault("HELPDESK_DESK_HOST", "127.0.0.1")
    # The sweeper's /healthz and /metrics (its readiness check below): loopback.
    env.setdefault("HELPDESK_SWEEPER_PORT", "5070")
    env.setdefault("HELPDESK_SWEEPER_HOST", "127.0.0.1")
    env.setdefault("RASA_URL", f"http://localhost:{env['RASA_PORT']}")
    env.setdefault("SANIC_WORKERS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The e5 embedder runs in both servers: its idle OpenMP threads must sleep, not spin.
    quiet_openmp(env)
    if dotenv:  # `make run` (not a generated deployment): the widget's demo page too
        env.setdefault("HELPDESK_WIDGET_DEMO_PORT", "5090")
        allow_widget_demo(env)
    return env


def allow_widget_demo(env: dict[str, str]) -> None:
    """Let the widget's demo page (another port of this machine) embed the chat."""
    port = (env.get("HELPDESK_WIDGET_DEMO_PORT") or "").strip()
    if not port:
        return
    demo = f"http://localhost:{port} http://127.0.0.1:{port}"
    env["HELPDESK_WIDGET_ORIGINS"] = " ".join(
        part for part in (env.get("HELPDESK_WIDGET_ORIGINS", "").strip(), demo) if part
    )


@dataclass(frozen=True)
class Service:
    """How one process of the assistant starts.

    Attributes:
        name: Short id (`backend`, `actions`, `rasa`, `sweeper`, `desk`, `demo`): log file,
            stack API.
        label: What the console calls it.
        args: The command line.
        health: URL that answers 2xx once the service is up (the sweeper's `/healthz` too);
            None for a process with no HTTP side, which counts as up when it is still running
            after a moment.
        timeout: Seconds it may take to come up.
    """

    name: str
    label: str
    args: list[str]
    health: str | None
    timeout: float


def local_address(host: str) -> str:
    """The address this machine reaches a server on that listens on `host`."""
    return "127.0.0.1" if host in {"", "0.0.0.0", "::", "localhost"} else host  # noqa: S104


def simulator_enabled(env: Mapping[str, str]) -> bool:
    """Whether `make run` starts the backend simulator (no external backend configured)."""
    return env.get("HELPDESK_BACKEND_SIMULATOR", "true") in {"1", "true", "yes", "on"}


def desk_url(env: Mapping[str, str]) -> str:
    """The address a browser on this machine opens for the agent desk."""
    host = env["HELPDESK_DESK_HOST"]
    shown = "localhost" if host in {"127.0.0.1", "0.0.0.0", "::"} else host  # noqa: S104
    return f"http://{shown}:{env['HELPDESK_DESK_PORT']}"


def plan(
    env: Mapping[str, str],
    credentials: Path,
    *,
    endpoints: Path = ROOT / "endpoints.yml",
    model: Path = ROOT / "models",
) -> list[Service]:
    """Every service of the assistant, in start order, for the environment `env`
    (`build_environment`)."""
    rasa_port = env["RASA_PORT"]
    services = []
    if simulator_enabled(env):
        args = [str(BIN / "helpdesk"), "backend", "serve", "--port", env["HELPDESK_BACKEND_PORT"]]
        if env.get("HELPDESK_BACKEND_FIXTURES"):
            args += ["--fixtures", env["HELPDESK_BACKEND_FIXTURES"]]
        health = f"http://localhost:{env['HELPDESK_BACKEND_PORT']}/v1/health"
        services.append(Service("backend", "backend simulator", args, health, 30))
    actions_port = env["RASA_ACTIONS_PORT"]
    # Host and token of the action server come from the environment (rasa_sdk_plugins).
    actions_host = local_address(env.get("RASA_ACTIONS_HOST") or "127.0.0.1")
    services.append(
        Service(
            "actions",
            "action server",
            [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", actions_port],
            f"http://{actions_host}:{actions_port}/health",
            120,
        )
    )
    # The launcher hands RASA_API_TOKEN to Rasa in-process: no token on the command line.
    rasa = [sys.executable, str(ROOT / "scripts" / "rasa_server.py")]
    rasa += ["run", "--model", str(model), "--enable-api"]
    rasa += ["--cors", "*", "--port", rasa_port, "--credentials", str(credentials)]
    rasa += ["--endpoints", str(endpoints)]
    services.append(Service("rasa", "rasa server", rasa, f"http://localhost:{rasa_port}/", 300))
    sweeper_host = env.get("HELPDESK_SWEEPER_HOST") or "127.0.0.1"
    sweeper_port = env.get("HELPDESK_SWEEPER_PORT") or "5070"
    sweeper = [str(BIN / "helpdesk"), "sweeper", "--host", sweeper_host, "--port", sweeper_port]
    sweeper_health = f"http://{local_address(sweeper_host)}:{sweeper_port}/healthz"
    services.append(Service("sweeper", "idle sweeper", sweeper, sweeper_health, 30))
    desk = [str(BIN / "helpdesk"), "desk", "serve", "--host", env["HELPDESK_DESK_HOST"]]
    desk += ["--port", env["HELPDESK_DESK_PORT"]]
    services.append(Service("desk", "agent desk", desk, f"{desk_url(env)}/healthz", 60))
    demo_port = (env.get("HELPDESK_WIDGET_DEMO_PORT") or "").strip()
    if demo_port:
        chat = f"http://localhost:{rasa_port}/webhooks/webchat/"
        demo = [sys.executable, str(ROOT / "scripts" / "widget_demo.py"), "--port", demo_port]
        demo += ["--assistant", chat]
        health = f"http://127.0.0.1:{demo_port}/"
        services.append(Service("demo", "widget demo page", demo, health, 15))
    return services
