"""Operations for revisions that must work on every install, a partitioned one included
(``flask clawhooks partition enable``, :mod:`flask_clawhooks.partitions`).

PostgreSQL cannot ``CREATE INDEX CONCURRENTLY`` on a partitioned table. On one,
:func:`create_index` makes the table's index ``ON ONLY`` the table (invalid, and
instant), builds each partition's concurrently, and attaches them; the table's index is
valid once all are, and partitions made later get it on their own. Columns added with
``op.add_column`` and other ``ALTER TABLE`` reach every partition as they are.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.schema import CreateIndex


def _partitions(table: str) -> list[str] | None:
    """The partitions of ``table``, or None when it is not partitioned (or the SQL is
    written offline, where nothing can be asked)."""
    if context.is_offline_mode() or op.get_context().dialect.name != "postgresql":
        return None
    bind = op.get_bind()
    kind = bind.scalar(sa.text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"),
                       {"t": table})
    if kind != "p":
        return None
    return list(bind.scalars(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t) ORDER BY c.relname"), {"t": table}))


def _invalid(name: str) -> bool:
    """Whether index ``name`` exists but is INVALID (a concurrent build that failed)."""
    return bool(op.get_bind().scalar(sa.text(
        "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name AND pg_table_is_visible(c.oid)"), {"name": name}))


def _index_sql(name: str, table: str, columns: list[Any], options: dict[str, Any]) -> str:
    target = sa.Table(table, sa.MetaData(),
                      *[sa.Column(c) for c in columns if isinstance(c, str)])
    exprs = [target.c[c] if isinstance(c, str) else c for c in columns]
    index = sa.Index(name, *exprs, **options)
    return str(CreateIndex(index, if_not_exists=True).compile(
        dialect=op.get_context().dialect))


def create_index(name: str, table: str, columns: list[Any], **options: Any) -> None:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS`` (after dropping an INVALID one left
    by an interrupted build), on a partitioned table too. Run it inside
    ``op.get_context().autocommit_block()``. ``options`` are :class:`sqlalchemy.Index`'s
    (``postgresql_where=…``)."""
    found = _partitions(table)
    if found is None:
        if (op.get_context().dialect.name == "postgresql" and not context.is_offline_mode()
                and _invalid(name)):
            op.drop_index(name, table_name=table, postgresql_concurrently=True)
        op.create_index(name, table, columns, postgresql_concurrently=True,
                        if_not_exists=True, **options)
        return
    bind = op.get_bind()
    parent = _index_sql(name, table, columns, options)
    bind.exec_driver_sql(parent.replace(f" ON {table} ", f" ON ONLY {table} ", 1))
    for partition in found:
        child = f"{name}_{partition.removeprefix(table + '_')}"[:63]
        if _invalid(child):
            bind.exec_driver_sql(f"DROP INDEX CONCURRENTLY {child}")
        bind.exec_driver_sql(_index_sql(child, partition, columns, options | {
            "postgresql_concurrently": True}))
        bind.exec_driver_sql(f"ALTER INDEX {name} ATTACH PARTITION {child}")
