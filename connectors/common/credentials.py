"""Channel credentials from credentials.yml and the environment, and their errors."""

from __future__ import annotations

from typing import (
    Any,
    Iterable,
    Mapping,
)


def clean_credential(value: Any) -> str:
    """A credential value as a stripped string; "" for None and for an unexpanded `${VAR}`."""
    if value is None:
        return ""
    text = str(value).strip()
    if text.startswith("${") and text.endswith("}"):
        return ""
    return text


def missing_credentials(values: Mapping[str, Any], env_names: Mapping[str, str]) -> list[str]:
    """The required credentials that are missing or empty, as "key (ENV_NAME)".

    Args:
        values: The credential values by key.
        env_names: The required keys (in the order to name them) and their environment
            variables.
    """
    return [
        f"{key} ({env_name})"
        for key, env_name in env_names.items()
        if not clean_credential(values.get(key))
    ]


def read_credentials(
    credentials: Mapping[str, Any] | None,
    required: Mapping[str, str],
    optional: Mapping[str, str],
    *,
    env_name_keys: bool,
) -> tuple[dict[str, str], list[str]]:
    """A channel's credentials.yml block, cleaned, and what it lacks.

    Args:
        credentials: The block (None when empty).
        required: The required keys and the environment variables that fill them.
        optional: The optional keys and their environment variables.
        env_name_keys: Accept the environment variable's name as a key too
            (`WHATSAPP_ACCESS_TOKEN: ...` for `access_token`); the lower-case key wins.

    Returns:
        Every key of `required` and `optional` with its cleaned value ("" when not given), and
        the missing required ones as "key (ENV_NAME)".
    """
    block = credentials or {}
    values = {
        key: clean_credential(block.get(key))
        or (clean_credential(block.get(env_name)) if env_name_keys else "")
        for key, env_name in {**required, **optional}.items()
    }
    return values, missing_credentials(values, required)


def missing_message(
    channel: str, module_path: str, missing: Iterable[str], *, what: str = "credentials"
) -> str:
    """The error that stops a channel for lack of credentials.

    Args:
        channel: The channel's name for people ("WhatsApp").
        module_path: The file whose docstring shows the credentials.yml block.
        missing: What is missing, in order.
        what: What they are ("credentials", "environment variables").
    """
    return (
        f"The {channel} channel cannot start: {what} missing or empty: {', '.join(missing)}. "
        f"Set them in the environment (credentials.yml block: see {module_path})."
    )


def base_url(value: Any, default: str) -> str:
    """An API base URL from a credential: `default` when it is empty, no trailing "/"."""
    return (clean_credential(value) or default).rstrip("/")


def check_retry_settings(timeout: float, attempts: int, backoff: float) -> None:
    """Refuse a non-positive timeout or number of attempts, or a negative backoff.

    Raises:
        ValueError: For such a setting.
    """
    if timeout <= 0 or attempts < 1 or backoff < 0:
        raise ValueError("timeout and attempts must be > 0, backoff >= 0")
