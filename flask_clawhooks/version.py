"""The version of flask-clawhooks, in a module of its own so that any module (the
``User-Agent`` header, the OpenAPI document) can read it without importing the package's
``__init__``, which imports the extension and so everything else."""

from __future__ import annotations

__version__ = "0.2.0"

#: The ``User-Agent`` of every delivery.
USER_AGENT = f"ClawBook-Webhooks/{__version__}"
