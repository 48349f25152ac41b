"""The reference pages agree with the code: settings, events, signatures, test names."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from flask_clawhooks.catalog import CATALOG, TEST_EVENT
from flask_clawhooks.config import DEFAULTS
from flask_clawhooks.samples import SAMPLES
from flask_clawhooks.signing import envelope_bytes, request_headers

from .rst import DOCS, code_blocks

ROOT = DOCS.parent


def config_entries() -> dict[str, str]:
    """``.. data:: KEY`` entries of config.rst and the text of each."""
    text = (DOCS / "config.rst").read_text(encoding="utf-8")
    parts = re.split(r"^\.\. data:: (\S+)\s*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_setting_in_defaults_has_an_entry_in_config_rst():
    entries = config_entries()
    missing = [key for key in DEFAULTS if key not in entries]
    assert not missing, f"config.rst has no '.. data::' entry for {missing}"
    unknown = [key for key in entries if key not in DEFAULTS]
    assert not unknown, f"config.rst documents keys that DEFAULTS does not have: {unknown}"


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_config_rst_states_the_default_of(key):
    entry = config_entries().get(key, "")
    found = re.search(r"Default: ``(.+?)``", entry)
    assert found, f"the entry of {key} in config.rst says no 'Default: ``...``'"
    assert ast.literal_eval(found.group(1)) == DEFAULTS[key], (
        f"config.rst says {key} defaults to {found.group(1)}, DEFAULTS has {DEFAULTS[key]!r}")


def event_examples() -> list[dict]:
    """The JSON blocks written in events.rst and the samples it renders (``clawhooks-sample``)."""
    text = (DOCS / "events.rst").read_text(encoding="utf-8")
    written = [json.loads(b.code) for b in code_blocks("events.rst") if b.language == "json"]
    rendered = re.findall(r"^\.\. clawhooks-sample:: (\S+)$", text, flags=re.MULTILINE)
    return written + [SAMPLES[name] for name in rendered]


def test_events_rst_shows_an_envelope_for_every_catalog_type_and_the_test_event():
    examples = event_examples()
    shown = {e["type"] for e in examples}
    assert shown == {t.name for t in CATALOG} | {TEST_EVENT}
    assert set(SAMPLES) == shown, "every sample is shown, and only samples of known types"
    text = (DOCS / "events.rst").read_text(encoding="utf-8")
    for name in shown:
        assert f".. _event-{name}:" in text, f"no section label for {name}"
        assert f".. clawhooks-sample:: {name}\n" in text, f"the sample of {name} is not shown"


def test_events_rst_shows_the_schema_of_every_type_after_its_sample():
    text = (DOCS / "events.rst").read_text(encoding="utf-8")
    for name in [*(t.name for t in CATALOG), TEST_EVENT]:
        assert (f".. clawhooks-sample:: {name}\n\nSchema of ``data``:\n\n"
                f".. clawhooks-schema:: {name}\n") in text, f"the schema of {name} is not shown"


def test_every_event_example_is_an_envelope_the_sender_would_write():
    for example in event_examples():
        assert list(example) == ["id", "type", "created_at", "data"], example
        assert example["id"].startswith("evt_")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", example["created_at"])
        assert isinstance(example["data"], dict)
        body = envelope_bytes(example["id"], example["type"], example["created_at"],
                              example["data"])
        assert json.loads(body) == example


def test_the_example_headers_in_events_rst_are_what_the_sender_computes():
    text = (DOCS / "events.rst").read_text(encoding="utf-8")
    [http] = [b for b in code_blocks("events.rst") if b.language == "http"]
    shown = dict(line.split(": ", 1) for line in http.code.splitlines()[1:])
    [body] = [b.code for b in code_blocks("events.rst") if b.language == "literal"]
    assert body.encode() in text.encode()
    event = json.loads(body)
    assert body.encode() == envelope_bytes(event["id"], event["type"], event["created_at"],
                                           event["data"]), "the body shown is not compact"
    computed = request_headers(["your-webhook-secret"], body.encode(), event["id"],
                               event["type"], shown["X-ClawBook-Delivery"],
                               int(shown["webhook-timestamp"]))
    computed["User-Agent"] = shown["User-Agent"]  # the version moves; the rest may not
    assert shown == computed


def named_tests() -> set[str]:
    found = set()
    for page in DOCS.glob("*.rst"):
        found |= set(re.findall(r"(tests/[\w/]+\.py)::(\w+)", page.read_text("utf-8")))
    return {f"{path}::{name}" for path, name in found}


def test_every_test_the_docs_name_exists():
    named = named_tests()
    assert len(named) >= 20, "security.rst should name the tests behind its promises"
    missing = []
    for reference in sorted(named):
        path, name = reference.split("::")
        source = ROOT / path
        tree = ast.parse(source.read_text("utf-8")) if source.exists() else ast.Module([], [])
        names = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if name not in names:
            missing.append(reference)
    assert not missing, f"the docs name tests that do not exist: {missing}"


def test_changes_rst_has_a_section_for_the_current_version():
    from flask_clawhooks import __version__

    text = Path(ROOT / "CHANGES.rst").read_text("utf-8")
    assert re.search(rf"^Version {re.escape(__version__)}\n-+\n\n(Unreleased|Released \S+)",
                     text, flags=re.MULTILINE)
