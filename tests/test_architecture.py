"""The layers' boundaries (docs/architecture.md), checked over the import statements.

* A domain's ``schema.py`` parses input, calls services and maps results: it imports no
  SQLAlchemy and none of the data-access modules; a ``service.py`` imports no Strawberry.
* Domain packages do not reach into each other's tables: one domain reads another's data
  through that domain's service. Naming another domain's enums is fine; the one listed
  exception is the promotion a capacity change causes (enrollments/service.py). The
  enrollment rules' statements (migration 0007, enrollments/sqlite_functions.py) read the
  event's offer and the user in the statement that locks the event, in SQL, not models.
* Locks are taken in one module, locking.py.
"""

import ast
import enum
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "offerdesk"
DOMAINS = ("offers", "events", "content", "users", "enrollments")
# Modules only services use: a schema module that imports one is doing a service's work.
DATA_ACCESS = (
    "offerdesk.db",
    "offerdesk.repository",
    "offerdesk.pagination",
    "offerdesk.locking",
    "offerdesk.validation",
    "offerdesk.bulk",
)
# Other domains' model classes a module may name, and why (docs/architecture.md).
TABLE_EXCEPTIONS = {
    # promote_waiting_list fills the event row the events service locked and changed.
    ("enrollments", "service"): {"offerdesk.events.models": {"OfferEvent"}},
}


def _runtime_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import that runs (those under ``if TYPE_CHECKING`` do
    not), at any depth; ``import a.b`` gives ``("a.b", [])``."""
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _targets(module: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """``from offerdesk.events import service`` names the module offerdesk.events.service."""
    if module.removeprefix("offerdesk.") in DOMAINS:
        return [(f"{module}.{name}", []) for name in names]
    return [(module, names)]


def _layer_modules() -> list[tuple[str, str]]:
    return [(domain, layer) for domain in DOMAINS for layer in ("schema", "service")]


@pytest.mark.parametrize(("domain", "layer"), _layer_modules())
def test_a_layer_imports_only_what_its_layer_may(domain: str, layer: str) -> None:
    imports = _runtime_imports(SRC / domain / f"{layer}.py")
    roots = {module.split(".")[0] for module, _ in imports}
    if layer == "schema":
        assert "sqlalchemy" not in roots, f"{domain}/schema.py imports SQLAlchemy"
        used = [module for module, _ in imports if module in DATA_ACCESS]
        assert used == [], f"{domain}/schema.py does a service's work with {used}"
    else:
        assert "strawberry" not in roots, f"{domain}/service.py imports Strawberry"
        assert not any(module.startswith("offerdesk.graphql") for module, _ in imports)


@pytest.mark.parametrize(("domain", "layer"), _layer_modules())
def test_a_domain_reads_other_domains_through_their_services(domain: str, layer: str) -> None:
    allowed = TABLE_EXCEPTIONS.get((domain, layer), {})
    for imported, names in _runtime_imports(SRC / domain / f"{layer}.py"):
        for module, members in _targets(imported, names):
            parts = module.split(".")
            if len(parts) < 3 or parts[0] != "offerdesk" or parts[1] not in DOMAINS:
                continue
            other, part = parts[1], parts[2]
            if other == domain or part == "service" or (part == "schema" and layer == "schema"):
                continue
            assert part == "models", f"{domain}/{layer}.py imports {module}"
            loaded = importlib.import_module(module)
            for name in members:
                value = getattr(loaded, name)
                is_enum = isinstance(value, type) and issubclass(value, enum.Enum)
                assert is_enum or name in allowed.get(module, set()), (
                    f"{domain}/{layer}.py reaches into {other}'s table through {module}.{name}; "
                    f"read it through offerdesk.{other}.service"
                )


LOCK_MARKERS = ("with_for_update(", "pg_advisory", '"BEGIN IMMEDIATE"')


def test_locks_are_taken_only_in_the_locking_module() -> None:
    offenders = [
        f"{path.relative_to(SRC)}: {marker}"
        for path in SRC.rglob("*.py")
        if path.name != "locking.py"
        for marker in LOCK_MARKERS
        if marker in path.read_text()
    ]
    assert offenders == []


def test_the_checks_see_a_violation() -> None:
    """The import walk finds what these tests forbid (a check that sees nothing proves
    nothing): enrollments/service.py's excepted model imports are found as such."""
    imports = dict(_runtime_imports(SRC / "enrollments" / "service.py"))
    assert imports["offerdesk.events.models"] == ["OfferEvent"]
    assert "sqlalchemy" in {m.split(".")[0] for m in imports}
