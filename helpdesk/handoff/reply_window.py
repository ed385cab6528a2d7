"""How long after a citizen's last message an agent's reply can still reach them (pure).

The platforms decide, not us: WhatsApp lets a business send free-form messages only within 24
hours of the citizen's last message (after it only approved templates, and an agent's reply
has none); Messenger and Instagram answer freely for 24 hours and let a human agent's reply
out, tagged `HUMAN_AGENT`, for 7 days. Telegram, e-mail, the web chat and REST have no window.

The desk warns the agent before they type (`reply_window_notice`), and the desk worker marks a
reply the platform would refuse as failed instead of handing it to the channel, which would
drop it silently (`agent_reply_allowed`). The channels apply the same rules to every message
(`connectors.common.window`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: The standard messaging window of Meta's platforms.
STANDARD_WINDOW = timedelta(hours=24)
#: How long after the citizen's last message a human agent may still answer (tagged).
HUMAN_AGENT_WINDOW = timedelta(days=7)
#: How long an agent's reply may go out after the citizen's last message, by channel.
AGENT_REPLY_WINDOWS = {
    "whatsapp": STANDARD_WINDOW,
    "messenger": HUMAN_AGENT_WINDOW,
    "instagram": HUMAN_AGENT_WINDOW,
}
#: What the desk tells the agent once the window has closed.
_NOTICES = {
    "whatsapp": (
        "Warga terakhir menulis lebih dari 24 jam yang lalu. WhatsApp hanya mengizinkan balasan "
        "bebas dalam 24 jam sejak pesan terakhir warga, jadi balasan Anda tidak akan terkirim. "
        "Tindak lanjuti lewat tiket, atau selesaikan percakapan; begitu warga menulis lagi, "
        "balasan dapat dikirim kembali."
    ),
    "meta": (
        "Warga terakhir menulis lebih dari 7 hari yang lalu. {platform} tidak mengizinkan "
        "balasan petugas setelah 7 hari, jadi balasan Anda tidak akan terkirim. Tindak lanjuti "
        "lewat tiket."
    ),
}


def window_open(last_inbound: datetime | None, now: datetime) -> bool:
    """Whether the 24-hour customer service window is open: the citizen wrote at most 24
    hours ago (False when no message of theirs is known)."""
    return last_inbound is not None and now - last_inbound <= STANDARD_WINDOW


def agent_reply_allowed(channel: str | None, last_inbound: datetime | None, now: datetime) -> bool:
    """Whether an agent's reply may still go out on `channel`.

    `last_inbound` None means no message of the citizen is on record on this channel (never
    delivered through the inbox, e.g. an integrator's gateway): allowed, the channel then
    decides.
    """
    window = AGENT_REPLY_WINDOWS.get(channel or "")
    if window is None or last_inbound is None:
        return True
    return now - last_inbound <= window


def reply_window_notice(channel: str | None, last_inbound: datetime | None, now: datetime) -> str:
    """The desk's warning when an agent's reply can no longer reach the citizen, else ""."""
    if agent_reply_allowed(channel, last_inbound, now):
        return ""
    if channel == "whatsapp":
        return _NOTICES["whatsapp"]
    return _NOTICES["meta"].format(platform=str(channel).capitalize())
