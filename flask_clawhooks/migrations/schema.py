"""Where the webhook tables' schema stands, and the operations that move it.

The schema is versioned by Alembic with the revisions in ``versions/`` and a version
table of its own, :data:`VERSION_TABLE`, so that a host's ``alembic_version`` is never
read or written. Every function here works on the host's engine and our tables only
(:data:`TABLE_PREFIX`).

A database can be in one of these states (:class:`SchemaState`):

* ``empty``: none of our tables; ``init-db`` creates them at the head revision.
* ``current``: at the revision this code needs.
* ``behind``: at an older revision: ``flask clawhooks db upgrade``.
* ``unversioned``: tables but no version table, as an ``init-db`` of 0.1.0 or 0.2.0 made
  them. :func:`recognise` compares them with the frozen schemas of those releases
  (:mod:`.frozen`) and ``db upgrade`` starts from the one that matches exactly; a schema
  that matches none is left alone, with a message naming what differs.
* ``ahead``: at a revision this code does not know, written by a newer release. The code
  keeps working (revisions add before they remove, so that rolling deploys can upgrade
  the database first), but nothing here changes such a schema.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import re
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SAWarning

from ..errors import ClawHooksError
from . import frozen

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

# Alembic is imported where a schema is changed or compared, not here: every process
# that loads the extension (web workers, ``worker --burst``) asks only "is the database
# at HEAD?", which one SELECT answers, and importing Alembic took longer than that.

#: Alembic's version table for our revisions; the host's ``alembic_version`` is its own.
VERSION_TABLE = "clawhooks_alembic_version"
#: Every table of flask-clawhooks starts with it, now and in later versions.
TABLE_PREFIX = "clawhooks_"
#: The PostgreSQL advisory lock held by the one ``db upgrade`` that runs at a time
#: (the bytes of "clawhook" as a bigint).
UPGRADE_LOCK_KEY = int.from_bytes(b"clawhook", "big")
#: Seconds between two tries of a second upgrader for that lock.
LOCK_POLL_SECONDS = 0.5
#: Where ``env.py``, ``script.py.mako`` and ``versions/`` live.
HERE = Path(__file__).resolve().parent
#: The command that brings a database to the head revision, as messages name it.
UPGRADE_COMMAND = "flask clawhooks db upgrade"

#: Databases made without a version table, by the releases that had none: the revision
#: each one's ``init-db`` schema is, and that schema.
UNVERSIONED_RELEASES: tuple[tuple[str, str, Callable[[], MetaData]], ...] = (
    ("0.1.0", "0001", frozen.schema_0_1),
    ("0.2.0", "0004", frozen.schema_0_2),
)


class SchemaError(ClawHooksError):
    """The webhook tables' schema cannot be used or changed as asked; the message says
    what to run."""


class SchemaNotCurrent(SchemaError):
    """The schema is behind the code (or missing): :attr:`status` says where it stands."""

    def __init__(self, status: SchemaStatus) -> None:
        super().__init__(status.message)
        self.status = status


class UnrecognisedSchema(SchemaError):
    """Tables without a version table that match no release's schema: nothing was
    changed, because no revision is known to apply to them."""


class SchemaState(enum.StrEnum):
    EMPTY = "empty"
    CURRENT = "current"
    BEHIND = "behind"
    UNVERSIONED = "unversioned"
    AHEAD = "ahead"


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database's webhook tables stand, compared with this code."""

    state: SchemaState
    #: The revision in the version table (for ``unversioned``: None).
    revision: str | None
    #: The revision this code needs.
    head: str
    #: The database, password hidden.
    database: str

    @property
    def usable(self) -> bool:
        """Whether this code can work on the tables (``current``, or ``ahead``: newer
        revisions only add what older code does not read)."""
        return self.state in (SchemaState.CURRENT, SchemaState.AHEAD)

    @property
    def message(self) -> str:
        where = f"The webhook tables in {self.database}"
        if self.state is SchemaState.CURRENT:
            return f"{where} are up to date (schema revision {self.head})."
        if self.state is SchemaState.EMPTY:
            return (f"{where} do not exist yet: run `flask clawhooks init-db` to create "
                    "them.")
        if self.state is SchemaState.AHEAD:
            return (f"{where} are at schema revision {self.revision}, newer than this "
                    f"version of flask-clawhooks knows (it needs {self.head}): they were "
                    "upgraded by a newer release. Deploy that release here too.")
        if self.state is SchemaState.UNVERSIONED:
            return (f"{where} were made by an older release and have no schema version; "
                    f"this version needs schema revision {self.head}. Run "
                    f"`{UPGRADE_COMMAND}` (`--sql` prints the SQL instead).")
        return (f"{where} are at schema revision {self.revision}; this version of "
                f"flask-clawhooks needs {self.head}. Run `{UPGRADE_COMMAND}` (`--sql` "
                "prints the SQL instead).")


# -- Alembic's pieces --------------------------------------------------------------------


def _revision_files() -> list[str]:
    return sorted(path.name[:4] for path in (HERE / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


#: The newest revision, read off the file names in ``versions/`` (``NNNN_message.py``,
#: each file's ``revision`` is its number; tests/upgrade/test_agreement.py holds them to
#: it, and to Alembic's own :func:`head`).
HEAD = _revision_files()[-1]


@functools.cache
def script_directory() -> ScriptDirectory:
    """The revisions shipped in the package (read once per process)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The revision the models are at.

    :raises SchemaError: if the revisions have more than one head (two revisions were
        added on the same parent: give one the other as ``down_revision``).
    """
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise SchemaError(
            f"The flask-clawhooks revisions have {len(heads)} heads ({', '.join(heads)}); "
            "each revision's down_revision must be the one before it.")
    return heads[0]


def alembic_config(connection: Connection | None = None, *,
                   output: TextIO | None = None,
                   on_step: Callable[[str, str], None] | None = None) -> Config:
    """An Alembic config for our revisions, run on ``connection`` (online) or written as
    SQL to ``output`` (offline, for ``db upgrade --sql``)."""
    from alembic.config import Config

    config = Config(output_buffer=output) if output is not None else Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = connection
    config.attributes["on_step"] = on_step
    return config


def _context(conn: Connection) -> MigrationContext:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})


def _database(conn: Connection) -> str:
    return conn.engine.url.render_as_string(hide_password=True)


def our_tables(conn: Connection) -> set[str]:
    """The names of our tables in the connection's schema, the version table and the
    partitions of a partitioned table (:func:`partition_names`) left out."""
    partitions = partition_names(conn)
    return {name for name in inspect(conn).get_table_names()
            if name.startswith(TABLE_PREFIX) and name != VERSION_TABLE
            and name not in partitions}


def partition_names(conn: Connection) -> set[str]:
    """Our tables that are partitions of another (``flask clawhooks partition``): part
    of the table they belong to, which alone the models and the revisions know."""
    if conn.dialect.name != "postgresql":
        return set()
    return set(conn.scalars(text(
        "SELECT relname FROM pg_class WHERE relispartition AND relkind IN ('r', 'p') "
        "AND starts_with(relname, :prefix) AND pg_table_is_visible(oid)"),
        {"prefix": TABLE_PREFIX}))


# -- where a database stands ---------------------------------------------------------------


def status(engine: Engine) -> SchemaStatus:
    """Where ``engine``'s database stands. Reads only the catalog and the version table."""
    with engine.connect() as conn:
        return connection_status(conn)


def connection_status(conn: Connection) -> SchemaStatus:
    target = HEAD
    database = _database(conn)
    tables = set(inspect(conn).get_table_names())
    if not any(name.startswith(TABLE_PREFIX) and name != VERSION_TABLE for name in tables):
        return SchemaStatus(SchemaState.EMPTY, None, target, database)
    revisions = ([row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
                 if VERSION_TABLE in tables else [])
    if not revisions:
        return SchemaStatus(SchemaState.UNVERSIONED, None, target, database)
    revision = revisions[0]
    if revision == target:
        state = SchemaState.CURRENT
    elif _known(revision) and _is_ancestor(revision, target):
        state = SchemaState.BEHIND
    else:
        state = SchemaState.AHEAD
    return SchemaStatus(state, revision, target, database)


def _is_ancestor(revision: str, target: str) -> bool:
    return any(r.revision == revision
               for r in script_directory().walk_revisions(base="base", head=target))


def _known(revision: str) -> bool:
    try:
        return bool(script_directory().get_revisions(revision))
    except Exception:  # alembic's ResolutionError and friends: not one of ours
        return False


def differences(conn: Connection, metadata: MetaData) -> list[str]:
    """What Alembic's autogenerate would change to make our tables in ``conn`` match
    ``metadata``, one line per difference; empty when they agree.

    Tables, columns (names, types, nullability), indexes (names, columns, uniqueness),
    unique constraints and foreign keys are compared, the version table left out. A
    table partitioned by ``flask clawhooks partition enable`` is the known variant: its
    partitioned table is compared, its partitions are not, and the attempts' foreign
    key to deliveries is not expected on it.
    SQLAlchemy cannot reflect SQLite's expression indexes, so on SQLite an expression
    index counts as present when an index of that name exists (checked here, since
    Alembic skips them with a warning).
    """
    partitions = partition_names(conn)

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table":
            return (bool(name) and str(name).startswith(TABLE_PREFIX)
                    and name != VERSION_TABLE and name not in partitions)
        return True

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={
        "version_table": VERSION_TABLE, "compare_type": True,
        "include_name": include_name, "target_metadata": metadata,
    })
    with warnings.catch_warnings():
        # "Skipped unsupported reflection of expression-based index" (SQLite), and
        # Alembic's note that it skips such indexes: both checked below instead.
        warnings.simplefilter("ignore", SAWarning)
        warnings.simplefilter("ignore", UserWarning)
        diffs = compare_metadata(context, metadata)
    if "clawhooks_attempt" in partitioned_tables(conn):  # the known variant
        diffs = [diff for diff in diffs if not _partitioned_attempts_fk(diff)]
    lines = [_describe(diff) for diff in diffs]
    if conn.dialect.name == "sqlite":
        lines += _sqlite_expression_indexes(conn, metadata)
    return lines + _index_conditions(conn, metadata)


def partitioned_tables(conn: Connection) -> set[str]:
    """Our tables that are partitioned (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return set()
    return set(conn.scalars(text(
        "SELECT relname FROM pg_class WHERE relkind = 'p' AND starts_with(relname, :prefix) "
        "AND pg_table_is_visible(oid)"), {"prefix": TABLE_PREFIX}))


def _partitioned_attempts_fk(diff: Any) -> bool:
    """Whether ``diff`` is the attempts' foreign key to deliveries, which partitioned
    attempts do without (:data:`flask_clawhooks.partitions.FOREIGN_KEY`)."""
    if isinstance(diff, list) or diff[0] != "add_fk":
        return False
    return bool(diff[1].parent.name == "clawhooks_attempt"
                and diff[1].referred_table.name == "clawhooks_delivery")


def _index_conditions(conn: Connection, metadata: MetaData) -> list[str]:
    """The partial indexes whose condition differs (Alembic compares columns only)."""
    option = f"{conn.dialect.name}_where"
    inspector = inspect(conn)
    present = our_tables(conn)
    found = []
    for table in metadata.tables.values():
        if table.name not in present:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            reflected = {ix["name"]: ix for ix in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in reflected:
                continue
            want = index.dialect_kwargs.get(option)
            options: dict[str, Any] = dict(reflected[index.name].get("dialect_options") or {})
            have = options.get(option)
            if _condition(want) != _condition(have):
                found.append(f"index condition: {index.name} on {table.name} is "
                             f"WHERE {_shown(have)}, the models say WHERE {_shown(want)}")
    return found


def _shown(clause: Any) -> str:
    return "(none)" if clause is None else str(clause)


def _condition(clause: Any) -> str:
    """A partial index's condition, written the same whichever way the database
    spells it back (PostgreSQL adds casts and parentheses)."""
    if clause is None:
        return ""
    return re.sub(r"::[a-z ]+|[()\s]", "", str(clause).lower())


def _sqlite_expression_indexes(conn: Connection, metadata: MetaData) -> list[str]:
    present = {row[0] for row in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}
    missing = []
    for table in metadata.tables.values():
        for index in table.indexes:
            if any(not hasattr(expr, "name") for expr in index.expressions) and (
                    index.name not in present):
                missing.append(f"add_index: {index.name} on {table.name}")
    return missing


def _describe(diff: Any) -> str:
    """One line for one of Alembic's differences, naming the table and what differs."""
    if isinstance(diff, list):  # modify_type, modify_nullable...: a list of tuples
        return "; ".join(_describe(item) for item in diff)
    kind = diff[0]
    if kind in ("add_column", "remove_column"):
        _, _, table, column = diff
        return f"{kind}: {table}.{column.name}"
    if kind.startswith("modify_"):
        _, _, table, column, _, old, new = diff
        return f"{kind}: {table}.{column} is {old!r}, the models say {new!r}"
    item = diff[1]
    table = getattr(getattr(item, "table", None), "name", None)
    name = getattr(item, "name", None) or repr(item)
    return f"{kind}: {name}" + (f" on {table}" if table and table != name else "")


def recognise(conn: Connection) -> tuple[str, str]:
    """The release and revision whose schema the un-versioned tables in ``conn`` are.

    :raises UnrecognisedSchema: when they match no release's schema exactly; the message
        lists how they differ from the closest one.
    """
    closest: tuple[str, list[str]] | None = None
    for release, revision, schema in UNVERSIONED_RELEASES:
        found = differences(conn, schema())
        if not found:
            return release, revision
        if closest is None or len(found) < len(closest[1]):
            closest = (release, found)
    assert closest is not None
    release, found = closest
    shown = "\n  ".join(found[:20])
    raise UnrecognisedSchema(
        f"The webhook tables in {_database(conn)} have no schema version and match no "
        f"release's schema, so no upgrade is known to apply; nothing was changed. "
        f"Closest is {release}, which differs in:\n  {shown}\n"
        "If they were changed by hand, undo those changes (or make them match one "
        "release) and run the upgrade again; `flask clawhooks db stamp REVISION` records "
        "a revision you have checked yourself.")


# -- changing it ----------------------------------------------------------------------------


def create_all(engine: Engine, metadata: MetaData) -> SchemaStatus:
    """``init-db``: on an empty database create the tables and record the head revision;
    at head, create any missing table; otherwise change nothing.

    :raises SchemaNotCurrent: when the tables are behind or un-versioned.
    """
    with engine.begin() as conn:
        found = connection_status(conn)
        if found.state is SchemaState.EMPTY:
            metadata.create_all(conn)
            _record(conn, found.head)
            return SchemaStatus(SchemaState.CURRENT, found.head, found.head, found.database)
        if found.state is SchemaState.CURRENT:
            metadata.create_all(conn)
            return found
    raise SchemaNotCurrent(found)


def stamp(engine: Engine, revision: str) -> str:
    """Record ``revision`` in the version table without running anything; returns it."""
    resolved = script_directory().get_revision(revision)
    if resolved is None:
        raise SchemaError("Stamp which revision? Name one, or 'head'.")
    with engine.begin() as conn:
        _record(conn, resolved.revision)
    return resolved.revision


def upgrade(engine: Engine, target: str = "head", *,
            say: Callable[[str], None] = print) -> tuple[str | None, str]:
    """Bring the tables to ``target``: the revisions not yet run, each in its own
    transaction (index builds on PostgreSQL outside one, concurrently).

    Un-versioned tables are recognised first (:func:`recognise`) and recorded at their
    release's revision. On PostgreSQL one upgrader runs at a time: a second waits for the
    first's advisory lock, then finds nothing left to do.

    :returns: the revision the tables were at (None: empty) and the one they are at now.
    :raises UnrecognisedSchema: when un-versioned tables match no release; nothing changed.
    :raises SchemaError: when the database is at a revision this code does not know.
    """
    from alembic import command

    with engine.connect() as conn, _one_upgrader(conn, say), _sqlite_foreign_keys_off(conn):
        start = _starting_point(conn, say)
        conn.commit()

        def step(revision: str, doc: str) -> None:
            say(f"  {revision}: {doc}")

        command.upgrade(alembic_config(conn, on_step=step), target)
        if conn.in_transaction():
            conn.commit()
        now = _context(conn).get_current_heads()
        conn.commit()
    return start, now[0] if now else target


def upgrade_sql(engine: Engine, target: str, output: TextIO) -> None:
    """Write the SQL ``db upgrade`` would run, from where the database stands now, to
    ``output``, for a DBA to review and run. The backfill of revision ``0003`` is one
    ``UPDATE`` there: batches need to read the table as they go."""
    with engine.connect() as conn:
        found = connection_status(conn)
        start = found.revision
        if found.state is SchemaState.UNVERSIONED:
            release, start = recognise(conn)
            output.write(f"-- Tables made by flask-clawhooks {release}: "
                         f"recorded as revision {start} first.\n")
        elif found.state is SchemaState.AHEAD:
            raise SchemaError(found.message)
        conn.rollback()
    from alembic import command

    config = alembic_config(output=output)
    config.set_main_option("dialect_name", engine.dialect.name)
    if found.state is SchemaState.UNVERSIONED and start is not None:
        command.stamp(config, start, sql=True)
    command.upgrade(config, f"{start}:{target}" if start else target, sql=True)


def _record(conn: Connection, revision: str | None) -> None:
    """Make ``revision`` the one row of the version table (None: no row)."""
    context = _context(conn)
    if context.get_current_heads():
        conn.execute(text(f"DELETE FROM {VERSION_TABLE}"))
    if revision is not None:
        context.stamp(script_directory(), revision)


def _starting_point(conn: Connection, say: Callable[[str], None]) -> str | None:
    found = connection_status(conn)
    if found.state is SchemaState.AHEAD:
        raise SchemaError(found.message)
    if found.state is SchemaState.EMPTY:
        _record(conn, None)  # a version row left behind by dropped tables
        return None
    if found.state is SchemaState.UNVERSIONED:
        release, revision = recognise(conn)
        say(f"Recognised the schema of flask-clawhooks {release} (revision {revision}).")
        _record(conn, revision)
        return revision
    return found.revision


@contextlib.contextmanager
def _one_upgrader(conn: Connection, say: Callable[[str], None]) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock :data:`UPGRADE_LOCK_KEY` meanwhile.

    A session lock, not a transaction's: it must outlast the commits between revisions
    and the index builds that run outside any transaction.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    key = {"key": UPGRADE_LOCK_KEY}
    got = conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), key)
    conn.commit()
    if not got:
        say("Another upgrade of the webhook tables is running; waiting for it to finish.")
    while not got:
        # Polled, each try its own short transaction, rather than waited for in one
        # blocking pg_advisory_lock(): the first upgrader's CREATE INDEX CONCURRENTLY waits
        # for every transaction older than it, so a second upgrader blocked in a statement
        # that waits for the first one's lock made a deadlock.
        time.sleep(LOCK_POLL_SECONDS)
        got = conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), key)
        conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
        conn.commit()


@contextlib.contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite's batch mode copies a table, drops it and renames the copy; with foreign
    keys enforced, that drop would delete the rows that refer to it (``ON DELETE
    CASCADE``). The pragma only takes effect outside a transaction, hence here."""
    if conn.dialect.name != "sqlite":
        yield
        return
    enforced = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        if enforced:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()
