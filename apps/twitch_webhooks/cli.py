"""`waddlebot event …`: an EventSub simulator, like the Twitch CLI's `event trigger`. It sends
webhook messages signed and shaped exactly as Twitch sends them, to this system or any receiver."""

from __future__ import annotations

import json
import uuid

import click
import requests

from apps.twitch_webhooks.eventsub.helix import callback_url
from modules.twitch import eventsub as wire
from shared.settings import get_settings

from .console import console

SIMULATED = [name for name, _ in wire.STANDARD_TYPES]
TIMEOUT = 10


def _secret(value: str | None) -> str:
    secret = value or get_settings().twitch_webhook_secret
    if not secret:
        raise click.UsageError("give --secret or set TWITCH_WEBHOOK_SECRET")
    return secret


def _send(session: requests.Session, url: str, message: tuple[dict, bytes]) -> requests.Response:
    headers, body = message
    try:
        return session.post(url, data=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise click.ClickException(f"cannot reach {url}: {err.__class__.__name__}") from None


def _short(reply: requests.Response) -> str:
    """What the receiver said: its JSON "status" (stored, duplicate…) or "message", else its text."""
    try:
        answer = reply.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("status" if reply.ok else "message"), str):
        return answer["status" if reply.ok else "message"]
    return " ".join(reply.text.split())[:160]


@click.group()
def event():
    """Send EventSub webhook messages as Twitch does (notifications, challenges, revocations)."""


def _target(ctx, param, value: str | None) -> str:
    return value or callback_url()


TO = click.option("--to", "url", callback=_target, help="receiver URL (default: PUBLIC_URL/twitch_webhooks/webhook)")
SECRET = click.option("--secret", help="signing secret (default: TWITCH_WEBHOOK_SECRET)")
SUBSCRIPTION_ID = click.option("--subscription-id", help="the subscription id in the payload (default: random)")


@event.command()
@click.argument("event_type", metavar="TYPE", type=click.Choice(SIMULATED))
@TO
@SECRET
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 1_000_000), help="messages to send")
@click.option("--id", "message_id", help="Twitch-Eventsub-Message-Id (the same for every message: duplicates)")
@click.option("--timestamp", help="Twitch-Eventsub-Message-Timestamp as sent (default: now, RFC 3339)")
@click.option("--broadcaster", default="1337", show_default=True, help="broadcaster user id")
@click.option("--anonymous", is_flag=True, help="an anonymous cheer or gift (no user)")
@SUBSCRIPTION_ID
def trigger(event_type, url, secret, count, message_id, timestamp, broadcaster, anonymous, subscription_id):
    """Send COUNT notifications of TYPE with realistic random events."""
    secret = _secret(secret)
    refused = 0
    with requests.Session() as session:
        for _ in range(count):
            sample = wire.sample_event(event_type, broadcaster, anonymous=anonymous)
            message = wire.notification(secret, event_type, callback=url, broadcaster_id=broadcaster, event=sample,
                                        message_id=message_id, timestamp=timestamp, subscription_id=subscription_id)
            reply = _send(session, url, message)
            refused += not reply.ok
            click.echo(f"{reply.status_code} {message[0][wire.MESSAGE_ID]} {_short(reply)}")
    if refused:
        raise click.ClickException(f"{refused} of {count} notifications were refused")


@event.command("verify-subscription")
@TO
@SECRET
@click.option("--type", "event_type", default="channel.follow", show_default=True, help="subscription type")
@SUBSCRIPTION_ID
def verify_subscription(url, secret, event_type, subscription_id):
    """Send a webhook_callback_verification challenge and check the reply is exactly the challenge."""
    challenge = uuid.uuid4().hex
    message = wire.verification(_secret(secret), event_type, callback=url, challenge=challenge,
                                subscription_id=subscription_id)
    with requests.Session() as session:
        reply = _send(session, url, message)
    content_type = reply.headers.get("Content-Type", "").split(";")[0].strip()
    if reply.status_code != 200 or content_type != "text/plain" or reply.text != challenge:
        raise click.ClickException(f"the challenge was not answered as Twitch requires (200, text/plain, the challenge"
                                   f" exactly): got {reply.status_code} {content_type or '-'} {_short(reply)!r}")
    subscription = json.loads(message[1])["subscription"]
    click.echo(f"challenge answered: subscription {subscription['id']} ({event_type}) would be enabled")


@event.command()
@TO
@SECRET
@click.option("--type", "event_type", default="channel.follow", show_default=True, help="subscription type")
@click.option("--reason", type=click.Choice(wire.REVOCATION_REASONS), default="authorization_revoked",
              show_default=True, help="Twitch's reason (the subscription status)")
@SUBSCRIPTION_ID
def revoke(url, secret, event_type, reason, subscription_id):
    """Send a revocation of a subscription."""
    message = wire.revocation(_secret(secret), event_type, reason=reason, callback=url, subscription_id=subscription_id)
    with requests.Session() as session:
        reply = _send(session, url, message)
    if not reply.ok:
        raise click.ClickException(f"the revocation was refused: {reply.status_code} {_short(reply)}")
    subscription = json.loads(message[1])["subscription"]
    click.echo(f"{reply.status_code} revocation of {subscription['id']} ({event_type}, {reason}) accepted")


commands = [event, console]
