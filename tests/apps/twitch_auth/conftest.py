"""Fixtures of the twitch_auth tests: Twitch configured and its HTTP mocked, app modules."""

from __future__ import annotations

import importlib

import pytest
import responses

from tests.apps.twitch_auth.twitch_fakes import twitch_settings


@pytest.fixture
def twitch(configure, db):
    """Twitch credentials set and every outgoing HTTP call mocked (`responses`)."""
    twitch_settings(configure, GATEWAY_ACTIVATE_URL="https://gateway.example.test/activate")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def app_module(wsgi_app):
    """import_module for twitch_auth's modules, once py4web has loaded the app: importing one
    before would run the app's __init__ outside py4web and its routes would not be registered."""
    return lambda name: importlib.import_module(f"apps.twitch_auth.{name}")
