"""0.3.0: hourly roll-ups of each webhook's attempts, backfilled from the attempts

Statistics, the health card and the health check read ``clawhooks_rollup`` (one row per
webhook and clock hour) instead of scanning attempts. The table is created, emptied (a
backfill interrupted earlier starts again from nothing, so nothing is counted twice)
and filled from the finished attempts in batches of :data:`BATCH` attempts in id order,
each committed on its own: no lock is held for long on a large table. Workers of this
version wait for the upgrade to finish (the schema gate), so nothing else writes
roll-ups meanwhile; attempts that workers of the previous version finish while the
backfill runs, in a batch it has already passed, are not counted.

The latency buckets are written out here as they were in 0.3.0: never import them.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Attempts per batch of the backfill.
BATCH = 20000
LATENCY_BOUNDS = (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
                  1000, 1500, 2000, 3000, 5000, 7000, 10000, 15000, 20000, 30000)
BUCKETS = [f"ms_le_{bound}" for bound in LATENCY_BOUNDS] + ["ms_over"]
COUNTS = ["attempts", "successes", "failed", *BUCKETS]


def upgrade() -> None:
    op.create_table(
        "clawhooks_rollup",
        sa.Column("webhook_id", sa.String(length=40), nullable=False),
        sa.Column("hour", sa.DateTime(), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS],
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("first_failure_at", sa.DateTime(), nullable=True),
        sa.Column("max_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("webhook_id", "hour", name=op.f("pk_clawhooks_rollup")),
        if_not_exists=True,
    )
    postgres = op.get_context().dialect.name == "postgresql"
    if context.is_offline_mode():  # --sql: no reading as it goes, so one statement
        op.execute(_fill(postgres, ""))
        return
    with op.get_context().autocommit_block():
        conn = op.get_bind()
        conn.execute(sa.text("DELETE FROM clawhooks_rollup"))
        fill = sa.text(_fill(postgres, "id >= :first AND id <= :last"))
        after = ""
        while True:
            ids = conn.scalars(sa.text(
                "SELECT id FROM clawhooks_attempt WHERE id > :after ORDER BY id LIMIT :n"),
                {"after": after, "n": BATCH}).all()
            if not ids:
                break
            conn.execute(fill, {"first": ids[0], "last": ids[-1]})  # commits on its own
            after = ids[-1]


def _fill(postgres: bool, where: str) -> str:
    """Roll up the finished attempts matching ``where``, adding to rows already there."""
    hour = ("date_trunc('hour', created_at)" if postgres
            else "strftime('%Y-%m-%d %H:00:00.000000', created_at)")
    answered = "response_code IS NOT NULL"
    ok, failure = "outcome = 'success'", "outcome IN ('retry', 'failed')"
    buckets = [f"SUM(CASE WHEN {answered} AND response_time_ms <= {bound}"
               + (f" AND response_time_ms > {low}" if low is not None else "")
               + " THEN 1 ELSE 0 END)"
               for low, bound in zip([None, *LATENCY_BOUNDS[:-1]], LATENCY_BOUNDS, strict=True)]
    buckets.append(f"SUM(CASE WHEN {answered} AND response_time_ms > {LATENCY_BOUNDS[-1]} "
                   "THEN 1 ELSE 0 END)")
    columns = ["webhook_id", "hour", *COUNTS, "last_success_at", "last_failure_at",
               "max_ms", "first_failure_at"]
    values = ["webhook_id", hour, "COUNT(*)", f"SUM(CASE WHEN {ok} THEN 1 ELSE 0 END)",
              "SUM(CASE WHEN outcome = 'failed' THEN 1 ELSE 0 END)", *buckets,
              f"MAX(CASE WHEN {ok} THEN created_at END)",
              f"MAX(CASE WHEN {failure} THEN created_at END)",
              f"MAX(CASE WHEN {answered} THEN response_time_ms END)",
              f"MIN(CASE WHEN {failure} THEN created_at END)"]
    condition = "outcome IN ('success', 'retry', 'failed') AND webhook_id IS NOT NULL"
    if where:
        condition += f" AND {where}"

    def keep(column: str, newer: str) -> str:
        old, new = f"clawhooks_rollup.{column}", f"excluded.{column}"
        return (f"{column} = CASE WHEN {old} IS NULL OR {new} {newer} {old} "
                f"THEN {new} ELSE {old} END")

    sets = [f"{c} = clawhooks_rollup.{c} + excluded.{c}" for c in COUNTS]
    sets += [keep("last_success_at", ">"), keep("last_failure_at", ">"), keep("max_ms", ">"),
             keep("first_failure_at", "<")]
    return (f"INSERT INTO clawhooks_rollup ({', '.join(columns)})\n"
            f"SELECT {', '.join(values)}\nFROM clawhooks_attempt WHERE {condition}\n"
            f"GROUP BY webhook_id, {hour}\n"
            f"ON CONFLICT (webhook_id, hour) DO UPDATE SET {', '.join(sets)}")


def downgrade() -> None:
    op.drop_table("clawhooks_rollup")
