"""A local push service (RFC 8030), on a free port: what Chromium's and Firefox's push services do
with Dateline's requests, checked as strictly as they check them, so nothing in the tests reaches
the real ones.

Each `Browser` is a subscription made as a browser makes one: its own P-256 key pair and 16-byte
auth secret, and an endpoint on this service. A request to an endpoint is accepted only with a
valid VAPID `Authorization` (RFC 8292: an ES256 JWT signed by the key in `k=`, `aud` the
endpoint's origin, `exp` within 24 hours, `sub` a mailto: or https: contact), and its body is
decrypted here, by hand from RFC 8291 (ECDH, HKDF, AES-128-GCM), with the browser's private key:
not with the library Dateline encrypts with. What a browser would have been handed is kept in
`received`. `answers[name]` lists the statuses to answer next (201 when it runs out)."""

from __future__ import annotations

import base64
import json
import secrets
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def _hkdf(salt: bytes, info: bytes, length: int, secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)


@dataclass
class Browser:
    """One browser's push subscription to one blog."""

    name: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    def subscription(self) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives the page."""
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(_point(self.key.public_key())), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 §3.4 and RFC 8188 §2: the header (salt, record size, the sender's key), then
        one record, padded and ending with the delimiter 0x02."""
        salt, record_size, id_length = body[:16], struct.unpack("!L", body[16:20])[0], body[20]
        sender = body[21 : 21 + id_length]
        ciphertext = body[21 + id_length :]
        assert id_length == 65 and sender[0] == 4, "keyid must be the sender's P-256 point"
        assert len(ciphertext) <= record_size, "one record is enough for a notification"
        sender_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender)
        shared = self.key.exchange(ec.ECDH(), sender_key)
        info = b"WebPush: info\x00" + _point(self.key.public_key()) + sender
        ikm = _hkdf(self.auth, info, 32, shared)
        cek = _hkdf(salt, b"Content-Encoding: aes128gcm\x00", 16, ikm)
        nonce = _hkdf(salt, b"Content-Encoding: nonce\x00", 12, ikm)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None).rstrip(b"\x00")
        assert padded.endswith(b"\x02"), "the last record ends with the delimiter 0x02"
        return padded[:-1]


@dataclass
class Received:
    browser: str
    payload: dict[str, Any]
    claims: dict[str, Any]
    public_key: str
    headers: dict[str, str]
    at: float


class PushService:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self.requests: list[tuple[str, int, float]] = []  # (browser, status answered, when)
        self.answers: dict[str, list[int]] = {}
        self.refusals: list[str] = []  # requests refused for a bad VAPID header or body
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def browser(self, name: str) -> Browser:
        found = Browser(name, f"{self.origin}/push/{name}")
        self.browsers[name] = found
        return found

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to(self, name: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.browser == name]

    def _check(self, headers: Any, body: bytes, browser: Browser) -> Received:
        scheme, _, params = headers.get("Authorization", "").partition(" ")
        assert scheme == "vapid", "Authorization must be 'vapid t=…, k=…'"
        fields = dict(part.strip().split("=", 1) for part in params.split(","))
        public_key = fields["k"]
        verifying = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), unb64url(public_key)
        )
        claims = jwt.decode(
            fields["t"],
            verifying,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        assert claims["exp"] <= time.time() + 24 * 3600, "exp must be within 24 hours"
        assert str(claims["sub"]).startswith(("mailto:", "https://")), claims["sub"]
        assert headers.get("Content-Encoding") == "aes128gcm"
        assert int(headers.get("TTL", "-1")) >= 0, "TTL is required (RFC 8030 §5.2)"
        payload = json.loads(browser.decrypt(body))
        return Received(
            browser.name, payload, claims, public_key, dict(headers.items()), time.monotonic()
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                browser = service.browsers.get(name)
                status = 404
                if browser is not None:
                    with service._lock:
                        queued = service.answers.get(name) or []
                        status = queued.pop(0) if queued else 201
                    try:
                        received = service._check(self.headers, body, browser)
                    except Exception as exc:  # a refusal the test reads in `refusals`
                        with service._lock:
                            service.refusals.append(f"{name}: {exc!r}")
                        status = 400
                    else:
                        if status == 201:
                            with service._lock:
                                service.received.append(received)
                with service._lock:
                    service.requests.append((name, status, time.monotonic()))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet tests

        return Handler
