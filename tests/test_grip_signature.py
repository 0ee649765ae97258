"""Which live requests count as coming through the GRIP proxy: only those whose Grip-Sig
verifies, with Pushpin's shared secret (HS256) or Fastly Fanout's public key (ES256)."""

from __future__ import annotations

import socket
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.requests import Request

from dateline.config import Settings
from dateline.errors import Invalid
from dateline.web.live.grip import (
    GripPublisher,
    check_settings,
    proxy_resume_point,
    through_proxy,
)

SECRET = "a-shared-secret-of-at-least-32-characters"
URLS = "http://127.0.0.1:5561/publish/"


def _request(**headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/b/live", "headers": raw})


def _claims(**extra: Any) -> dict[str, Any]:
    return {"iss": "pushpin", "exp": int(time.time()) + 600, **extra}


def _grip(key: str) -> Settings:
    return Settings(push="grip", grip_publish_urls=URLS, grip_key=key)


def _ec_pair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_a_shared_secret_signature_is_checked() -> None:
    settings = _grip(SECRET)
    good = jwt.encode(_claims(), SECRET, algorithm="HS256")
    assert through_proxy(_request(grip_sig=good), settings)
    forged = jwt.encode(_claims(), "another-secret-of-at-least-32-characters", algorithm="HS256")
    assert not through_proxy(_request(grip_sig=forged), settings)
    expired = jwt.encode(_claims(exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    assert not through_proxy(_request(grip_sig=expired), settings)
    no_expiry = jwt.encode({"iss": "pushpin"}, SECRET, algorithm="HS256")
    assert not through_proxy(_request(grip_sig=no_expiry), settings)
    assert not through_proxy(_request(grip_sig="not.a.jwt"), settings)
    assert not through_proxy(_request(), settings)
    # Direct mode never takes a Grip-Sig, however good.
    assert not through_proxy(_request(grip_sig=good), Settings(grip_key=SECRET))


def test_a_public_key_checks_an_es256_signature() -> None:
    private, public = _ec_pair()
    settings = _grip(public)
    signed = jwt.encode(_claims(iss="fastly"), private, algorithm="ES256")
    assert through_proxy(_request(grip_sig=signed), settings)
    other, _ = _ec_pair()
    assert not through_proxy(
        _request(grip_sig=jwt.encode(_claims(), other, algorithm="ES256")), settings
    )
    # An HS256 token "signed" with the public key as a secret is not taken.
    confused = jwt.encode(_claims(), "x" * 64, algorithm="HS256")
    assert not through_proxy(_request(grip_sig=confused), settings)


def test_keys_that_cannot_work_are_refused_at_start() -> None:
    check_settings(_grip(SECRET))
    check_settings(_grip(_ec_pair()[1]))
    with pytest.raises(Invalid, match="not an EC public key"):
        check_settings(_grip("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----"))
    with pytest.raises(Invalid, match="at least 32 characters"):
        check_settings(_grip("changeme"))


@pytest.mark.parametrize(
    ("header", "after", "expected"),
    [
        (None, 7, 7),
        ("blog-3; last-id=12", 7, 12),
        ("other; last-id=99, blog-3; last-id=12", 7, 12),
        ("blog-4; last-id=99", 7, 7),  # another blog's channel
        ("blog-3; last-id=99999999999", 7, 7),  # out of range: the reader's own point
        ("blog-3; last-id=abc", 7, 7),
    ],
)
def test_the_proxys_last_id_is_where_a_recovery_resumes(
    header: str | None, after: int, expected: int
) -> None:
    request = _request(grip_last=header) if header else _request()
    assert proxy_resume_point(request, 3, after) == expected


async def test_a_proxy_that_is_down_does_not_hold_back_later_events() -> None:
    """The first batch to an unreachable proxy is retried for retry_seconds; later ones get a
    single try until the proxy answers again, so an outage never queues live delivery."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/publish/"
        publisher = GripPublisher(None, [url], retry_seconds=0.6)  # type: ignore[arg-type]
        item = [{"channel": "blog-1", "id": "1", "prev-id": "0", "formats": {}}]
        started = time.monotonic()
        await publisher._publish(item)
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(5):
            await publisher._publish(item)
        later = time.monotonic() - started
    await publisher.close()
    assert first >= 0.3 and later < 0.3 and publisher.given_up == 6
