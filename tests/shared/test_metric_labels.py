"""Request metrics take their labels from a fixed set: clients cannot add series to /metrics."""

from prometheus_client import REGISTRY, generate_latest
from webob import Request


def test_made_up_request_methods_share_one_label(wsgi_app):
    for number in range(5):
        Request.blank("/login", method=f"BREW{number}", remote_addr="127.0.0.1").get_response(wsgi_app)
    text = generate_latest(REGISTRY).decode()
    assert "BREW" not in text and 'method="other"' in text
