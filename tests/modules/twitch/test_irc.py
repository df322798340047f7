import pytest

from modules.twitch.irc import (
    ChatMessage,
    Emote,
    IrcMessage,
    ReplyParent,
    badges,
    emotes,
    escape_tag_value,
    parse,
    unescape_tag_value,
)

PRIVMSG = (
    "@badge-info=subscriber/12;badges=moderator/1,subscriber/12;color=#1E90FF;display-name=Some_Viewer;"
    "emotes=25:0-4,12-16/1902:6-10;first-msg=1;id=b34ccfc7-4977-403a-8a94-33c6bac34fb8;mod=1;room-id=1337;"
    "subscriber=1;tmi-sent-ts=1642696567751;user-id=42;user-type=mod "
    ":some_viewer!some_viewer@some_viewer.tmi.twitch.tv PRIVMSG #streamer :Kappa Keepo Kappa hello"
)


def test_parses_tags_source_command_and_params():
    message = parse(PRIVMSG + "\r\n")
    assert message.command == "PRIVMSG"
    assert message.source == "some_viewer!some_viewer@some_viewer.tmi.twitch.tv"
    assert message.nick == "some_viewer"
    assert message.params == ["#streamer", "Kappa Keepo Kappa hello"]
    assert message.channel == "streamer"
    assert message.tags["display-name"] == "Some_Viewer"
    assert message.tags["user-type"] == "mod"


def test_a_line_without_tags_or_source():
    message = parse("PING :tmi.twitch.tv")
    assert (message.command, message.params, message.source, message.tags) == ("PING", ["tmi.twitch.tv"], None, {})


def test_a_tag_without_a_value_is_an_empty_string():
    assert parse("@flag;empty=;set=1 CMD").tags == {"flag": "", "empty": "", "set": "1"}


def test_a_repeated_tag_keeps_the_last_value():
    assert parse("@a=1;b=2;a=3 CMD").tags == {"a": "3", "b": "2"}


def test_empty_tag_entries_are_ignored_and_values_may_contain_equals():
    assert parse("@a=1;;b=x=y CMD").tags == {"a": "1", "b": "x=y"}


@pytest.mark.parametrize(("raw", "value"), [
    (r"semi\:colon", "semi;colon"),
    (r"a\sspace", "a space"),
    (r"back\\slash", "back\\slash"),
    (r"cr\rlf\n", "cr\rlf\n"),
    ("trailing\\", "trailing"),
    (r"unknown\bescape", "unknownbescape"),
    (r"\\s", "\\s"),
    ("plain", "plain"),
])
def test_tag_values_are_unescaped(raw, value):
    assert unescape_tag_value(raw) == value
    assert parse(f"@k={raw} CMD").tags["k"] == value


def _unescape_char_by_char(value: str) -> str:
    """The IRCv3 rule read literally, left to right: the reference the fast unescaping must equal."""
    out, chars = [], iter(value)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        out.append({":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}.get(escaped, escaped))
    return "".join(out)


def test_unescaping_equals_the_left_to_right_rule_on_every_short_mix_of_escapes():
    import itertools

    alphabet = "\\s:rnx"
    for length in range(1, 7):
        for chars in itertools.product(alphabet, repeat=length):
            raw = "".join(chars)
            assert unescape_tag_value(raw) == _unescape_char_by_char(raw), raw
            assert parse(f"@a=1;k={raw};z=\\s CMD").tags == {
                "a": "1", "k": _unescape_char_by_char(raw), "z": " "}, raw


def test_several_spaces_between_parameters():
    message = parse("@a=1   :nick!u@h   PRIVMSG    #chan     :hello   world")
    assert message.source == "nick!u@h"
    assert message.params == ["#chan", "hello   world"]


def test_an_empty_trailing_parameter_is_kept():
    assert parse("PRIVMSG #chan :").params == ["#chan", ""]


def test_a_colon_inside_the_trailing_parameter_is_text():
    assert parse("PRIVMSG #chan :a :b: c").params == ["#chan", "a :b: c"]


def test_parameters_without_a_trailing_one():
    assert parse(":tmi.twitch.tv CAP * ACK").params == ["*", "ACK"]
    assert parse("JOIN #chan").params == ["#chan"]


@pytest.mark.parametrize("line", ["", "\r\n", "   ", "@a=1", "@a=1 ", ":source", ":source ", "@a=1 :source",
                                  ":source :only trailing", ":trailing"])
def test_a_line_without_a_command_is_a_clear_value_error(line):
    with pytest.raises(ValueError, match="IRC line"):
        parse(line)


@pytest.mark.parametrize("line", [
    PRIVMSG,
    "PING :tmi.twitch.tv",
    ":tmi.twitch.tv CAP * ACK :twitch.tv/tags twitch.tv/commands",
    "@ban-duration=600;room-id=1;target-user-id=2 :tmi.twitch.tv CLEARCHAT #chan :viewer",
    "@msg-id=resub;system-msg=viewer\\ssubscribed\\:\\sTier\\s1 :tmi.twitch.tv USERNOTICE #chan :great stream",
    "JOIN #chan",
    "PRIVMSG #chan :",
    "PRIVMSG #chan ::starts with a colon",
    "PRIVMSG #chan single",
])
def test_serialize_round_trips(line):
    message = parse(line)
    assert parse(message.serialize()) == message


def test_serialize_writes_the_trailing_colon_only_when_needed():
    assert parse(PRIVMSG).serialize() == PRIVMSG
    assert parse("PING :tmi.twitch.tv").serialize() == "PING tmi.twitch.tv"
    assert parse("PRIVMSG #chan ::x").serialize() == "PRIVMSG #chan ::x"
    assert parse("PRIVMSG #chan :").serialize() == "PRIVMSG #chan :"


def test_serialize_escapes_tag_values_and_marks_the_trailing_parameter():
    message = IrcMessage("PRIVMSG", ["#chan", "hello world"], {"reply-parent-msg-id": "a b;c\\d"}, "bot!bot@bot")
    line = message.serialize()
    assert line == r"@reply-parent-msg-id=a\sb\:c\\d :bot!bot@bot PRIVMSG #chan :hello world"
    assert parse(line) == message
    assert escape_tag_value("x\r\ny") == r"x\r\ny"


@pytest.mark.parametrize(("params", "problem"), [
    (["#chan", "line\r\nbreak"], "CR, LF or NUL"),
    (["two words", "text"], "only the last"),
    (["", "text"], "only the last"),
    ([":colon", "text"], "only the last"),
])
def test_serialize_refuses_what_cannot_be_sent(params, problem):
    with pytest.raises(ValueError, match=problem):
        IrcMessage("PRIVMSG", params).serialize()


def test_badges_and_badge_info():
    tags = parse(PRIVMSG).tags
    assert badges(tags) == {"moderator": "1", "subscriber": "12"}
    assert badges(tags, "badge-info") == {"subscriber": "12"}
    assert badges({}) == {}


def test_emotes_are_ordered_by_position_and_malformed_ranges_skipped():
    assert emotes(parse(PRIVMSG).tags) == [Emote("25", 0, 4), Emote("1902", 6, 10), Emote("25", 12, 16)]
    assert emotes({"emotes": "25:x-4,1-2/:3-4"}) == [Emote("25", 1, 2)]
    assert emotes({"emotes": ""}) == []


def test_chat_message_reads_the_twitch_tags():
    message = ChatMessage.from_irc(parse(PRIVMSG))
    assert (message.id, message.channel, message.login, message.display_name) == (
        "b34ccfc7-4977-403a-8a94-33c6bac34fb8", "streamer", "some_viewer", "Some_Viewer")
    assert (message.user_id, message.room_id, message.text) == ("42", "1337", "Kappa Keepo Kappa hello")
    assert message.first_msg and message.is_moderator and message.is_subscriber
    assert not message.is_broadcaster and not message.is_vip and not message.is_action
    assert message.reply_parent is None
    assert len(message.emotes) == 3 and message.badges["subscriber"] == "12"


def test_chat_message_roles():
    def chat(tags: str) -> ChatMessage:
        return ChatMessage.from_irc(parse(f"@{tags} :v!v@v PRIVMSG #c :hi"))

    assert chat("badges=broadcaster/1;user-id=1;room-id=1").is_broadcaster
    assert chat("badges=;user-id=7;room-id=7").is_broadcaster  # the channel owner, without badges
    assert chat("badges=broadcaster/1;user-id=7;room-id=7").is_moderator
    assert chat("badges=moderator/1;mod=0;user-id=2;room-id=1").is_moderator
    assert chat("badges=vip/1;user-id=2;room-id=1").is_vip
    assert chat("badges=founder/0;user-id=2;room-id=1").is_subscriber
    viewer = chat("badges=;mod=0;subscriber=0;user-id=2;room-id=1")
    assert not (viewer.is_moderator or viewer.is_broadcaster or viewer.is_vip or viewer.is_subscriber)


def test_chat_message_display_name_falls_back_to_the_login_and_actions_are_unwrapped():
    message = ChatMessage.from_irc(parse("@display-name= :viewer!viewer@viewer PRIVMSG #c :\x01ACTION waves\x01"))
    assert message.display_name == "viewer"
    assert message.is_action and message.text == "waves"


def test_chat_message_reply_parent():
    line = (r"@reply-parent-display-name=Other;reply-parent-msg-body=what\sis\sthis;reply-parent-msg-id=p-1;"
            r"reply-parent-user-id=9;reply-parent-user-login=other;id=m-2 :v!v@v PRIVMSG #c :@other !reco")
    assert ChatMessage.from_irc(parse(line)).reply_parent == ReplyParent("p-1", "9", "other", "Other", "what is this")


def test_only_channel_privmsgs_are_chat_messages():
    with pytest.raises(ValueError, match="not a channel PRIVMSG"):
        ChatMessage.from_irc(parse("PING :tmi.twitch.tv"))
    with pytest.raises(ValueError, match="not a channel PRIVMSG"):
        ChatMessage.from_irc(parse(":a!a@a PRIVMSG bot :a whisper"))


@pytest.mark.parametrize(("tags", "line"), [
    ({"tag": ""}, "@tag COMMAND"),
    ({"a": "1", "empty": "", "z": "x y"}, r"@a=1;empty;z=x\sy COMMAND"),
])
def test_serialize_writes_a_bare_key_for_an_empty_tag_value(tags, line):
    """The message-format test vectors (msg-join) and Twitch write `@key`, not `@key=`."""
    message = IrcMessage("COMMAND", tags=tags)
    assert message.serialize() == line
    assert parse(line) == message
