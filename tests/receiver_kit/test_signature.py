"""verify_signature and sign: published vectors, the seed's own code, and every rejection."""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

import receiver_kit as rk

from ..fixtures import seed_verify_signature
from ..processes import run
from .conftest import SECRET, event_body

GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"




# The Node.js example from the same page, verbatim, run with the parsed body re-serialized.
NODE_VERIFY = """
const crypto = require('crypto');
function verifySignature(payload, signature, secret) {
const expected = crypto
.createHmac('sha256', secret)
.update(payload)
.digest('hex');
return `sha256=${expected}` === signature;
}
const [body, signature, secret] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const req = { body: JSON.parse(body) };
process.stdout.write(String(verifySignature(JSON.stringify(req.body), signature, secret)));
"""


def test_github_published_test_vector_verifies() -> None:
    assert rk.verify_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, GITHUB_SECRET) is True
    assert rk.sign(GITHUB_PAYLOAD, GITHUB_SECRET) == GITHUB_SIGNATURE


def test_sign_agrees_with_the_seed_python_example() -> None:
    body = event_body(content="Grüße, 👋 — \"quoted\"")
    header = rk.sign(body, SECRET)
    assert seed_verify_signature(body.decode("utf-8"), header, SECRET) is True
    assert seed_verify_signature(body.decode("utf-8") + " ", header, SECRET) is False


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_sign_agrees_with_the_seed_node_example_that_reserializes_the_body() -> None:
    body = event_body(content="Grüße, 👋", tokens={"input": 45, "output": 15})
    header = rk.sign(body, SECRET)
    stdin = json.dumps([body.decode("utf-8"), header, SECRET])
    result = run(["node", "-e", NODE_VERIFY], input=stdin, capture_output=True,
                 text=True, encoding="utf-8", check=True, timeout=30)
    assert result.stdout == "true"


def test_bytes_secret_and_bytearray_body_are_accepted() -> None:
    header = rk.sign(GITHUB_PAYLOAD, GITHUB_SECRET.encode())
    assert rk.verify_signature(bytearray(GITHUB_PAYLOAD), header, GITHUB_SECRET.encode())


@pytest.mark.parametrize(
    ("body", "header", "secrets"),
    [
        pytest.param(b"Hello, World?", GITHUB_SIGNATURE, GITHUB_SECRET, id="tampered-body"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE, "wrong secret", id="wrong-secret"),
        pytest.param(GITHUB_PAYLOAD, None, GITHUB_SECRET, id="missing-header"),
        pytest.param(GITHUB_PAYLOAD, "", GITHUB_SECRET, id="empty-header"),
        pytest.param(GITHUB_PAYLOAD, "sha256=", GITHUB_SECRET, id="prefix-only"),
        pytest.param(b"", GITHUB_SIGNATURE, GITHUB_SECRET, id="empty-body-other-signature"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE + "00", GITHUB_SECRET, id="trailing-hex"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE + " ", GITHUB_SECRET, id="trailing-space"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE + "\n", GITHUB_SECRET, id="trailing-nl"),
        pytest.param(GITHUB_PAYLOAD, " " + GITHUB_SIGNATURE, GITHUB_SECRET, id="leading-space"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE + ",sha256=00", GITHUB_SECRET,
                     id="two-signatures"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE[:-1], GITHUB_SECRET, id="too-short"),
        pytest.param(GITHUB_PAYLOAD, GITHUB_SIGNATURE[7:], GITHUB_SECRET, id="no-prefix"),
        pytest.param(GITHUB_PAYLOAD, "SHA256=" + GITHUB_SIGNATURE[7:], GITHUB_SECRET,
                     id="uppercase-prefix"),
        pytest.param(GITHUB_PAYLOAD, "sha256=" + GITHUB_SIGNATURE[7:].upper(), GITHUB_SECRET,
                     id="uppercase-hex"),
        pytest.param(GITHUB_PAYLOAD, "sha1=" + hmac.new(GITHUB_SECRET.encode(), GITHUB_PAYLOAD,
                                                         hashlib.sha1).hexdigest(),
                     GITHUB_SECRET, id="sha1-header"),
        pytest.param(GITHUB_PAYLOAD, "sha256=" + "٠" * 64, GITHUB_SECRET, id="unicode-digits"),
    ],
)
def test_bad_signatures_are_rejected(body: bytes, header: str | None, secrets: str) -> None:
    assert rk.verify_signature(body, header, secrets) is False


def test_rotation_accepts_a_signature_from_either_secret() -> None:
    body = event_body()
    secrets = ["old-secret", "new-secret"]
    assert rk.verify_signature(body, rk.sign(body, "old-secret"), secrets)
    assert rk.verify_signature(body, rk.sign(body, "new-secret"), secrets)
    assert rk.verify_signature(body, rk.sign(body, "new-secret"), ("new-secret",))
    assert not rk.verify_signature(body, rk.sign(body, "third-secret"), secrets)


def test_text_body_is_refused_so_nobody_verifies_reserialized_json() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        rk.verify_signature("Hello, World!", GITHUB_SIGNATURE, GITHUB_SECRET)  # type: ignore[arg-type]


@pytest.mark.parametrize("secrets", ["", b"", [], ["ok", ""], [None]])
def test_missing_or_empty_secret_is_a_configuration_error(secrets: object) -> None:
    with pytest.raises(rk.ConfigurationError):
        rk.verify_signature(GITHUB_PAYLOAD, GITHUB_SIGNATURE, secrets)  # type: ignore[arg-type]


@given(header=st.one_of(
    st.text(),
    st.text(alphabet="sha256=0123456789abcdefABCDEF \t\n,", max_size=80),
    st.from_regex(r"sha256=[0-9a-f]{64}", fullmatch=True),
    st.none(),
))
def test_any_header_text_gives_a_bool_and_never_raises(header: str | None) -> None:
    result = rk.verify_signature(GITHUB_PAYLOAD, header, GITHUB_SECRET)
    assert result is (header == GITHUB_SIGNATURE)


@given(body=st.binary(), secret=st.text(min_size=1), other=st.binary(min_size=1))
def test_sign_then_verify_round_trips_and_any_change_breaks_it(
    body: bytes, secret: str, other: bytes
) -> None:
    header = rk.sign(body, secret)
    assert rk.verify_signature(body, header, secret)
    assert not rk.verify_signature(body + other, header, secret)
