"""The constraint naming convention every package's ``MetaData`` uses."""

from __future__ import annotations
# Named constraints: Alembic's batch mode (SQLite rebuilds tables to alter
# them) can only drop or alter a constraint it can name. column_0_N: several
# unique constraints of one table may start with the same column. (For a
# one-column index, ix_<table>_<column> is also what "ix_%(column_0_label)s"
# gave the tables migrated before this convention was shared.)
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

