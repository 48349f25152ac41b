"""The webhook tables' migrations: an Alembic environment of the package's own.

``env.py`` and ``versions/`` are Alembic's; :mod:`.schema` says where a database stands
and moves it (``flask clawhooks db …``, :mod:`.commands`); :mod:`.gate` keeps the app
and the worker off a schema that is behind; :mod:`.host` keeps a host's own Alembic away
from our tables; :mod:`.frozen` holds the schemas of released versions.

Adding a revision (every change to ``models.py`` comes with one, in the same commit):

1. Change the models.
2. ``python -m flask_clawhooks.migrations.new "what changes"`` writes
   ``versions/NNNN_what_changes.py`` after the current head, with what Alembic's
   autogenerate finds (on a SQLite database brought to the head revision).
3. Read and edit it by hand: name constraints and indexes as the models do, add data
   moves in batches, put ``CREATE INDEX`` on big tables in a revision of its own with
   ``postgresql_concurrently=True`` inside ``op.get_context().autocommit_block()``, and
   prefer adding to removing, so that code one release older keeps working during a
   rolling deploy.
4. ``python -m pytest tests/upgrade`` proves the models and the revisions agree on SQLite
   and PostgreSQL; it fails, naming each difference, when a model changes without one.
"""
