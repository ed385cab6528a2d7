"""Helpers the scripts share for local servers: a free port, health, who listens where."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str, timeout: float = 2) -> bool:
    """Whether `url` answers 2xx within `timeout` seconds (one try)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            return 200 <= response.status < 300
    except OSError:  # refused, reset, timed out, or an HTTP error status
        return False


def wait_http(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll `url` until it answers 2xx (True), or `proc` exits or `timeout` passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if healthy(url):
            return True
        time.sleep(0.5)
    return False


def listening_addresses(port: int) -> set[str]:
    """The local addresses on which a TCP socket of this machine listens on `port` (Linux:
    read from /proc/net/tcp and /proc/net/tcp6), e.g. {"127.0.0.1"} or {"0.0.0.0"}."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port_hex = fields[1].partition(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found
