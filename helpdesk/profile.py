"""The organisation a deployment serves: its profile folder (`profiles/<name>/profile.yml`).

One setting (`HELPDESK_PROFILE`, default `djpb`) chooses the folder. The profile names the
service and introduces it, says how citizens are greeted, which self-service lookups the
organisation offers, and where its menu, office hours and FAQ sources are (paths relative to
the folder). Explicit settings still win (`HELPDESK_MENU_FILE`, `HELPDESK_OFFICE_HOURS_FILE`,
`HELPDESK_KB_SOURCE`, `HELPDESK_TIMEZONE`).

```yaml
version: 1
name: Helpdesk Perbendaharaan            # what the assistant calls the service
organisation: Direktorat Jenderal Perbendaharaan
introduction: >-                         # the first reply to a greeting, before the menu
  Saya asisten virtual ...
greeting:
  time_of_day: true                      # "Selamat pagi, Budi!" (false: "Halo, Budi!")
  name_flow: perkenalan                  # optional: a flow that asks the visitor's name when
                                         # the channel gives none, walked on the first greeting
timezone: WIB                            # optional: the helpdesk's time zone
website: https://...                     # optional
mailbox: helpdesk@...                    # optional: where new tickets are e-mailed (SMTP_*)
widget:                                  # optional: the chat widget on the organisation's site
  colour: "#0b4a8b"                      # launcher and header; white text on it >= 4.5:1
  allowed_origins: [https://contoh.go.id]  # sites that may embed it (+ HELPDESK_WIDGET_ORIGINS)
  prechat_name: true                     # ask the visitor's name before the chat
privacy:                                 # optional: retention periods (helpdesk/privacy/policy.py)
  retention_days: {tracker_events: 90, ticket: 1825}
  approval: [erasure]                    # data requests a supervisor approves first
  answer_within_days: 3                  # the legal time limit shown
  erasure_exempt: []                     # stores kept on erasure (state administration)
lookups: [sp2d, contract, digit, sakti]  # the self-service lookups offered (may be empty)
files:
  menu: menu.yml
  office_hours: office_hours.yml
  faq: faq                               # a folder of YAML files, or one YAML/CSV file
  flows: flows.yml                       # optional: guided flows (helpdesk/conversation/flows.py)
  whatsapp_templates: whatsapp_templates.yml  # optional: the approved WhatsApp templates
                                         # (helpdesk/conversation/message_templates.py)
```

A profile is checked when it is read; every error names the file and the key
(`ProfileError`). A menu item that starts a lookup the profile does not offer is refused too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from helpdesk.privacy.policy import PolicyError, RequestPolicy, RetentionPolicy

PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Where the profile folders are.
PROFILES_DIR = PROJECT_ROOT / "profiles"
#: The profile of a deployment that names none.
DEFAULT_PROFILE = "djpb"
PROFILE_FILE = "profile.yml"
#: The self-service lookups, by the name a profile gives them, with the form each starts.
LOOKUP_FORMS = {
    "sp2d": "sp2d_form",
    "contract": "contract_form",
    "digit": "digit_form",
    "sakti": "sakti_form",
}
_FILES = ("menu", "office_hours", "faq", "flows", "whatsapp_templates")
_KEYS = {"version", "name", "organisation", "introduction", "greeting", "timezone", "website"}
_KEYS |= {"lookups", "files", "mailbox", "widget", "privacy"}


class ProfileError(ValueError):
    """A profile that cannot be used (the message names the file and the key)."""


#: The widget's colour when the profile gives none (white text on it: 9:1).
DEFAULT_WIDGET_COLOUR = "#0b4a8b"
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")


@dataclass(frozen=True)
class WidgetProfile:
    """The chat widget of the organisation's website.

    Attributes:
        colour: The launcher's and the chat header's colour ("#rrggbb", white text on it).
        allowed_origins: The sites ("https://host[:port]") that may embed the chat.
        prechat_name: Ask the visitor's name before the chat starts.
    """

    colour: str = DEFAULT_WIDGET_COLOUR
    allowed_origins: tuple[str, ...] = ()
    prechat_name: bool = False


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of white text on `colour` ("#rrggbb")."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def check_origin(origin: str) -> str:
    """An embedding origin as the browser sends it ("https://host[:port]", no path).

    Raises:
        ValueError: Anything else.
    """
    text = origin.strip().rstrip("/")
    if not _ORIGIN.match(text):
        raise ValueError(f"{origin!r} is not an origin such as https://contoh.go.id")
    return text.lower()


def _widget(raw: Any, where: str) -> WidgetProfile:
    if raw is None:
        return WidgetProfile()
    if not isinstance(raw, dict) or set(raw) - {"colour", "allowed_origins", "prechat_name"}:
        raise ProfileError(
            f"{where}: 'widget' may hold 'colour', 'allowed_origins' and 'prechat_name'"
        )
    colour = raw.get("colour", DEFAULT_WIDGET_COLOUR)
    if not isinstance(colour, str) or not _HEX_COLOUR.match(colour):
        raise ProfileError(f"{where}: 'widget.colour' must be a colour such as \"#0b4a8b\"")
    if contrast_with_white(colour) < 4.5:
        raise ProfileError(
            f"{where}: 'widget.colour' {colour} is too light for white text "
            f"({contrast_with_white(colour):.1f}:1; WCAG AA needs 4.5:1)"
        )
    origins = raw.get("allowed_origins") or []
    if not isinstance(origins, list):
        raise ProfileError(f"{where}: 'widget.allowed_origins' must be a list of origins")
    try:
        allowed = tuple(check_origin(str(o)) for o in origins)
    except ValueError as exc:
        raise ProfileError(f"{where}: 'widget.allowed_origins': {exc}") from exc
    prechat = raw.get("prechat_name", False)
    if not isinstance(prechat, bool):
        raise ProfileError(f"{where}: 'widget.prechat_name' must be true or false")
    return WidgetProfile(colour.lower(), allowed, prechat)


@dataclass(frozen=True)
class Profile:
    """An organisation's profile.

    Attributes:
        key: The folder's name ("djpb").
        folder: The profile's folder.
        name: The service's name, as the assistant calls it.
        organisation: The organisation behind it.
        introduction: The first reply to a greeting, before the menu.
        time_of_day_greeting: Greet with the time of day ("Selamat pagi") or "Halo".
        name_flow: The flow that asks a visitor's name the channel did not give, walked
            when a session opens with a greeting; None to greet without asking.
        timezone: The helpdesk's time zone when the profile sets one, else None.
        website: The organisation's website, or None.
        mailbox: The helpdesk mailbox new tickets are e-mailed to, or None.
        lookups: The self-service lookups offered (`LOOKUP_FORMS` keys).
        menu_file, office_hours_file, faq_source: The profile's files.
        flows_file: Its guided flows, or None.
        whatsapp_templates_file: Its approved WhatsApp message templates, or None (outside
            WhatsApp's 24-hour window nothing is then sent).
        retention: How long each store keeps personal data (`helpdesk.privacy.policy`).
        requests: How citizens' data requests are handled (approval, time limit, exemptions).
    """

    key: str
    folder: Path
    name: str
    organisation: str
    introduction: str
    time_of_day_greeting: bool
    timezone: str | None
    website: str | None
    lookups: frozenset[str]
    menu_file: Path
    office_hours_file: Path
    faq_source: Path
    flows_file: Path | None = None
    whatsapp_templates_file: Path | None = None
    name_flow: str | None = None
    mailbox: str | None = None
    widget: "WidgetProfile" = field(default_factory=lambda: WidgetProfile())
    retention: "RetentionPolicy" = field(default_factory=lambda: RetentionPolicy())
    requests: "RequestPolicy" = field(default_factory=lambda: RequestPolicy())

    @property
    def disabled_forms(self) -> frozenset[str]:
        """The lookup forms this organisation does not offer."""
        return frozenset(form for key, form in LOOKUP_FORMS.items() if key not in self.lookups)


def profile_folder(name: str) -> Path:
    """The folder of profile `name` (a name, or a path to a folder)."""
    text = (name or DEFAULT_PROFILE).strip()
    if "/" in text or os.sep in text:
        path = Path(text)
        return path if path.is_absolute() else PROJECT_ROOT / path
    return PROFILES_DIR / text


def _text(raw: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: '{key}' must be a non-empty text")
    return " ".join(value.split()) if key != "introduction" else value.strip()


def _file(folder: Path, files: dict[str, Any], key: str, where: str) -> Path:
    value = files.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(f"{where}: 'files.{key}' must name a file or folder")
    path = (folder / value.strip()).resolve()
    if not path.exists():
        raise ProfileError(f"{where}: 'files.{key}' names {value!r}, which does not exist")
    return path


def _retention(raw: Any, where: str) -> RetentionPolicy:
    try:
        return RetentionPolicy.from_config(raw, f"{where}: privacy")
    except PolicyError as exc:
        raise ProfileError(str(exc)) from exc


def _requests(raw: Any, where: str) -> RequestPolicy:
    try:
        return RequestPolicy.from_config(raw, f"{where}: privacy")
    except PolicyError as exc:
        raise ProfileError(str(exc)) from exc


def read_profile(folder: Path) -> Profile:
    """Read and check the profile in `folder`.

    Raises:
        ProfileError: No profile there, bad YAML, a missing or wrong key, a file it names
            that does not exist, or a menu item that starts a lookup it does not offer.
    """
    path = folder / PROFILE_FILE
    where = str(path)
    if not path.is_file():
        known = sorted(p.name for p in PROFILES_DIR.iterdir() if (p / PROFILE_FILE).is_file())
        raise ProfileError(f"{where}: no such profile (profiles: {', '.join(known)})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"{where}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: expected a mapping with 'version: 1'")
    if raw.get("version") != 1:
        raise ProfileError(f"{where}: 'version' must be 1")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    greeting = raw.get("greeting") or {}
    if not isinstance(greeting, dict) or set(greeting) - {"time_of_day", "name_flow"}:
        raise ProfileError(
            f"{where}: 'greeting' may only hold 'time_of_day' (true or false) and 'name_flow'"
        )
    time_of_day = greeting.get("time_of_day", True)
    if not isinstance(time_of_day, bool):
        raise ProfileError(f"{where}: 'greeting.time_of_day' must be true or false")
    name_flow = greeting.get("name_flow")
    if name_flow is not None and (not isinstance(name_flow, str) or not name_flow.strip()):
        raise ProfileError(f"{where}: 'greeting.name_flow' must name a flow of 'files.flows'")
    mailbox = _text(raw, "mailbox", where, required=False)
    if mailbox is not None:
        from helpdesk.conversation.validation import validate_email

        if validate_email(mailbox) is None:
            raise ProfileError(f"{where}: 'mailbox' {mailbox!r} is not an e-mail address")
    lookups = raw.get("lookups") or []
    if not isinstance(lookups, list) or not all(isinstance(x, str) for x in lookups):
        raise ProfileError(f"{where}: 'lookups' must be a list of lookup names")
    unknown_lookups = sorted(set(lookups) - set(LOOKUP_FORMS))
    if unknown_lookups:
        raise ProfileError(
            f"{where}: 'lookups' names {', '.join(unknown_lookups)}; "
            f"known lookups: {', '.join(LOOKUP_FORMS)}"
        )
    files = raw.get("files")
    if not isinstance(files, dict) or set(files) - set(_FILES):
        raise ProfileError(f"{where}: 'files' must map {', '.join(_FILES)} to paths")
    timezone = _text(raw, "timezone", where, required=False)
    if timezone is not None:
        from helpdesk.clock import check_timezone

        try:
            check_timezone(timezone)
        except ValueError as exc:
            raise ProfileError(f"{where}: 'timezone': {exc}") from exc
    profile = Profile(
        key=folder.name,
        folder=folder,
        name=str(_text(raw, "name", where)),
        organisation=str(_text(raw, "organisation", where)),
        introduction=str(_text(raw, "introduction", where)),
        time_of_day_greeting=time_of_day,
        timezone=timezone,
        website=_text(raw, "website", where, required=False),
        lookups=frozenset(lookups),
        menu_file=_file(folder, files, "menu", where),
        office_hours_file=_file(folder, files, "office_hours", where),
        faq_source=_file(folder, files, "faq", where),
        flows_file=_file(folder, files, "flows", where) if "flows" in files else None,
        whatsapp_templates_file=(
            _file(folder, files, "whatsapp_templates", where)
            if "whatsapp_templates" in files
            else None
        ),
        name_flow=name_flow.strip() if name_flow else None,
        mailbox=mailbox,
        widget=_widget(raw.get("widget"), where),
        retention=_retention(raw.get("privacy"), where),
        requests=_requests(raw.get("privacy"), where),
    )
    _check_menu(profile)
    _check_flows(profile)
    _check_office_hours(profile)
    _check_templates(profile)
    return profile


def _check_templates(profile: Profile) -> None:
    """The WhatsApp template registry must follow the format and Meta's rules."""
    from helpdesk.conversation.message_templates import TemplateError, load_registry

    try:
        load_registry(profile.whatsapp_templates_file)
    except TemplateError as exc:
        raise ProfileError(str(exc)) from exc


def _check_flows(profile: Profile) -> None:
    """The flows must load, and the entries and categories they end with must be in the
    profile's FAQ sources."""
    if profile.flows_file is None:
        if profile.name_flow is not None:
            raise ProfileError(
                f"{profile.folder / PROFILE_FILE}: 'greeting.name_flow' names flow "
                f"{profile.name_flow!r}, but the profile names no 'files.flows'"
            )
        return
    from helpdesk.conversation.flow_files import check_targets, load_flows
    from helpdesk.conversation.flows import FlowError
    from helpdesk.knowledge.loader import FaqSourceError, load_faqs

    try:
        flows = load_flows(profile.flows_file)
        entries = load_faqs(profile.faq_source)
    except (FlowError, FaqSourceError) as exc:
        raise ProfileError(str(exc)) from exc
    from helpdesk.conversation.menu import load_menu

    if profile.name_flow is not None and profile.name_flow not in flows:
        raise ProfileError(
            f"{profile.folder / PROFILE_FILE}: 'greeting.name_flow' names flow "
            f"{profile.name_flow!r}, which {profile.flows_file} does not define"
        )
    for item in load_menu(profile.menu_file).items:
        if item.flow is not None and item.flow not in flows:
            raise ProfileError(
                f"{profile.menu_file}: item {item.number} ({item.title!r}) starts flow "
                f"{item.flow!r}, which {profile.flows_file} does not define"
            )
    try:
        check_targets(
            flows, {e.id for e in entries}, {e.category for e in entries}, str(profile.flows_file)
        )
    except FlowError as exc:
        raise ProfileError(f"{exc} ({profile.faq_source})") from exc


def _check_office_hours(profile: Profile) -> None:
    """The office hours file must load (its own errors name the file and the entry)."""
    from helpdesk.handoff.office_hours_loader import load_office_hours

    try:
        load_office_hours(profile.office_hours_file)
    except ValueError as exc:
        raise ProfileError(str(exc)) from exc


def _check_menu(profile: Profile) -> None:
    """Refuse a menu item that starts a lookup the profile does not offer, or a flow when the
    profile has none."""
    from helpdesk.conversation.menu import MenuError, load_menu

    try:
        menu = load_menu(profile.menu_file)
    except MenuError as exc:
        raise ProfileError(str(exc)) from exc
    for item in menu.items:
        if item.flow is not None and profile.flows_file is None:
            raise ProfileError(
                f"{profile.menu_file}: item {item.number} ({item.title!r}) starts flow "
                f"{item.flow!r}, but {profile.folder / PROFILE_FILE} names no 'files.flows'"
            )
        if item.action in profile.disabled_forms:
            lookup = next(k for k, form in LOOKUP_FORMS.items() if form == item.action)
            raise ProfileError(
                f"{profile.menu_file}: item {item.number} ({item.title!r}) starts "
                f"{item.action}, but {profile.folder / PROFILE_FILE} does not list "
                f"{lookup!r} in 'lookups'"
            )


@lru_cache(maxsize=16)
def _cached(folder: str, stamp: float) -> Profile:
    return read_profile(Path(folder))


def load_profile(name: str | Path = DEFAULT_PROFILE) -> Profile:
    """The profile `name` (a name under `profiles/` or a folder), read again when its file
    changed."""
    folder = name if isinstance(name, Path) else profile_folder(name)
    path = folder / PROFILE_FILE
    stamp = path.stat().st_mtime if path.is_file() else 0.0
    return _cached(str(folder), stamp)
