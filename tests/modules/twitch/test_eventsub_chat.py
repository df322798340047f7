"""EventSub chat wire shapes: a channel.chat.message as the ChatMessage the commands read, the
chat events described for storage, and the Send Chat Message body and answer."""

from __future__ import annotations

import json

import pytest

from modules.twitch.commands import Permission, parse_command, permission_of
from modules.twitch.eventsub_chat import (
    SendResult,
    chat_message_from_event,
    describe_chat_event,
    parse_send_result,
    send_chat_message_body,
)


def event(**changes) -> dict:
    base = {"broadcaster_user_id": "1337", "broadcaster_user_login": "Streamer", "broadcaster_user_name": "Streamer",
            "chatter_user_id": "42", "chatter_user_login": "viewer", "chatter_user_name": "Viewer",
            "message_id": "m-1", "message": {"text": "!reco hi", "fragments": []}, "badges": [], "reply": None}
    return {**base, **changes}


@pytest.mark.parametrize(("badges", "permission"), [
    ([], Permission.EVERYONE),
    ([{"set_id": "subscriber", "id": "12", "info": "14"}], Permission.SUBSCRIBER),
    ([{"set_id": "vip", "id": "1", "info": ""}], Permission.VIP),
    ([{"set_id": "moderator", "id": "1", "info": ""}], Permission.MODERATOR),
    ([{"set_id": "broadcaster", "id": "1", "info": ""}], Permission.BROADCASTER),
])
def test_badges_give_the_same_permissions_as_irc(badges, permission):
    assert permission_of(chat_message_from_event(event(badges=badges))) == permission


def test_a_chat_message_event_reads_like_an_irc_message():
    message = chat_message_from_event(event())
    assert (message.id, message.channel, message.login, message.display_name, message.user_id, message.room_id,
            message.text) == ("m-1", "streamer", "viewer", "Viewer", "42", "1337", "!reco hi")
    assert parse_command(message).comment == "hi"


def test_a_reply_skips_the_parent_mention_as_on_irc():
    reply = {"parent_message_id": "p-1", "parent_user_id": "7", "parent_user_login": "bob",
             "parent_user_name": "Bob", "parent_message_body": "hey", "thread_message_id": "p-1"}
    message = chat_message_from_event(event(message={"text": "@bob !reco song"}, reply=reply))
    assert message.reply_parent.msg_id == "p-1"
    assert parse_command(message).name == "reco"


def test_an_event_without_its_ids_is_refused():
    with pytest.raises(ValueError, match="chatter_user_id"):
        chat_message_from_event(event(chatter_user_id=None))
    with pytest.raises(ValueError, match="message.text"):
        chat_message_from_event(event(message=None))


def test_sub_gift_notification_is_an_activity_and_an_announcement_is_not():
    gift = describe_chat_event("channel.chat.notification", event(
        notice_type="sub_gift", sub_gift={"sub_tier": "1000", "duration_months": 1, "recipient_user_id": "5",
                                          "recipient_user_login": "lucky"}))
    assert (gift.activity_type, gift.user_id, gift.details["recipient_user_login"]) == ("sub_gift", "42", "lucky")
    announcement = describe_chat_event("channel.chat.notification", event(notice_type="announcement"))
    assert announcement.activity_type is None
    cleared = describe_chat_event("channel.chat.clear_user_messages", {
        "broadcaster_user_id": "1337", "target_user_id": "9", "target_user_login": "spammer"})
    assert (cleared.user_id, cleared.user_login, cleared.activity_type) == ("9", "spammer", None)


def test_send_body_threads_replies_and_stays_within_500_characters():
    body = json.loads(send_chat_message_body("1337", "999", "hi\nthere " + "x" * 600, "m-1"))
    assert (body["broadcaster_id"], body["sender_id"], body["reply_parent_message_id"]) == ("1337", "999", "m-1")
    assert body["message"].startswith("hi there") and len(body["message"]) == 500
    assert "reply_parent_message_id" not in json.loads(send_chat_message_body("1", "2", "plain"))
    with pytest.raises(ValueError):
        send_chat_message_body("1", "2", " \n ")


def test_send_answer_with_a_drop_reason():
    dropped = b'{"data": [{"message_id": "", "is_sent": false, "drop_reason": {"code": "msg_rejected", ' \
              b'"message": "Your message is being checked by mods"}}]}'
    assert parse_send_result(dropped) == SendResult("", False, "msg_rejected", "Your message is being checked by mods")
    assert parse_send_result(b'{"data": [{"message_id": "abc", "is_sent": true, "drop_reason": null}]}') == \
        SendResult("abc", True)
    with pytest.raises(ValueError):
        parse_send_result(b'{"data": []}')
