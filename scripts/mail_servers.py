"""A local IMAP server (Debian's dovecot) for the e-mail channel and its tests.

    .venv/bin/python scripts/mail_servers.py up      # install when missing (root), start, print env
    .venv/bin/python scripts/mail_servers.py env     # the settings as shell assignments
    .venv/bin/python scripts/mail_servers.py status  # is it answering?
    .venv/bin/python scripts/mail_servers.py down    # stop it

When the `dovecot` binary is missing and the process runs as root, `dovecot-imapd` is installed
with apt-get (`apt-get update` first, no service started). The project's own instance then runs
apart from any system service: its configuration, runtime files, log and maildirs under
`MAIL_DIR` (/var/tmp), IMAP on 127.0.0.1:`IMAP_PORT` without TLS, plaintext login allowed on
loopback only, users in a passwd-file (`add_user`; `up` makes the user `helpdesk` with a random
password kept in `MAIL_DIR/credentials.json`, mode 0600). Mails are put in a mailbox with IMAP
APPEND. The instance keeps running after this script ends; `down` stops it.

The SMTP side of the tests is aiosmtpd, started inside the tests themselves.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

MAIL_DIR = Path(os.environ.get("HELPDESK_MAIL_DIR", "/var/tmp/helpdesk-mail"))
IMAP_PORT = int(os.environ.get("HELPDESK_IMAP_PORT", "10143"))
PACKAGES = ["dovecot-imapd"]
DEFAULT_USER = "helpdesk"


class MailServerError(RuntimeError):
    """The server could not be installed or started; the message says what to do."""


@dataclass(frozen=True)
class Imap:
    """Where the local IMAP server answers, and its default user."""

    host: str
    port: int
    user: str
    password: str

    def shell(self) -> str:
        return (
            f"EMAIL_IMAP_HOST={self.host}\nEMAIL_IMAP_PORT={self.port}\nEMAIL_IMAP_SSL=false\n"
            f"EMAIL_IMAP_USER={self.user}\nEMAIL_IMAP_PASSWORD={self.password}\n"
        )


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
    )


def _is_root() -> bool:
    return os.geteuid() == 0


def install() -> float:
    """`apt-get install dovecot-imapd` (as root) after `apt-get update`, keeping Debian from
    starting its service; returns the seconds it took."""
    if not _is_root():
        raise MailServerError(
            "dovecot is missing: as root run `apt-get update && apt-get install -y dovecot-imapd`"
        )
    started = time.monotonic()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text(
            "#!/bin/sh\n# helpdesk scripts/mail_servers.py: no service starts\nexit 101\n"
        )
        policy.chmod(0o755)
    try:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    finally:
        if ours:
            policy.unlink(missing_ok=True)
    return time.monotonic() - started


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _users_file() -> Path:
    return MAIL_DIR / "users"


def _mail_owner() -> tuple[int, int, str]:
    """(uid, gid, name) the maildirs belong to: `nobody` as root (dovecot refuses to give
    users root's uid), else ourselves."""
    entry = pwd.getpwnam("nobody") if _is_root() else pwd.getpwuid(os.getuid())
    return entry.pw_uid, entry.pw_gid, entry.pw_name


def _credentials() -> dict[str, str]:
    path = MAIL_DIR / "credentials.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    MAIL_DIR.mkdir(parents=True, exist_ok=True)
    values = {"user": DEFAULT_USER, "password": secrets.token_urlsafe(18)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(values, out)
    return values


def add_user(user: str, password: str) -> None:
    """Add (or give a new password to) a mailbox user of the local server."""
    if not user.replace("-", "").replace("_", "").replace(".", "").replace("@", "").isalnum():
        raise ValueError(f"not a plain user name: {user!r}")
    if ":" in password or "\n" in password:
        raise ValueError("the password must not hold ':' or a line break")
    MAIL_DIR.mkdir(parents=True, exist_ok=True)
    path = _users_file()
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = [line for line in lines if not line.startswith(f"{user}:")]
    lines.append(f"{user}:{{PLAIN}}{password}::::::")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    if _is_root():  # dovecot's auth process reads it as the `dovecot` user
        shutil.chown(path, "root", "dovecot")


def _config() -> str:
    uid, gid, name = _mail_owner()
    internal = "dovecot" if _is_root() else name
    login = "dovenull" if _is_root() else name
    run = MAIL_DIR / "run"
    return f"""# helpdesk scripts/mail_servers.py: the project's own dovecot, loopback only
base_dir = {run}
state_dir = {MAIL_DIR / "state"}
log_path = {MAIL_DIR / "dovecot.log"}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 500)}
first_valid_gid = {min(gid, 500)}
mail_location = maildir:{MAIL_DIR / "maildir"}/%u
mail_uid = {uid}
mail_gid = {gid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {_users_file()}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={MAIL_DIR / "home"}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {IMAP_PORT}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def config_file() -> Path:
    return MAIL_DIR / "dovecot.conf"


def start() -> Imap:
    """Install when missing (root), write the configuration, start the server, and make the
    default user; returns where it answers."""
    binary = dovecot_binary()
    if binary is None:
        seconds = install()
        print(f"installed {' '.join(PACKAGES)} in {seconds:.1f} s", file=sys.stderr)
        binary = dovecot_binary()
    if binary is None:
        raise MailServerError("dovecot is still missing after the install")
    creds = _credentials()
    uid, gid, _ = _mail_owner()
    for folder in ("maildir", "home", "state", "run"):
        (MAIL_DIR / folder).mkdir(parents=True, exist_ok=True)
    if _is_root():
        for folder in ("maildir", "home"):
            os.chown(MAIL_DIR / folder, uid, gid)
    MAIL_DIR.chmod(0o755)
    if not _users_file().exists() or f"{creds['user']}:" not in _users_file().read_text():
        add_user(creds["user"], creds["password"])
    config_file().write_text(_config(), encoding="utf-8")
    if not _port_open(IMAP_PORT):
        # dovecot forks into the background: its output goes to a file, not to a pipe this
        # process would wait on until the server ends.
        start_log = MAIL_DIR / "start.log"
        with start_log.open("w", encoding="utf-8") as output:
            done = subprocess.run(
                [binary, "-c", str(config_file())], stdout=output, stderr=output, check=False
            )
        if done.returncode != 0:
            raise MailServerError(f"dovecot did not start: {start_log.read_text()[-2000:]}")
        deadline = time.monotonic() + 30
        while not _port_open(IMAP_PORT):
            if time.monotonic() > deadline:
                log = MAIL_DIR / "dovecot.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise MailServerError(f"dovecot did not answer on {IMAP_PORT}:\n{tail}")
            time.sleep(0.1)
    return imap()


def imap() -> Imap:
    creds = _credentials()
    return Imap("127.0.0.1", IMAP_PORT, creds["user"], creds["password"])


def stop() -> None:
    binary = dovecot_binary()
    if binary and config_file().exists():
        subprocess.run(
            [binary, "-c", str(config_file()), "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def check(found: Imap) -> str:
    """Log in with the default user: "ok" or the error."""
    import imaplib

    try:
        client = imaplib.IMAP4(found.host, found.port, timeout=5)
        client.login(found.user, found.password)
        client.logout()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return f"not answering: {exc.__class__.__name__}: {exc}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "env", "status"])
    args = parser.parse_args(argv)
    try:
        if args.command == "down":
            stop()
            print("dovecot stopped")
            return 0
        found = start() if args.command == "up" else imap()
        if args.command == "env" or args.command == "up":
            sys.stdout.write(found.shell())
            if args.command == "env":
                return 0
        state = check(found)
        print(f"imap 127.0.0.1:{found.port}  {state}", file=sys.stderr)
        return 0 if state == "ok" else 1
    except (MailServerError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
