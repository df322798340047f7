"""!reco through the command registry, with the fake chat backend."""

import datetime
import re

import pytest

from apps.twitch_chat import reco
from apps.twitch_chat.commands import registry
from modules.twitch.commands import FakeChatBackend
from modules.twitch.irc import ChatMessage, parse
from shared.crypto import digest
from shared.db import transaction, utcnow

LINK = re.compile(r"http://127\.0\.0\.1:8000/twitch_chat/submit/([A-Za-z0-9_-]+)$")


def chat(text: str, user: str = "viewer", user_id: str = "42", channel: str = "streamer", room_id: str = "1337",
         msg_id: str = "msg-1") -> ChatMessage:
    line = (f"@badges=;display-name={user.title()};id={msg_id};room-id={room_id};user-id={user_id} "
            f":{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}")
    return ChatMessage.from_irc(parse(line))


@pytest.fixture
def backend():
    return FakeChatBackend()


@pytest.fixture(autouse=True)
def no_chat_cooldown(monkeypatch):
    """The registry's anti-spam cooldown (3 s) is tested in tests/modules; here the clock stands still."""
    monkeypatch.setattr(registry, "_used", {})
    ticks = iter(range(0, 10_000, 10))
    monkeypatch.setattr(registry, "clock", lambda: next(ticks))


def token_of(sent) -> str:
    match = LINK.search(sent.text)
    assert match, sent.text
    return match.group(1)


def test_reco_answers_with_a_submission_link(db, backend):
    assert registry.dispatch(chat("!reco something chill please"), backend)
    [sent] = backend.sent
    assert (sent.channel, sent.reply_to) == ("streamer", "msg-1")
    assert sent.text.startswith("@Viewer send your YouTube or Spotify link within 5 min: ")
    token = token_of(sent)
    assert len(token) >= 22  # at least 128 bits, URL-safe
    ticket = db(db.reco_ticket).select().first()
    assert ticket.token_hash == digest(token) and token not in (ticket.token_encrypted, ticket.open_key)
    assert (ticket.user_id, ticket.user_login, ticket.user_name, ticket.channel_id, ticket.comment) == (
        "42", "viewer", "Viewer", "1337", "something chill please")
    assert ticket.expires_at - ticket.created_at == datetime.timedelta(minutes=5)


def test_the_ttl_is_configurable(db, backend, configure):
    configure(RECO_TICKET_TTL_MINUTES="15", PUBLIC_URL="https://bot.example")
    registry.dispatch(chat("!reco"), backend)
    assert "within 15 min: https://bot.example/twitch_chat/submit/" in backend.sent[0].text


def test_a_second_reco_returns_the_open_ticket(db, backend):
    registry.dispatch(chat("!reco first"), backend)
    registry.dispatch(chat("!recommend second", msg_id="msg-2"), backend)
    first, second = backend.sent
    assert token_of(first) == token_of(second)
    assert "still open (5 min left)" in second.text and second.reply_to == "msg-2"
    assert db(db.reco_ticket).count() == 1 and db(db.reco_ticket).select().first().comment == "first"


def test_tickets_are_per_viewer_and_channel(db, backend):
    registry.dispatch(chat("!reco"), backend)
    registry.dispatch(chat("!reco", user="other", user_id="43"), backend)
    registry.dispatch(chat("!reco", channel="another", room_id="999"), backend)
    assert len({token_of(sent) for sent in backend.sent}) == 3


@pytest.fixture
def frozen_now(monkeypatch):
    """The tickets' clock, standing still at one instant: a slow machine changes no answer."""
    now = utcnow().replace(microsecond=0)
    monkeypatch.setattr(reco, "utcnow", lambda: now)
    return now


def test_after_the_ticket_is_used_the_cooldown_applies(db, backend, configure, frozen_now):
    configure(RECO_COOLDOWN_SECONDS="60")
    registry.dispatch(chat("!reco"), backend)
    with transaction(db):
        db(db.reco_ticket).update(used_at=frozen_now, open_key=None,
                                  created_at=frozen_now - datetime.timedelta(seconds=15))
    registry.dispatch(chat("!reco"), backend)
    assert backend.sent[-1].text == "@Viewer you can ask for another recommendation link in 45 s."
    with transaction(db):
        db(db.reco_ticket).update(created_at=frozen_now - datetime.timedelta(seconds=59))
    registry.dispatch(chat("!reco"), backend)
    assert backend.sent[-1].text == "@Viewer you can ask for another recommendation link in 1 s."
    with transaction(db):
        db(db.reco_ticket).update(created_at=frozen_now - datetime.timedelta(seconds=60))
    registry.dispatch(chat("!reco"), backend)
    assert "send your YouTube or Spotify link" in backend.sent[-1].text
    assert db(db.reco_ticket).count() == 2


def test_an_expired_ticket_is_replaced(db, backend, configure):
    configure(RECO_COOLDOWN_SECONDS="0")
    registry.dispatch(chat("!reco"), backend)
    with transaction(db):
        db(db.reco_ticket).update(expires_at=utcnow() - datetime.timedelta(seconds=1))
    registry.dispatch(chat("!reco"), backend)
    first, second = backend.sent
    assert token_of(first) != token_of(second)
    assert [row.open_key for row in db(db.reco_ticket).select(orderby=db.reco_ticket.id)] == [None, "1337:42"]


def test_a_message_without_twitch_tags_gets_no_ticket(db, backend):
    message = ChatMessage.from_irc(parse(":viewer!viewer@viewer.tmi.twitch.tv PRIVMSG #streamer :!reco"))
    assert registry.dispatch(message, backend)
    assert backend.sent == [] and db(db.reco_ticket).count() == 0
