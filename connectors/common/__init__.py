"""What the WhatsApp and Telegram channels share (and the health route of the web chat).

One version of each piece of logic the channels both need, parameterised where they really
differ:

* credentials: `clean_credential`, `read_credentials`, `missing_credentials`,
  `missing_message`, `base_url`, `check_retry_settings`;
* reading webhook JSON: `json_object` (depth-limited, strings cleaned), `as_dict`, `as_list`,
  `str_or_none`;
* untrusted input: `read_body` (a request body up to a limit, for streaming routes),
  `clean_text`, `cut_text`, `cap_text` (`MESSAGE_TEXT_LIMIT`), `cap_metadata`;
* logs: `mask_id` (only the last four characters of a sender id), `failure_trace` (an
  exception's type and frames, never its message);
* long button payloads: `ShortIds` (WhatsApp: reply ids of 256 characters, Telegram:
  `callback_data` of 64 UTF-8 bytes);
* texts: `split_text` (WhatsApp counts characters, Telegram UTF-16 code units), `one_line`,
  `head`, `shorten`, `choices`;
* the input channels: `OnNewMessage`, `add_health_route`, `recorded_by` (was a message saved
  in its conversation);
* conversations kept on one channel: `conversation_channel`, `ConversationGuard`.

Nothing here logs on its own: the channels log under their own logger names
(`connectors.whatsapp`, ...), passed in where a helper reports something.

The package: `credentials`, `payloads` (untrusted input), `text` (logs, chats, short ids),
`channels` (what input channels share); every name is re-exported here.
"""

from connectors.common.channels import (
    ConversationGuard,
    KeyedLocks,
    OnNewMessage,
    add_health_route,
    conversation_channel,
    recorded_by,
)
from connectors.common.credentials import (
    base_url,
    check_retry_settings,
    clean_credential,
    missing_credentials,
    missing_message,
    read_credentials,
)
from connectors.common.payloads import (
    JSON_MAX_DEPTH,
    MESSAGE_TEXT_LIMIT,
    METADATA_KEY_LIMITS,
    METADATA_TEXT_LIMIT,
    as_dict,
    as_list,
    cap_metadata,
    cap_text,
    clean_text,
    cut_text,
    json_object,
    read_body,
    str_or_none,
)
from connectors.common.stores import ServicesPayloadStore, inbound_repository
from connectors.common.text import (
    ELLIPSIS,
    SEPARATORS,
    PayloadStore,
    ShortIds,
    choices,
    failure_trace,
    head,
    mask_id,
    one_line,
    shorten,
    split_text,
)

__all__ = [
    "ServicesPayloadStore",
    "inbound_repository",
    "recorded_by",
    "PayloadStore",
    "KeyedLocks",
    "ConversationGuard",
    "ELLIPSIS",
    "JSON_MAX_DEPTH",
    "MESSAGE_TEXT_LIMIT",
    "METADATA_KEY_LIMITS",
    "METADATA_TEXT_LIMIT",
    "OnNewMessage",
    "SEPARATORS",
    "ShortIds",
    "add_health_route",
    "as_dict",
    "as_list",
    "base_url",
    "cap_metadata",
    "cap_text",
    "check_retry_settings",
    "choices",
    "clean_credential",
    "clean_text",
    "conversation_channel",
    "cut_text",
    "failure_trace",
    "head",
    "json_object",
    "mask_id",
    "missing_credentials",
    "missing_message",
    "one_line",
    "read_body",
    "read_credentials",
    "shorten",
    "split_text",
    "str_or_none",
]
