"""docker-compose.yml stays in step with the code it runs.

No Docker engine (nor its compose plugin) runs in CI, so the file is read
here: its interpolations resolve as compose resolves them, every `ACCORDS_*`
variable it sets is a setting the app reads, every command it runs parses
against the `accords` CLI, and what services depend on can satisfy the
condition asked of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from services.cli import app as cli
from shared.settings import Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
# What `docker compose up` needs set (the file's `:?` interpolations).
REQUIRED = {"ACCORDS_BOOTSTRAP_API_KEY": "key", "ACCORDS_SECRET_KEY": "secret"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Resolve compose's `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
    `${NAME:?error}` and `${NAME?error}` (defaults may nest); `$$` is a `$`."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text.startswith("$$", index):
            out.append("$")
            index += 2
        elif text.startswith("${", index):
            end = _closing_brace(text, index + 2)
            out.append(_resolve(text[index + 2 : end], env))
            index = end + 1
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    depth = 1
    for position in range(start, len(text)):
        if text[position] == "{":
            depth += 1
        elif text[position] == "}":
            depth -= 1
            if depth == 0:
                return position
    raise ValueError(f"unclosed ${{ in {text!r}")


def _resolve(expression: str, env: dict[str, str]) -> str:
    name = _NAME.match(expression)
    if name is None:
        raise ValueError(f"${{{expression}}} names no variable")
    rest = expression[name.end() :]
    value = env.get(name.group())
    for operator in (":-", "-", ":?", "?"):
        if rest.startswith(operator):
            argument = interpolate(rest[len(operator) :], env)
            unset = value is None or (operator.startswith(":") and value == "")
            if not unset:
                return value  # type: ignore[return-value]
            if "?" in operator:
                raise LookupError(f"{name.group()}: {argument}")
            return argument
    if rest:
        raise ValueError(f"${{{expression}}}: unknown operator {rest!r}")
    return value or ""


def resolved(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolved(value, env) for key, value in node.items()}
    return node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The file as written, its interpolations left in."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose(raw) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return resolved(raw, REQUIRED)


def setting_of(variable: str) -> str | None:
    """The Settings field an environment variable sets (None: not one of ours)."""
    prefix = Settings.model_config["env_prefix"]
    return variable.removeprefix(prefix).lower() if variable.startswith(prefix) else None


def accords_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("accords")
    }


def test_interpolation_resolves_and_names_what_must_be_set(raw) -> None:  # type: ignore[no-untyped-def]
    assert interpolate("${A:-${B:-x}}-$${C}", {}) == "x-${C}"
    assert interpolate("${A:-d}", {"A": ""}) == "d"
    assert interpolate("${A-d}", {"A": ""}) == ""
    with pytest.raises(ValueError, match="unknown operator"):
        interpolate("${A:=x}", {})
    for name in REQUIRED:
        with pytest.raises(LookupError, match=name):
            resolved(raw, {other: "x" for other in REQUIRED if other != name})


def test_the_production_shape_is_there(compose) -> None:  # type: ignore[no-untyped-def]
    accords = accords_services(compose)
    assert set(accords) == {"migrate", "api", "worker"}
    assert accords["api"]["command"][:2] == ["accords", "serve"]
    assert accords["worker"]["command"][:2] == ["accords", "worker"]
    urls = accords["api"]["environment"]
    assert urls["ACCORDS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert urls["ACCORDS_BROKER_URL"].startswith("amqp://")
    for name, service in accords.items():
        # Several containers of each: nothing pins one name, only the api publishes a port.
        assert "container_name" not in service, name
        assert name == "api" or "ports" not in service, name
    assert accords["api"]["deploy"]["replicas"] == "1"


def test_every_accords_variable_is_a_setting(compose) -> None:  # type: ignore[no-untyped-def]
    fields = set(Settings.model_fields)
    for name, service in accords_services(compose).items():
        for variable in service["environment"]:
            setting = setting_of(variable)
            assert setting is None or setting in fields, f"{name}: {variable} is not a setting"
    # And the values given parse as settings do.
    environment = accords_services(compose)["worker"]["environment"]
    Settings(
        **{
            setting: value
            for variable, value in environment.items()
            if (setting := setting_of(variable)) is not None
        }
    )


def test_every_command_parses_against_the_cli(compose) -> None:  # type: ignore[no-untyped-def]
    group = typer.main.get_command(cli)
    for name, service in accords_services(compose).items():
        program, subcommand, *arguments = [str(part) for part in service["command"]]
        assert program == "accords", name
        command = group.commands.get(subcommand)
        assert command is not None, f"{name}: no `accords {subcommand}`"
        context = command.make_context(subcommand, list(arguments))
        assert not context.args, f"{name}: left over {context.args}"


def test_dependencies_can_meet_their_conditions(compose) -> None:  # type: ignore[no-untyped-def]
    services = compose["services"]
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            target = services[dependency]
            assert "profiles" not in target, f"{name} depends on optional {dependency}"
            if rule["condition"] == "service_healthy":
                assert "test" in target.get("healthcheck", {}), f"{dependency} has no healthcheck"
            elif rule["condition"] == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dependency} would restart, not complete"
            else:
                assert rule["condition"] == "service_started", rule
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], f"{name}: {volume}"
