"""Approved WhatsApp message templates: the registry an organisation keeps (pure).

Outside WhatsApp's 24-hour customer service window (24 hours after the citizen's last message)
a business may send only a message template Meta approved beforehand. Each organisation lists
its approved templates in a YAML file its profile names (`files.whatsapp_templates`, see
`helpdesk.profile`); the WhatsApp channel sends a template instead of the message it stands
for, and sends nothing else, when the window is closed.

```yaml
version: 1
templates:
  - name: status_tiket_diperbarui      # as approved in WhatsApp Manager (a-z, 0-9, _)
    language: id                       # the approved translation's language code
    category: UTILITY                  # UTILITY or MARKETING
    replaces: [utter_ticket_status_changed]  # responses/messages it stands for (optional)
    variables: [ticket_number, status_label] # {{1}}, {{2}}: message values by these names
    body: >-                           # the body text exactly as approved
      Status tiket {{1}} Anda telah diperbarui menjadi: {{2}}. ...
    buttons:                           # optional quick replies, in the approved order
      - text: Cek status                # the button's label as approved (25 characters)
        payload: /check_ticket_status   # what a tap sends back to the assistant
```

A message is matched to its template by its `message_template` value (set by whoever sends a
message that is not a domain response, e.g. the ticket status notification), else by its
Rasa response name (`utter_action`) in a template's `replaces`. The variables' values are the
message's values of the same names (the values the response was filled with).

Meta's rules are checked when the file is read (`TemplateError`, naming the file and the
template): unique names, a known language, placeholders `{{1}}`..`{{n}}` for exactly the `n`
variables, none at the start or end of the body or next to another, a body of at most 1024
characters, at most 10 quick replies of 25 characters. Values are checked when a template is
filled (`ParameterError`): no newlines or tabs, no more than four spaces in a row, at most
`PARAMETER_LIMIT` characters, not empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

#: The registry file format version.
VERSION = 1
#: The message key naming a template explicitly (a value beats the response name).
TEMPLATE_KEY = "message_template"
#: The message key holding the Rasa response name (set by Rasa for domain responses).
RESPONSE_KEY = "utter_action"
#: The categories the helpdesk uses (authentication templates carry one-time passwords).
CATEGORIES = ("UTILITY", "MARKETING")
#: Language codes of the approved translations this deployment may name (Meta's codes).
LANGUAGES = frozenset(
    {
        "id",
        "ms",
        "jv",
        "en",
        "en_US",
        "en_GB",
        "ar",
        "zh_CN",
        "nl",
        "ja",
        "ko",
        "th",
        "vi",
        "fil",
    }
)
#: Meta's limits (characters).
NAME_LIMIT = 512
BODY_LIMIT = 1024
BUTTON_TEXT_LIMIT = 25
MAX_BUTTONS = 10
#: A quick reply's payload (Meta documents none; the reply ids of interactive messages).
PAYLOAD_LIMIT = 256
#: One body variable's value. Meta counts the filled body against its 1024 characters, so
#: a value is kept well under it; `MessageTemplate.parameters` checks the filled body too.
PARAMETER_LIMIT = 512
#: Meta refuses parameters with newlines, tabs or more than four consecutive spaces (132018).
_BAD_SPACING = re.compile(r"[\n\r\t]| {5,}")
_NAME = re.compile(r"^[a-z0-9_]+$")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


class TemplateError(ValueError):
    """The registry file breaks the format or Meta's rules (the message names where)."""


class ParameterError(ValueError):
    """A value cannot fill a template variable (the message names the variable, never the
    value: it may be a citizen's data)."""


@dataclass(frozen=True)
class TemplateButton:
    """A quick reply of a template: its approved label and the payload a tap sends back."""

    text: str
    payload: str


@dataclass(frozen=True)
class MessageTemplate:
    """One approved template.

    Attributes:
        name: The template's name in WhatsApp Manager.
        language: The approved translation's language code ("id").
        category: "UTILITY" or "MARKETING".
        body: The body text as approved, with `{{1}}`.. placeholders.
        variables: The message values that fill `{{1}}`, `{{2}}`, ... in order.
        buttons: Its quick replies, in the approved order.
        replaces: The Rasa responses it stands for outside the window.
    """

    name: str
    language: str
    category: str
    body: str
    variables: tuple[str, ...] = ()
    buttons: tuple[TemplateButton, ...] = ()
    replaces: tuple[str, ...] = ()

    def parameters(self, values: Mapping[str, Any]) -> list[str]:
        """The body parameters, in order, from `values` (a message's values by name).

        Raises:
            ParameterError: For a missing or empty value, one with a newline, a tab or more
                than four spaces in a row, one longer than `PARAMETER_LIMIT`, or a filled
                body longer than Meta's 1024 characters.
        """
        parameters = []
        for variable in self.variables:
            value = values.get(variable)
            text = "" if value is None else str(value).strip()
            if not text:
                raise ParameterError(f"template {self.name}: no value for {variable!r}")
            if _BAD_SPACING.search(text):
                raise ParameterError(
                    f"template {self.name}: the value of {variable!r} holds a newline, a tab"
                    " or more than four spaces in a row"
                )
            if len(text) > PARAMETER_LIMIT:
                raise ParameterError(
                    f"template {self.name}: the value of {variable!r} is longer than"
                    f" {PARAMETER_LIMIT} characters"
                )
            parameters.append(text)
        if len(fill(self.body, parameters)) > BODY_LIMIT:
            raise ParameterError(
                f"template {self.name}: the filled body is longer than {BODY_LIMIT} characters"
            )
        return parameters

    def preview(self, values: Mapping[str, Any]) -> str:
        """The text the citizen reads: the body with the values filled in (checked as in
        `parameters`)."""
        return fill(self.body, self.parameters(values))


def fill(body: str, parameters: list[str]) -> str:
    """`body` with `{{1}}`.. replaced by `parameters[0]`.. ."""
    return _PLACEHOLDER.sub(lambda match: parameters[int(match.group(1)) - 1], body)


def template_message(
    recipient_id: str,
    template: MessageTemplate,
    values: Mapping[str, Any],
    *,
    callback_data: str | None = None,
) -> dict[str, Any]:
    """The WhatsApp Cloud API message body sending the approved `template` to
    `recipient_id`, its variables filled from `values` (a message's values by name) and its
    quick replies given their payloads. `callback_data` comes back in the message's status
    callbacks (`biz_opaque_callback_data`).

    Raises:
        ParameterError: When a value cannot fill its variable (see
            `MessageTemplate.parameters`).
    """
    components: list[dict[str, Any]] = []
    parameters = template.parameters(values)
    if parameters:
        components.append(
            {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
        )
    for index, button in enumerate(template.buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": button.payload}],
            }
        )
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": recipient_id,
        "type": "template",
        "template": {"name": template.name, "language": {"code": template.language}},
    }
    if components:
        body["template"]["components"] = components
    if callback_data:
        body["biz_opaque_callback_data"] = callback_data
    return body


@dataclass(frozen=True)
class TemplateRegistry:
    """The approved templates of a deployment (possibly none)."""

    templates: tuple[MessageTemplate, ...] = ()

    def get(self, name: str) -> MessageTemplate | None:
        """The template called `name`, or None."""
        return next((t for t in self.templates if t.name == name), None)

    def for_message(self, message: Mapping[str, Any]) -> MessageTemplate | None:
        """The template that stands for `message` (a Rasa message dict), or None.

        Its `message_template` value names it; without one its response name
        (`utter_action`) is looked up in the templates' `replaces`.
        """
        named = message.get(TEMPLATE_KEY)
        if isinstance(named, str) and named:
            return self.get(named)
        response = message.get(RESPONSE_KEY)
        if isinstance(response, str) and response:
            return next((t for t in self.templates if response in t.replaces), None)
        return None


#: A deployment without templates: outside the window nothing is sent.
NO_TEMPLATES = TemplateRegistry()


def _check_body(body: str, count: int, where: str) -> None:
    if len(body) > BODY_LIMIT:
        raise TemplateError(f"{where}: 'body' is longer than {BODY_LIMIT} characters")
    found = _PLACEHOLDER.findall(body)
    if any(not number.isdigit() for number in found):
        raise TemplateError(f"{where}: placeholders must be numbered, {{{{1}}}}, {{{{2}}}}, ...")
    numbers = [int(number) for number in found]
    if len(numbers) != len(set(numbers)) or sorted(numbers) != list(range(1, count + 1)):
        raise TemplateError(
            f"{where}: 'body' must hold {{{{1}}}} to {{{{{count}}}}} once each, one per"
            f" variable ({count} listed); it holds {sorted(numbers) or 'none'}"
        )
    if numbers != sorted(numbers):
        raise TemplateError(f"{where}: placeholders must appear in order, {{{{1}}}} first")
    if numbers and (body.startswith("{{") or body.endswith("}}")):
        raise TemplateError(f"{where}: 'body' may not start or end with a placeholder")
    if re.search(r"\}\}\s*\{\{", body):
        raise TemplateError(f"{where}: placeholders may not stand next to each other")


def _texts(raw: Any, key: str, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise TemplateError(f"{where}: '{key}' must be a list of names")
    values = tuple(v.strip() for v in raw)
    if len(set(values)) != len(values):
        raise TemplateError(f"{where}: '{key}' names one twice")
    return values


def _buttons(raw: Any, where: str) -> tuple[TemplateButton, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_BUTTONS:
        raise TemplateError(f"{where}: 'buttons' must be a list of at most {MAX_BUTTONS}")
    buttons = []
    for index, item in enumerate(raw, start=1):
        at = f"{where}: button {index}"
        if not isinstance(item, dict) or set(item) != {"text", "payload"}:
            raise TemplateError(f"{at}: give exactly 'text' and 'payload'")
        text, payload = item["text"], item["payload"]
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > BUTTON_TEXT_LIMIT:
            raise TemplateError(f"{at}: 'text' must be 1 to {BUTTON_TEXT_LIMIT} characters")
        if not isinstance(payload, str) or not payload.strip() or len(payload) > PAYLOAD_LIMIT:
            raise TemplateError(f"{at}: 'payload' must be 1 to {PAYLOAD_LIMIT} characters")
        buttons.append(TemplateButton(text.strip(), payload.strip()))
    if len({b.text for b in buttons}) != len(buttons):
        raise TemplateError(f"{where}: two buttons have the same text")
    return tuple(buttons)


def _template(raw: Any, where: str) -> MessageTemplate:
    if not isinstance(raw, dict):
        raise TemplateError(f"{where}: a template must be a mapping")
    allowed = {"name", "language", "category", "body", "variables", "buttons", "replaces"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise TemplateError(f"{where}: unknown key(s) {', '.join(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > NAME_LIMIT:
        raise TemplateError(
            f"{where}: 'name' must be lower-case letters, digits and '_' (at most {NAME_LIMIT})"
        )
    where = f"{where} ({name})"
    language = raw.get("language")
    if language not in LANGUAGES:
        raise TemplateError(
            f"{where}: 'language' must be one of {', '.join(sorted(LANGUAGES))}; got {language!r}"
        )
    category = raw.get("category")
    if category not in CATEGORIES:
        raise TemplateError(f"{where}: 'category' must be one of {', '.join(CATEGORIES)}")
    body = raw.get("body")
    if not isinstance(body, str) or not body.strip():
        raise TemplateError(f"{where}: 'body' must be a non-empty text")
    body = body.strip()
    variables = _texts(raw.get("variables"), "variables", where)
    _check_body(body, len(variables), where)
    return MessageTemplate(
        name=name,
        language=str(language),
        category=str(category),
        body=body,
        variables=variables,
        buttons=_buttons(raw.get("buttons"), where),
        replaces=_texts(raw.get("replaces"), "replaces", where),
    )


def parse_registry(raw: Any, where: str) -> TemplateRegistry:
    """The registry in `raw` (the YAML file's contents); `where` names it in errors.

    Raises:
        TemplateError: For anything against the format or Meta's rules.
    """
    if not isinstance(raw, dict) or raw.get("version") != VERSION:
        raise TemplateError(f"{where}: must be a mapping with 'version: {VERSION}'")
    items = raw.get("templates")
    if not isinstance(items, list):
        raise TemplateError(f"{where}: 'templates' must be a list")
    templates = tuple(
        _template(item, f"{where}: template {index}") for index, item in enumerate(items, 1)
    )
    names = [t.name for t in templates]
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        raise TemplateError(f"{where}: template name(s) listed twice: {', '.join(doubled)}")
    responses = [r for t in templates for r in t.replaces]
    doubled = sorted({r for r in responses if responses.count(r) > 1})
    if doubled:
        raise TemplateError(f"{where}: response(s) replaced by two templates: {', '.join(doubled)}")
    return TemplateRegistry(templates)


@lru_cache(maxsize=8)
def _cached(path: str, stamp: float) -> TemplateRegistry:
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"{file}: cannot be read ({exc})") from exc
    return parse_registry(raw, str(file))


def load_registry(path: Path | None) -> TemplateRegistry:
    """The registry in the YAML file `path` (None: no templates), read again when it changed.

    Raises:
        TemplateError: For a missing or unreadable file, or one against the rules.
    """
    if path is None:
        return NO_TEMPLATES
    stamp = path.stat().st_mtime if path.is_file() else 0.0
    return _cached(str(path), stamp)
