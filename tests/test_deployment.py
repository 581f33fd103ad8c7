"""compose.yaml is not run here (no container engine on the test machines): these tests check it
against the code it starts — every setting it passes exists, every command is one the CLI knows,
every dependency names a service, and the replica's scripts are valid shell."""

import ast
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.cli import main as cli_main
from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_stack_has_a_primary_a_replica_redis_the_api_and_its_workers(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert {"primary", "replica", "redis", "migrate", "api", "webhooks", "digests"} <= set(services)
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert needed in services, f"{name} depends on unknown service {needed}"
    api = services["api"]
    env = api["environment"]
    assert "@replica:" in env["DATABASE_REPLICA_URLS"]
    assert env["RATE_LIMIT_STORAGE"].startswith("redis://redis:")
    assert "--workers" in " ".join(api["command"])
    assert "PROMETHEUS_MULTIPROC_DIR" in env


def test_every_setting_passed_is_one_the_service_reads(compose: dict[str, Any]) -> None:
    known = {name.upper() for name in Settings.model_fields}
    # Read by the images, not by the service.
    image_only = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "PGDATA"}
    image_only |= {"REPLICATION_PASSWORD", "PROMETHEUS_MULTIPROC_DIR"}
    for name, service in compose["services"].items():
        for variable in service.get("environment", {}):
            assert variable in known | image_only, f"{name} passes unknown setting {variable}"


def test_every_command_is_one_the_cli_knows(compose: dict[str, Any]) -> None:
    commands = set()
    for service in compose["services"].values():
        text = " ".join(service.get("command", []))
        commands |= set(re.findall(r"\bterritoire ([a-z-]+)", text))
    assert {"webhooks", "digests", "load", "metrics-reset"} <= commands
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            cli_main([command, "--help"])
        assert exit_.value.code == 0


@pytest.mark.parametrize("script", sorted((ROOT / "deploy" / "postgres").glob("*.sh")))
def test_the_database_scripts_are_valid_shell(script: Path) -> None:
    subprocess.run(["sh", "-n", str(script)], check=True)
    mounted = yaml.safe_load((ROOT / "compose.yaml").read_text())
    volumes = [v for s in mounted["services"].values() for v in s.get("volumes", [])]
    assert any(script.name in volume for volume in volumes), f"{script.name} is not mounted"


def test_the_image_installs_every_package_the_app_imports() -> None:
    # The image installs requirements/runtime.txt only: a module of app/ importing a package
    # that only the development environment has would fail in production, not here.
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "requirements" / "runtime.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for source in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top == "app" or top in sys.stdlib_module_names:
                    continue
                packages = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
                if not packages & pinned:
                    missing[top] = str(source.relative_to(ROOT))
    assert not missing, missing
    # What httpcore asks at every request: without it each one retries the import.
    assert "sniffio" in pinned
