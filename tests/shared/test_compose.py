"""docker/compose.yml names what the seeds' configurations expect and runs real commands."""

import yaml
from click.testing import CliRunner

from shared.cli import main
from shared.settings import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker" / "compose.yml").read_text())


def test_the_database_is_also_reachable_as_db():
    assert "db" in COMPOSE["services"]["postgres"]["networks"]["default"]["aliases"]


def test_every_service_command_is_a_waddlebot_command(wsgi_app):
    commands = {service["command"][1] for service in COMPOSE["services"].values()
                if service.get("command", [""])[0] == "waddlebot"}
    assert {"migrate", "web", "worker", "helix-proxy"} <= commands
    for command in commands:
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0, f"waddlebot {command}: {result.output}"
