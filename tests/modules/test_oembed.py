import pytest
import requests
import responses

from modules.oembed import OEmbed, OEmbedError, OEmbedUnavailable, fetch

ENDPOINT = "https://oembed.example/oembed"
VIDEO = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


@responses.activate
def test_fetch_returns_title_author_and_thumbnail():
    responses.get(ENDPOINT, json={"title": "Never Gonna Give You Up", "author_name": "Rick Astley",
                                  "thumbnail_url": "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg",
                                  "provider_name": "YouTube", "html": "<iframe>"},
                  match=[responses.matchers.query_param_matcher({"url": VIDEO, "format": "json"})])
    assert fetch(ENDPOINT, VIDEO, timeout=2) == OEmbed("Never Gonna Give You Up", "Rick Astley",
                                                       "https://i.ytimg.com/vi/dQw4w9WgXcQ/hqdefault.jpg", "YouTube")


@responses.activate
def test_missing_optional_fields_are_empty():
    responses.get(ENDPOINT, json={"title": "Podcast episode", "thumbnail_url": None})
    assert fetch(ENDPOINT, VIDEO, timeout=2).as_dict() == {
        "title": "Podcast episode", "author_name": "", "thumbnail_url": "", "provider_name": ""}


@pytest.mark.parametrize("status", [400, 401, 403, 404])
@responses.activate
def test_client_errors_mean_the_link_is_not_available(status):
    responses.get(ENDPOINT, status=status, body="Not Found")
    with pytest.raises(OEmbedUnavailable, match=str(status)):
        fetch(ENDPOINT, VIDEO, timeout=2)


@pytest.mark.parametrize("reply", [
    {"status": 500, "body": "oops"},
    {"status": 429, "body": "slow down"},
    {"status": 200, "body": "<html>"},
    {"status": 200, "json": {"author_name": "no title"}},
    {"body": requests.ConnectTimeout("timed out")},
])
@responses.activate
def test_provider_trouble_is_retryable(reply):
    responses.get(ENDPOINT, **reply)
    with pytest.raises(OEmbedError) as caught:
        fetch(ENDPOINT, VIDEO, timeout=2)
    assert not isinstance(caught.value, OEmbedUnavailable)
