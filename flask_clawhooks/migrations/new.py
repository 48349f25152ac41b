"""``python -m flask_clawhooks.migrations.new "what changes"``: start a revision.

Brings a scratch SQLite database to the head revision, lets Alembic's autogenerate
compare it with the models and writes ``versions/NNNN_what_changes.py`` (the next
number) with what it found. That is a draft: read it and edit it by hand, as the
docstring of :mod:`flask_clawhooks.migrations` says, before committing it with the
model change.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from . import schema


def next_revision_id() -> str:
    numbers = [int(r.revision) for r in schema.script_directory().walk_revisions()
               if r.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def main(argv: list[str] | None = None) -> int:
    message = " ".join(sys.argv[1:] if argv is None else argv).strip()
    if not message:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'head.sqlite'}")
        try:
            schema.upgrade(engine, say=lambda _line: None)
            with engine.connect() as conn:
                scripts = command.revision(schema.alembic_config(conn), message=message,
                                           autogenerate=True, rev_id=next_revision_id())
        finally:
            engine.dispose()
    for script in scripts if isinstance(scripts, list) else [scripts]:
        if script is not None:
            print(f"Wrote {script.path}: read and edit it before committing it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
