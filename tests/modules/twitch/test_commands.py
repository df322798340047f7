import pytest

from modules.twitch.commands import CommandRegistry, FakeChatBackend, Permission, Sent, parse_command, permission_of
from modules.twitch.irc import ChatMessage, parse
from tests.waiting import Clock


def chat(text: str, login: str = "viewer", user_id: str = "2", badges: str = "", msg_id: str = "m-1",
         extra: str = "") -> ChatMessage:
    line = (f"@badges={badges};id={msg_id};room-id=1;user-id={user_id};display-name={login.title()}{extra} "
            f":{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #streamer :{text}")
    return ChatMessage.from_irc(parse(line))


@pytest.fixture
def clock():
    return Clock(1000.0)


@pytest.fixture
def registry(clock):
    return CommandRegistry(clock=clock)


def test_a_declared_command_replies_to_the_message(registry):
    @registry.command("hello", aliases=("hi",))
    def hello(command):
        return f"hello {command.display_name}, you said {command.comment!r}"

    backend = FakeChatBackend()
    assert registry.dispatch(chat("!hello  there  friend"), backend)
    assert registry.dispatch(chat("!HI", msg_id="m-2"), backend)
    assert backend.sent == [Sent("streamer", "hello Viewer, you said 'there  friend'", "m-1"),
                            Sent("streamer", "hello Viewer, you said ''", "m-2")]


def test_lines_that_are_not_known_commands_are_ignored(registry):
    registry.command("hello")(lambda command: "hi")
    backend = FakeChatBackend()
    for text in ("hello", "! hello", "!", "!unknown", "say !hello"):
        assert not registry.dispatch(chat(text), backend)
    assert backend.sent == []


def test_a_handler_returning_nothing_sends_nothing(registry):
    seen = []
    registry.command("quiet")(lambda command: seen.append(command.user))
    backend = FakeChatBackend()
    assert registry.dispatch(chat("!quiet"), backend)
    assert seen == ["viewer"] and backend.sent == []


def test_declaring_a_name_twice_or_a_bad_name_fails(registry):
    registry.command("hello", aliases=("hi",))(lambda command: None)
    with pytest.raises(ValueError, match="already declared"):
        registry.command("hi")(lambda command: None)
    with pytest.raises(ValueError, match="lower-case"):
        registry.command("Bad Name")(lambda command: None)
    assert [command.name for command in registry.commands] == ["hello"]
    assert registry.get("HI").name == "hello"


def test_the_user_cooldown_applies_per_viewer_and_to_aliases(registry, clock):
    registry.command("dice", aliases=("roll",), user_cooldown=10)(lambda command: "4")
    backend = FakeChatBackend()
    assert registry.dispatch(chat("!dice"), backend)
    assert not registry.dispatch(chat("!roll"), backend)
    assert registry.dispatch(chat("!dice", login="other", user_id="3"), backend)
    clock.now += 10
    assert registry.dispatch(chat("!roll"), backend)
    assert len(backend.sent) == 3


def test_the_channel_cooldown_applies_to_everyone(registry, clock):
    registry.command("so", channel_cooldown=30)(lambda command: "go follow")
    backend = FakeChatBackend()
    assert registry.dispatch(chat("!so"), backend)
    assert not registry.dispatch(chat("!so", login="other", user_id="3"), backend)
    clock.now += 29.9
    assert not registry.dispatch(chat("!so", login="other", user_id="3"), backend)
    clock.now += 0.1
    assert registry.dispatch(chat("!so", login="other", user_id="3"), backend)


def test_a_refused_viewer_does_not_start_the_cooldown(registry, clock):
    registry.command("ban", permission=Permission.MODERATOR, channel_cooldown=60)(lambda command: "done")
    backend = FakeChatBackend()
    assert not registry.dispatch(chat("!ban"), backend)
    assert registry.dispatch(chat("!ban", login="mod", user_id="5", badges="moderator/1"), backend)
    assert backend.sent == [Sent("streamer", "done", "m-1")]


@pytest.mark.parametrize(("badges", "extra", "level"), [
    ("", "", Permission.EVERYONE),
    ("subscriber/3", "", Permission.SUBSCRIBER),
    ("vip/1", "", Permission.VIP),
    ("moderator/1", "", Permission.MODERATOR),
    ("", ";mod=1", Permission.MODERATOR),
    ("broadcaster/1", "", Permission.BROADCASTER),
])
def test_permission_levels(badges, extra, level):
    assert permission_of(chat("!x", badges=badges, extra=extra)) == level


def test_permission_is_checked_before_running(registry):
    registry.command("title", permission=Permission.BROADCASTER)(lambda command: "changed")
    backend = FakeChatBackend()
    assert not registry.dispatch(chat("!title", badges="moderator/1"), backend)
    assert registry.dispatch(chat("!title", badges="broadcaster/1"), backend)
    assert [sent.text for sent in backend.sent] == ["changed"]


def test_a_failing_command_is_logged_and_the_next_one_still_runs(registry, caplog):
    registry.command("boom")(lambda command: 1 / 0)
    registry.command("ok")(lambda command: "fine")
    backend = FakeChatBackend()
    assert registry.dispatch(chat("!boom"), backend)
    assert "command !boom failed" in caplog.text
    assert registry.dispatch(chat("!ok"), backend)
    assert [sent.text for sent in backend.sent] == ["fine"]


def test_a_reply_thread_mention_before_the_command_is_skipped():
    message = chat("@Other !reco   great song ", extra=";reply-parent-msg-id=p-1;reply-parent-user-login=other")
    command = parse_command(message)
    assert (command.name, command.comment, command.user, command.channel) == ("reco", "great song", "viewer",
                                                                              "streamer")
    assert parse_command(chat("@other !reco")) is None  # a mention without a reply is text


def test_the_prefix_is_configurable(clock):
    registry = CommandRegistry(prefix="?", clock=clock)
    registry.command("help")(lambda command: "ask away")
    backend = FakeChatBackend()
    assert not registry.dispatch(chat("!help"), backend)
    assert registry.dispatch(chat("?help"), backend)
