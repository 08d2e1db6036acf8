"""The migration set and the tables it covers, without a database."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from alembic.script import ScriptDirectory

from controlplane import migrate
from controlplane.migrations import MIGRATIONS_DIR, TARGET_METADATA

CONSTRAINT_KINDS = {"ix", "uq", "ck", "fk", "pk"}
REVISION_FILES = sorted(Path(MIGRATIONS_DIR, "versions").glob("[0-9]*.py"))


def test_every_package_names_all_kinds_of_constraints() -> None:
    """Alembic's batch mode on SQLite can only alter constraints it can name."""
    for metadata in TARGET_METADATA:
        assert CONSTRAINT_KINDS <= set(metadata.naming_convention), metadata.tables.keys()


def test_no_table_is_declared_by_two_packages() -> None:
    declared = Counter(name for metadata in TARGET_METADATA for name in metadata.tables)

    assert [name for name, count in declared.items() if count > 1] == []


def test_the_head_is_the_highest_numbered_revision() -> None:
    """One head (head() refuses several): revisions form a single line."""
    numbers = [path.name.split("_")[0] for path in REVISION_FILES]

    assert migrate.head() == max(numbers)


def test_revision_files_and_the_template_ship_with_the_package() -> None:
    """versions/ is a package so its .py files are installed; *.mako is
    package data in pyproject.toml."""
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_revision_files_are_named_after_their_revision() -> None:
    """NNNN_<what>.py holds revision "NNNN": files sort in history order."""
    for script in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_"), script.path
