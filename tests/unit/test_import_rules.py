"""The dependency direction of ARCHITECTURE.md, held by a walk over every
package's imports.

The rules are data (``ALLOWED``, ``TABLE_READERS``) so a change to the
architecture is a change here, said in one place: which package may import
which, that nothing imports ``controlplane``, and that no package imports
another package's ``tables`` module (each package owns its tables; others
call its functions or take its query fragments, as admission takes
``billing.ledger.balance_of``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Every top-level package of ARCHITECTURE.md's layout; those not created yet
# are skipped until they exist (web, access, privacy, quality...).
PACKAGES = (
    "admission", "agi", "ari_app", "asterisk_conf", "billing", "controlplane", "notify",
    "provisioning", "sqlbase", "web", "access", "privacy", "quality",
)

# The packages whose functions privacy calls to export, pseudonymise and purge.
_DATA_OWNERS = {"access", "admission", "billing", "notify", "provisioning", "quality"}

# package -> the other packages it may import ("Dependency direction"). sqlbase
# is what every package's tables and services share; controlplane wires
# everything and appears in no one's list: nothing imports it.
ALLOWED: dict[str, set[str]] = {
    "sqlbase": set(),
    "billing": {"sqlbase"},
    "provisioning": {"sqlbase"},
    "notify": {"sqlbase"},
    "asterisk_conf": {"sqlbase"},
    "quality": {"sqlbase"},
    "access": {"sqlbase"},
    "admission": {"billing", "provisioning", "sqlbase"},
    "ari_app": {"admission", "provisioning", "notify", "billing", "quality", "sqlbase"},
    "agi": {"admission", "provisioning", "notify", "billing", "quality", "sqlbase"},
    "privacy": _DATA_OWNERS | {"sqlbase"},
    "web": {
        "access", "privacy", "quality", "provisioning", "billing", "admission", "notify",
        "asterisk_conf", "sqlbase",
    },
    "controlplane": set(PACKAGES) - {"controlplane"},
}

# Modules allowed to import another package's tables module, and why.
TABLE_READERS: dict[str, str] = {
    # Alembic compares the migrations with every package's declared schema:
    # the one place that must see all the tables (it reads their metadata).
    "controlplane.migrations": "the migration history covers every package's tables",
}

# Imports that break a rule and are being changed in parallel, listed by
# name so they are seen (importer module -> the module it may still import).
# Temporary: each is deleted once its file imports the owner's functions.
TEMPORARY_EXCEPTIONS: dict[str, set[str]] = {}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name of the file
    imported: str  # dotted module name it imports
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(path: Path, root: Path = ROOT) -> str:
    """Return the dotted module name of a file under ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Return every module ``path`` imports (``from a import b`` counts as
    ``a.b`` as well as ``a``: b may be a module), relative imports resolved."""
    importer = module_name(path, root)
    package = importer if path.name == "__init__.py" else importer.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(importer, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.append(Import(importer, base, node.lineno))
            found += [Import(importer, f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def package_files() -> list[Path]:
    return sorted(
        path for package in PACKAGES if (ROOT / package).is_dir()
        for path in (ROOT / package).rglob("*.py")
    )


def is_tables_module(module: str) -> bool:
    """True for a module declaring a package's tables: ``tables`` or ``*_tables``."""
    last = module.rpartition(".")[2]
    return last == "tables" or last.endswith("_tables")


def violations(found: list[Import]) -> list[str]:
    """Return each import that breaks a rule, with the rule it breaks."""
    broken: list[str] = []
    for imp in found:
        source, target = imp.importer.split(".")[0], imp.imported.split(".")[0]
        if target not in PACKAGES or target == source:
            continue
        if any(imp.imported == allowed or imp.imported.startswith(allowed + ".")
               for allowed in TEMPORARY_EXCEPTIONS.get(imp.importer, ())):
            continue
        if target == "controlplane":
            broken.append(f"{imp}: nothing imports controlplane")
        elif target not in ALLOWED[source]:
            broken.append(f"{imp}: {source} may import only {sorted(ALLOWED[source])}")
        elif is_tables_module(imp.imported) and not any(
            imp.importer == reader or imp.importer.startswith(reader + ".") for reader in TABLE_READERS
        ):
            broken.append(f"{imp}: no package imports another package's tables module")
    return broken


def test_packages_import_only_in_the_direction_of_the_architecture():
    """ARCHITECTURE.md, "Dependency direction": each package imports only the
    packages its arrow points to; nothing imports controlplane; no package
    imports another package's tables module."""
    found = [imp for path in package_files() for imp in imports_of(path)]
    assert found, "no imports found: the walk looks in the wrong place"
    broken = violations(found)
    assert not broken, "imports against the architecture:\n" + "\n".join(broken)


def test_every_existing_package_has_its_rules():
    """A new top-level package gets its line in ALLOWED before its first import."""
    existing = {
        path.name for path in ROOT.iterdir()
        if (path / "__init__.py").is_file() and path.name not in {"tests", "bench", "scripts"}
    }
    assert existing - set(ALLOWED) == set()


@pytest.mark.parametrize(
    ("importer", "imported", "rule"),
    [
        ("billing.ledger", "provisioning.services", "billing may import only"),
        ("notify.outbox", "controlplane.settings", "nothing imports controlplane"),
        ("web.admin", "controlplane.runtime", "nothing imports controlplane"),
        ("admission.deciding", "billing.tables", "another package's tables module"),
        ("web.routes", "billing.invoicing.tables", "another package's tables module"),
        ("ari_app.flows", "billing.invoice_tables", "another package's tables module"),
        ("controlplane.admin", "provisioning.tables", "another package's tables module"),
    ],
)
def test_a_forbidden_import_is_reported(importer, imported, rule):
    """The rules catch what they forbid (a rule that reports nothing proves nothing)."""
    [report] = violations([Import(importer, imported, 1)])
    assert rule in report


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("admission.deciding", "billing.ledger"),
        ("web.admin", "provisioning.services"),
        ("controlplane.migrations", "billing.tables"),
        ("billing.ledger", "billing.tables"),
        ("billing.invoicing.runs", "billing.invoicing.tables"),
        ("ari_app.flows", "sqlbase.worker"),
    ],
)
def test_an_allowed_import_passes(importer, imported):
    """The arrows of the architecture, a package's own tables, and the migrations' metadata."""
    assert violations([Import(importer, imported, 1)]) == []


def test_relative_imports_resolve_to_the_package(tmp_path):
    """``from .tables import x`` in admission/deciding.py is admission.tables."""
    package = tmp_path / "admission"
    package.mkdir()
    (package / "deciding.py").write_text("from .tables import a\nfrom ..billing import tables\n")
    imported = {imp.imported for imp in imports_of(package / "deciding.py", tmp_path)}
    assert {"admission.tables", "admission.tables.a", "billing.tables"} <= imported
