"""What the chat listeners share whatever the transport: a command runs once per Twitch message id
(IRC's `id` tag and EventSub's `message_id` are the same id), and the chat events EventSub
brings (notifications, deletions, clears) are stored once, as activities where they are ones."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping

from apps.twitch_chat.commands import registry
from modules.twitch.commands import ChatBackend, parse_command
from modules.twitch.eventsub_chat import describe_chat_event
from modules.twitch.irc import ChatMessage
from shared.db import get_db, insert_rows, transaction, utcnow
from shared.outbox import record_activities

log = logging.getLogger(__name__)
SEEN_KEPT = datetime.timedelta(days=2)  # longer than any transport would deliver a message again
ACTIVITY_SOURCE = "twitch_chat"
#: points of the chat notifications that are activities (the EventSub webhook types' defaults)
NOTICE_POINTS = {"subscription": 50, "resubscription": 50, "sub_gift": 60, "community_sub_gift": 60, "raid": 30}


def claim_message(db, message_id: str, transport: str) -> bool:
    """True the first time a message id is claimed (in the caller's transaction), else False."""
    inserted = insert_rows(db, "chat_command_seen", [{"message_id": message_id, "transport": transport,
                                                      "created_at": utcnow()}],
                           key="message_id", skip_existing="message_id")
    return bool(inserted)


def run_command(message: ChatMessage, backend: ChatBackend, transport: str) -> bool:
    """Dispatch a chat message to the command registry unless its id already ran a command; True
    when a command ran. Only messages naming a known command touch the database."""
    invocation = parse_command(message, registry.prefix)
    if invocation is None or registry.get(invocation.name) is None:
        return False
    if message.id:
        with transaction(get_db()) as db:
            if not claim_message(db, message.id, transport):
                log.debug("chat message %s already ran its command; ignored on %s", message.id, transport)
                return False
    return registry.dispatch(message, backend)


def prune_seen(db) -> None:
    db(db.chat_command_seen.created_at < utcnow() - SEEN_KEPT).delete()


def store_chat_event(db, *, eventsub_message_id: str, event_type: str, event: Mapping) -> bool:
    """Store one chat event (in the caller's transaction); False when this EventSub message was
    stored before. A sub, resub, gift or raid notification is also an activity."""
    about = describe_chat_event(event_type, event)
    row = {"eventsub_message_id": eventsub_message_id, "event_type": event_type, "channel_id": about.channel_id,
           "user_id": about.user_id, "chat_message_id": about.message_id,
           "notice_type": (about.details or {}).get("notice_type") or event.get("notice_type"), "event": dict(event),
           "received_at": utcnow()}
    inserted = insert_rows(db, "chat_event", [row], key="eventsub_message_id", skip_existing="eventsub_message_id")
    if not inserted:
        return False
    if about.activity_type is not None:
        [activity_id] = record_activities(db, [{
            "activity_type": about.activity_type, "channel_id": about.channel_id,
            "channel_login": about.channel_login, "user_id": about.user_id, "user_login": about.user_login,
            "user_name": about.user_name, "points": NOTICE_POINTS[about.activity_type], "source": ACTIVITY_SOURCE,
            "source_id": f"chat:{eventsub_message_id}", "details": about.details}])
        db(db.chat_event.id == inserted[eventsub_message_id]).update(activity_id=activity_id)
    return True
