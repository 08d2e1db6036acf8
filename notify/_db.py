"""notify's database plumbing: the shared engine-or-connection convention.

Every service takes either an ``AsyncEngine`` or an ``AsyncConnection``:
given an engine, it runs in its own transaction and commits it; given a
connection, it joins that connection's transaction and the caller commits
or rolls back (an email then goes out only if what caused it committed).
"""

from sqlbase import Db, dialect_insert, reading, transaction

__all__ = ["Db", "dialect_insert", "reading", "transaction"]
