import pytest

from modules.twitch.helix import (
    ParamError,
    RateLimit,
    chatters_params,
    error_body,
    error_message,
    is_valid_path,
    moderated_channels_params,
    next_cursor,
    parse_ratelimit,
    users_params,
)


def test_error_body_is_helix_shaped():
    assert error_body(400, "missing required parameter id") == {
        "error": "Bad Request", "status": 400, "message": "missing required parameter id"}
    assert error_body(503, "later")["error"] == "Service Unavailable"


def test_error_message_reads_helix_json_or_an_excerpt():
    assert error_message(b'{"error":"Unauthorized","status":401,"message":"Invalid OAuth token"}') == \
        "Invalid OAuth token"
    assert error_message(b"<html>bad gateway</html>") == "<html>bad gateway</html>"
    assert error_message(b"") == "(empty body)"


def test_parse_ratelimit_headers():
    headers = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "1700000000"}
    assert parse_ratelimit(headers) == RateLimit(800, 0, 1700000000.0)
    assert parse_ratelimit({"Ratelimit-Remaining": "12"}) == RateLimit(None, 12, None)
    assert parse_ratelimit({}) is None
    assert parse_ratelimit({"Ratelimit-Remaining": "many"}) is None


def test_next_cursor():
    assert next_cursor({"data": [], "pagination": {"cursor": "abc"}}) == "abc"
    assert next_cursor({"data": [], "pagination": {}}) is None
    assert next_cursor({"data": []}) is None


@pytest.mark.parametrize("path,valid", [("users", True), ("eventsub/subscriptions", True), ("chat/chatters", True),
                                        ("../oauth2/token", False), ("users/", False), ("a//b", False),
                                        ("", False), ("users?id=1", False)])
def test_is_valid_path(path, valid):
    assert is_valid_path(path) is valid


def test_chatters_params_require_numeric_ids_and_bound_first():
    pairs = [("broadcaster_id", "1"), ("moderator_id", "2"), ("first", "1000"), ("after", "cur"), ("junk", "x")]
    assert chatters_params(pairs) == [("broadcaster_id", "1"), ("moderator_id", "2"), ("first", "1000"),
                                      ("after", "cur")]
    with pytest.raises(ParamError, match="moderator_id"):
        chatters_params([("broadcaster_id", "1")])
    with pytest.raises(ParamError, match="broadcaster_id must be a numeric"):
        chatters_params([("broadcaster_id", "abc"), ("moderator_id", "2")])
    with pytest.raises(ParamError, match="first must be an integer between 1 and 1000"):
        chatters_params([("broadcaster_id", "1"), ("moderator_id", "2"), ("first", "1001")])
    with pytest.raises(ParamError, match="broadcaster_id must be given once"):
        chatters_params([("broadcaster_id", "1"), ("broadcaster_id", "3"), ("moderator_id", "2")])


def test_moderated_channels_params():
    assert moderated_channels_params([("user_id", "9"), ("first", "100")]) == [("user_id", "9"), ("first", "100")]
    with pytest.raises(ParamError, match="missing required parameter user_id"):
        moderated_channels_params([("user_id", "")])
    with pytest.raises(ParamError, match="first must be an integer between 1 and 100"):
        moderated_channels_params([("user_id", "9"), ("first", "0")])


def test_users_params_allow_100_ids_and_logins_in_total():
    pairs = [("id", str(n)) for n in range(60)] + [("login", f"user_{n}") for n in range(40)]
    assert len(users_params(pairs)) == 100
    with pytest.raises(ParamError, match="at most 100 id and login parameters in total, got 101"):
        users_params(pairs + [("login", "one_more")])
    with pytest.raises(ParamError, match="login must be"):
        users_params([("login", "bad login!")])
    with pytest.raises(ParamError, match="id must be a numeric"):
        users_params([("id", "12a")])
    assert users_params([]) == []
