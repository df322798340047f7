"""Twitch chat over EventSub and the Send Chat Message API: wire shapes, framework-free.

Reading: `channel.chat.message` events become the same `ChatMessage` the IRC path gives (tags
rebuilt from the event: id, badges, user and room ids, reply parent), so the command registry and
its permissions work unchanged. The sibling types (`channel.chat.notification`, `message_delete`,
`clear`, `clear_user_messages`) are described by `describe_chat_event`.

Sending: `send_chat_message_body` builds POST /helix/chat/messages and `parse_send_result` reads
its answer: Twitch answers 200 with `is_sent: false` and a `drop_reason` when it dropped the
message (AutoMod, duplicate, slow mode…); that is not an error to retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from modules.twitch.irc import ChatMessage

CHAT_MESSAGE = "channel.chat.message"
CHAT_NOTIFICATION = "channel.chat.notification"
CHAT_MESSAGE_DELETE = "channel.chat.message_delete"
CHAT_CLEAR = "channel.chat.clear"
CHAT_CLEAR_USER_MESSAGES = "channel.chat.clear_user_messages"
#: every chat type we subscribe to for a channel (all version 1, condition broadcaster + user)
CHAT_TYPES = (CHAT_MESSAGE, CHAT_NOTIFICATION, CHAT_MESSAGE_DELETE, CHAT_CLEAR, CHAT_CLEAR_USER_MESSAGES)
SEND_PATH = "chat/messages"
MAX_MESSAGE_LENGTH = 500
#: Twitch's notice types that are activities, as the activity type we report
NOTICE_ACTIVITIES = {"sub": "subscription", "resub": "resubscription", "sub_gift": "sub_gift",
                     "community_sub_gift": "community_sub_gift", "raid": "raid"}
#: the notice's own object fields copied into an activity's details
NOTICE_DETAILS = {"sub": ("sub_tier", "is_prime", "duration_months"),
                  "resub": ("cumulative_months", "streak_months", "sub_tier", "is_prime", "is_gift"),
                  "sub_gift": ("sub_tier", "duration_months", "recipient_user_id", "recipient_user_login"),
                  "community_sub_gift": ("total", "sub_tier", "cumulative_total"),
                  "raid": ("viewer_count",)}


def chat_condition(broadcaster_id: str, user_id: str) -> dict[str, str]:
    """The condition of every chat type: the channel and the user reading it (our bot)."""
    return {"broadcaster_user_id": broadcaster_id, "user_id": user_id}


def _badges_tag(badges: object) -> str:
    if not isinstance(badges, list):
        return ""
    return ",".join(f"{badge.get('set_id')}/{badge.get('id', '')}" for badge in badges
                    if isinstance(badge, Mapping) and badge.get("set_id"))


def chat_message_from_event(event: Mapping) -> ChatMessage:
    """A `channel.chat.message` event as a ChatMessage; ValueError when a field the commands need
    (message_id, broadcaster and chatter ids and logins, message.text) is missing."""
    message = event.get("message")
    text = message.get("text") if isinstance(message, Mapping) else None
    needed = ("message_id", "broadcaster_user_id", "broadcaster_user_login", "chatter_user_id",
              "chatter_user_login")
    missing = [name for name in needed if not isinstance(event.get(name), str) or not event.get(name)]
    if missing or not isinstance(text, str):
        raise ValueError(f"not a channel.chat.message event: missing {', '.join(missing) or 'message.text'}")
    login = str(event["chatter_user_login"]).lower()
    tags = {"id": event["message_id"], "user-id": event["chatter_user_id"], "room-id": event["broadcaster_user_id"],
            "display-name": str(event.get("chatter_user_name") or login), "badges": _badges_tag(event.get("badges")),
            "color": str(event.get("color") or "")}
    reply = event.get("reply")
    if isinstance(reply, Mapping) and reply.get("parent_message_id"):
        tags.update({"reply-parent-msg-id": str(reply["parent_message_id"]),
                     "reply-parent-user-id": str(reply.get("parent_user_id") or ""),
                     "reply-parent-user-login": str(reply.get("parent_user_login") or ""),
                     "reply-parent-display-name": str(reply.get("parent_user_name") or ""),
                     "reply-parent-msg-body": str(reply.get("parent_message_body") or "")})
    return ChatMessage(id=event["message_id"], channel=str(event["broadcaster_user_login"]).lower(), login=login,
                       display_name=tags["display-name"], user_id=event["chatter_user_id"],
                       room_id=event["broadcaster_user_id"], text=text, tags=tags)


@dataclass(frozen=True)
class ChatEvent:
    """What a chat event is about, for storage: the type, the channel, the viewer concerned (the
    chatter, or the target of a deletion), the message id when there is one, and, when the event
    is an activity, its activity type and details."""

    event_type: str
    channel_id: str
    channel_login: str
    user_id: str | None
    user_login: str | None
    user_name: str | None
    message_id: str | None
    activity_type: str | None = None
    details: dict | None = None


def describe_chat_event(event_type: str, event: Mapping) -> ChatEvent:
    """The ChatEvent of any chat type (ValueError without a broadcaster)."""
    channel_id, channel_login = event.get("broadcaster_user_id"), event.get("broadcaster_user_login")
    if not isinstance(channel_id, str) or not channel_id:
        raise ValueError(f"{event_type} event without broadcaster_user_id")
    prefix = "target_user_" if event_type in (CHAT_MESSAGE_DELETE, CHAT_CLEAR_USER_MESSAGES) else "chatter_user_"
    user_id, user_login, user_name = (event.get(f"{prefix}id"), event.get(f"{prefix}login"), event.get(f"{prefix}name"))
    activity_type, details = None, None
    if event_type == CHAT_NOTIFICATION:
        notice = str(event.get("notice_type") or "")
        activity_type = NOTICE_ACTIVITIES.get(notice)
        if activity_type is not None:
            fields = event.get(notice) if isinstance(event.get(notice), Mapping) else {}
            details = {"notice_type": notice, **{name: fields.get(name) for name in NOTICE_DETAILS[notice]}}
            if notice == "raid":  # the raider is the activity's viewer
                user_id, user_login, user_name = (fields.get(f"user_{name}") for name in ("id", "login", "name"))
    return ChatEvent(event_type, channel_id, str(channel_login or ""), user_id, user_login, user_name,
                     event.get("message_id"), activity_type, details)


# --- sending --------------------------------------------------------------------------------
def send_chat_message_body(broadcaster_id: str, sender_id: str, text: str,
                           reply_parent_message_id: str | None = None) -> bytes:
    """The JSON body of POST /helix/chat/messages; ValueError on an empty or over-long message."""
    text = " ".join(text.replace("\0", "").split())
    if not text:
        raise ValueError("a chat message needs text")
    if len(text) > MAX_MESSAGE_LENGTH:
        text = text[:MAX_MESSAGE_LENGTH]
    body = {"broadcaster_id": broadcaster_id, "sender_id": sender_id, "message": text}
    if reply_parent_message_id:
        body["reply_parent_message_id"] = reply_parent_message_id
    return json.dumps(body).encode()


@dataclass(frozen=True)
class SendResult:
    """Twitch's answer to one sent message: its id, and why it was dropped when `is_sent` is false."""

    message_id: str
    is_sent: bool
    drop_code: str | None = None
    drop_message: str | None = None


def parse_send_result(body: bytes) -> SendResult:
    """The `data[0]` of a 200 answer; ValueError when it is not Twitch's shape."""
    try:
        item = json.loads(body)["data"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ValueError("the Send Chat Message answer has no data[0]") from None
    if not isinstance(item, Mapping) or not isinstance(item.get("is_sent"), bool):
        raise ValueError("the Send Chat Message answer has no is_sent")
    drop = item.get("drop_reason") if isinstance(item.get("drop_reason"), Mapping) else {}
    return SendResult(str(item.get("message_id") or ""), item["is_sent"], drop.get("code"), drop.get("message"))
