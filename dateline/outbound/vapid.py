"""VAPID (RFC 8292): how push services know that a notification comes from the server the reader
subscribed with. The browser's subscription is bound to our public key (the page hands it to
`pushManager.subscribe`); each request to a push service carries

    Authorization: vapid t=<JWT, ES256, {"aud": "<the endpoint's origin>", "exp": …, "sub": …}>,
                   k=<the public key, base64url of its 65-byte uncompressed point>

The key is `vapid_private_key` when set, else made once and kept in the store's instance values,
so every node (and every restart) signs with the same key: a new key would orphan every
subscription made with the old one."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dateline.config import Settings
from dateline.errors import Invalid
from dateline.store import Store

INSTANCE_NAME = "vapid_private_key"
# Push services refuse a JWT that expires more than 24 hours ahead; a token is reused for an
# hour per push service, and made to last 12.
_LIFETIME = 12 * 3600
_REUSE = 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """base64url, with or without its padding (browsers send it without)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_private_key() -> str:
    """A new VAPID key, as base64url of its 32-byte private value."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big"))


def load_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from PEM or from base64url of its 32 bytes (what web-push tools
    print)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(text.encode(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
                return key
            raise ValueError("not a P-256 key")
        raw = unb64url(text)
        if len(raw) != 32:
            raise ValueError("not 32 bytes")
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except ValueError:
        raise Invalid(
            "vapid_private_key is not a P-256 private key (PEM, or base64url of its 32 bytes); "
            "make one with `dateline push-keys`",
            field="vapid_private_key",
        ) from None


def public_key_of(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


class Vapid:
    """Signs push requests with one key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, subject: str) -> None:
        if subject and not subject.startswith(("mailto:", "https://")):
            raise Invalid(
                f"vapid_subject {subject!r} must be mailto:ADDRESS or an https:// URL",
                field="vapid_subject",
            )
        self.key = key
        self.subject = subject
        self.public_key = public_key_of(key)
        self._tokens: dict[str, tuple[str, float]] = {}

    def authorization(self, endpoint: str, now: float | None = None) -> str:
        """The Authorization header for a request to `endpoint`."""
        now = time.time() if now is None else now
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        token, made = self._tokens.get(audience, ("", 0.0))
        if not token or now - made > _REUSE:
            claims: dict[str, str | int] = {"aud": audience, "exp": int(now) + _LIFETIME}
            if self.subject:
                claims["sub"] = self.subject
            token = jwt.encode(claims, self.key, algorithm="ES256")
            self._tokens[audience] = (token, now)
        return f"vapid t={token}, k={self.public_key}"


async def vapid_for(store: Store, settings: Settings) -> Vapid:
    """The instance's VAPID signer: the configured key, or the one kept in the store."""
    text = settings.vapid_private_key or await store.instance_value(INSTANCE_NAME, new_private_key)
    return Vapid(load_private_key(text), settings.vapid_subject)
