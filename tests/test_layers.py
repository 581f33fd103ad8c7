"""No module imports from a layer above its own (read from the source with `ast`).

Layers from the bottom: configuration, tables and the database plumbing; API models and domain
errors; repositories (SQL); services (rules); HTTP (routers and middleware); entry points. Every
module of `app` must be placed: a new top-level module fails here until it is given its layer.
"""

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"

# The longest matching prefix gives a module's layer.
LAYERS: dict[str, int] = {
    "app.config": 0,
    "app.models": 0,
    "app.db": 0,
    "app.replicas": 0,
    "app.replica_routing": 0,
    "app.responses": 0,
    "app.access_log": 0,
    "app.metrics_files": 0,
    "app.schemas": 1,
    "app.errors": 1,
    "app.outage": 1,
    "app.repositories": 2,
    "app.services": 3,
    "app.idempotency": 3,
    "app.ratelimit": 3,
    "app.routers": 4,
    "app.auth": 4,
    "app.preconditions": 4,
    "app.http_cache": 4,
    "app.cache": 4,
    "app.limits": 4,
    "app.openapi": 4,
    "app.metrics": 4,
    "app.observability": 4,
    "app.main": 5,
    "app.cli": 5,
    "app.webhook_worker": 5,
}


def layer(module: str) -> int | None:
    matches = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    return LAYERS[max(matches, key=len)] if matches else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(tree: ast.AST) -> list[tuple[str, int]]:
    """Every absolute import of `app` in the module, inside functions and TYPE_CHECKING too."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "app":  # `from app import services` names the module imported
                found += [(f"app.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((node.module, node.lineno))
    return [(name, line) for name, line in found if name == "app" or name.startswith("app.")]


def modules() -> list[Path]:
    return [p for p in sorted(APP.rglob("*.py")) if module_name(p) != "app"]


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in modules() if layer(module_name(p)) is None]
    assert unplaced == [], f"give these modules a layer in LAYERS: {unplaced}"


def test_no_module_imports_from_a_layer_above() -> None:
    upward = []
    for path in modules():
        own = layer(module_name(path))
        if own is None:
            continue
        for name, line in imported(ast.parse(path.read_text(encoding="utf-8"))):
            target = layer(name)
            if target is not None and target > own:
                upward.append(f"{path.relative_to(APP.parent)}:{line} imports {name}")
    assert upward == []


def test_the_check_sees_an_upward_import() -> None:
    # The walk must find imports nested in functions, or it would pass on anything.
    tree = ast.parse("def f():\n    from app.services.exports import x\nfrom app import routers\n")
    assert sorted(imported(tree), key=lambda item: item[1]) == [
        ("app.services.exports", 2),
        ("app.routers", 3),
    ]
    assert layer("app.services.exports") == 3
    assert layer("app.db") == 0
