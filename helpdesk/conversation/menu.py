"""The numbered main menu, loaded from configuration (`helpdesk/menu.yml`).

Each item has a stable number, a title, the Rasa action or form it starts and aliases for
choosing it by name. Adding a service to the menu is an edit of the YAML file only.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Union

import yaml

#: The form that walks a guided flow (a menu item with `flow:` starts it).
FLOW_FORM = "flow_form"
#: Smallest similarity (0-1) for a fuzzy name match to count.
FUZZY_THRESHOLD = 0.8

_NUMBER_CHOICE = re.compile(
    r"^(?:(?:pilih(?:an)?|nomor|nomer|no|nmr|menu|angka|opsi|layanan)\s*)?(\d{1,2})$"
)


class MenuError(ValueError):
    """The menu configuration is invalid (message names the file and the item)."""


@dataclass(frozen=True)
class MenuItem:
    """One entry of the main menu.

    Attributes:
        number: What the user types to choose it (1-99, unique).
        title: Short title shown in the menu.
        action: The Rasa action, response or form the choice starts.
        description: Optional one-line description shown after the title.
        aliases: Names the item can be chosen by (the title is always one).
        flow: The guided flow it starts (`flow: <id>` in the file; its action is
            `FLOW_FORM`), or None.
    """

    number: int
    title: str
    action: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    flow: str | None = None

    @property
    def label(self) -> str:
        """The menu line, e.g. "2. Cek Status Tiket - lihat perkembangan tiket Anda"."""
        if self.description:
            return f"{self.number}. {self.title} - {self.description}"
        return f"{self.number}. {self.title}"

    @property
    def payload(self) -> str:
        """The button payload that chooses this item (`/menu_select{"number":"N"}`)."""
        return "/menu_select" + json.dumps({"number": str(self.number)}, separators=(",", ":"))

    def names(self) -> tuple[str, ...]:
        """Normalised title and aliases."""
        return tuple(dict.fromkeys(normalize(n) for n in (self.title, *self.aliases) if n))


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^0-9a-z]+", " ", text.lower())
    return " ".join(text.split())


class Menu:
    """The ordered main menu."""

    def __init__(self, items: Iterable[MenuItem]) -> None:
        ordered = sorted(items, key=lambda item: item.number)
        if not ordered:
            raise MenuError("the menu has no items")
        seen: set[int] = set()
        for item in ordered:
            if item.number in seen:
                raise MenuError(f"menu number {item.number} is used twice")
            seen.add(item.number)
        self.items: tuple[MenuItem, ...] = tuple(ordered)

    def get(self, number: Union[int, str, None]) -> MenuItem | None:
        """The item with this number, or None."""
        try:
            wanted = int(str(number).strip())
        except (TypeError, ValueError):
            return None
        return next((item for item in self.items if item.number == wanted), None)

    def named(self, text: str | None) -> MenuItem | None:
        """The item whose title or an alias is exactly `text` (case, spaces and punctuation
        aside), else None: a choice by name NLU could not know (a profile's own item)."""
        cleaned = normalize(text or "")
        return (
            next((item for item in self.items if cleaned in item.names()), None)
            if cleaned
            else None
        )

    def match(self, text: str | None) -> MenuItem | None:
        """The item the user chose by number ("2", "pilih 2") or by name, or None.

        Names match exactly, as a phrase inside the text, or fuzzily (misspellings) with
        a similarity of at least `FUZZY_THRESHOLD`; an ambiguous fuzzy match gives None.
        """
        if not text:
            return None
        cleaned = normalize(text)
        if not cleaned:
            return None
        number = _NUMBER_CHOICE.match(cleaned)
        if number:
            return self.get(number.group(1))
        padded = f" {cleaned} "
        best: list[tuple[float, MenuItem]] = []
        for item in self.items:
            score = 0.0
            for name in item.names():
                if name == cleaned:
                    return item
                if f" {name} " in padded and len(name) >= 4:
                    # Longer contained names are more specific ("cek status tiket" > "tiket").
                    score = max(score, 0.9 + min(len(name), 50) / 1000)
                    continue
                score = max(score, difflib.SequenceMatcher(None, cleaned, name).ratio())
            if score >= FUZZY_THRESHOLD:
                best.append((score, item))
        if not best:
            return None
        best.sort(key=lambda pair: pair[0], reverse=True)
        if len(best) > 1 and best[0][0] - best[1][0] < 0.005:
            return None
        return best[0][1]

    def render(self) -> str:
        """The numbered menu as text, one item per line."""
        return "\n".join(item.label for item in self.items)

    def buttons(self) -> list[dict[str, str]]:
        """One button per item (title "N. Title", payload choosing the item)."""
        return [
            {"title": f"{item.number}. {item.title}", "payload": item.payload}
            for item in self.items
        ]


def _item_from_dict(data: Any, where: str) -> MenuItem:
    if not isinstance(data, dict):
        raise MenuError(f"{where}: each item must be a mapping")
    flow = data.get("flow")
    if flow is not None:
        if not isinstance(flow, str) or not flow.strip() or data.get("action"):
            raise MenuError(f"{where}: 'flow' names a flow of the profile, instead of 'action'")
        data = {**data, "action": FLOW_FORM}
    missing = [key for key in ("number", "title", "action") if not data.get(key)]
    if missing:
        raise MenuError(f"{where}: missing {', '.join(missing)}")
    try:
        number = int(data["number"])
    except (TypeError, ValueError) as exc:
        raise MenuError(f"{where}: number {data['number']!r} is not an integer") from exc
    if not 1 <= number <= 99:
        raise MenuError(f"{where}: number {number} must be between 1 and 99")
    aliases = data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise MenuError(f"{where}: aliases must be a list of strings")
    return MenuItem(
        number=number,
        title=str(data["title"]).strip(),
        action=str(data["action"]).strip(),
        description=str(data.get("description") or "").strip(),
        aliases=tuple(a.strip() for a in aliases if a.strip()),
        flow=flow.strip() if isinstance(flow, str) else None,
    )


def load_menu(path: Union[str, Path]) -> Menu:
    """Load the menu from a YAML file.

    Raises:
        MenuError: The file is missing, is not valid YAML or has an invalid item.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise MenuError(f"{path}: menu file not found") from exc
    except yaml.YAMLError as exc:
        raise MenuError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise MenuError(f"{path}: expected a mapping with an 'items' list")
    items = [
        _item_from_dict(raw, f"{path}: item {index + 1}") for index, raw in enumerate(data["items"])
    ]
    try:
        return Menu(items)
    except MenuError as exc:
        raise MenuError(f"{path}: {exc}") from exc
