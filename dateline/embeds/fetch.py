"""Fetching what a pasted URL points at, as if the URL were hostile (it is: anyone with an editor's
account, or a compromised one, chooses it, and the answer's links are chosen by a third party).

- Only http:// and https://; at most three redirects, each checked like the first.
- Every address is resolved here and must be a public one (no loopback, private, link-local,
  carrier-grade NAT, multicast or reserved address: the cloud's metadata service at
  169.254.169.254 and the newsroom's own network are out of reach); the connection goes to the
  address that was checked (with the name kept for TLS and the Host header), so a DNS answer
  that changes between the check and the connection changes nothing. The operator's own oEmbed
  endpoints (`embed_endpoints`, only when asked for an oEmbed answer) and `embed_trusted_hosts`
  are exempt, by host and port.
- Bounded in time (`timeout` for the whole fetch, redirects included) and in size (a larger
  Content-Length is refused before reading, a longer body once it passes the limit); gzip and
  deflate only, whose expansion is bounded by the same limit.
- Proxies from the environment are not used: the address check must be the connection's.

A failure is a `FetchFailed` saying what went wrong, and whether trying later may help (a
timeout or a 5xx may; a 404 or a private address will not).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 3
_ENCODINGS = ("", "identity", "gzip", "x-gzip", "deflate")
_USER_AGENT = "Dateline-embeds (+https://github.com/dateline)"


class FetchFailed(Exception):
    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Guard:
    """What a fetch may reach, and for how long."""

    timeout: float = 8.0
    trusted: frozenset[str] = frozenset()  # "host:port" exempt from the address check
    # The operator's own oEmbed endpoints ("host:port"): exempt only when they are asked for an
    # oEmbed answer, never for a pasted URL, a thumbnail or a redirect that lands there.
    endpoints: frozenset[str] = frozenset()


# IPv6 prefixes whose addresses carry an IPv4 address (NAT64, local-use NAT64, IPv4-compatible):
# a gateway may deliver them to that address, so it is the one judged.
_CARRIERS = tuple(ipaddress.IPv6Network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")  # deprecated, still routed inside some networks


def _public(address: str) -> bool:
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        address.split("%", 1)[0]
    )
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _SITE_LOCAL:
            return False
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif any(ip in net for net in _CARRIERS):
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_multicast


async def _address(host: str, port: int) -> str:
    """A checked public address for `host`, or FetchFailed."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise FetchFailed(f"cannot find the address of {host!r}: {exc}", retry=True) from None
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise FetchFailed(f"{host!r} has no address", retry=True)
    private = [a for a in addresses if not _public(a)]
    if private:
        raise FetchFailed(
            f"{host!r} is at a private or reserved address ({private[0]}); "
            "only public addresses are fetched",
            retry=False,
        )
    return addresses[0]


def _split(url: str) -> tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        scheme, host, port = "", "", None
    if scheme not in ("http", "https") or not host:
        raise FetchFailed(f"only http:// and https:// addresses are fetched, not {url[:200]!r}",
                          retry=False)  # fmt: skip
    return scheme, host, port or (443 if scheme == "https" else 80)


async def pinned(url: str, guard: Guard) -> tuple[str, dict[str, str], dict[str, Any]]:
    """Where to connect for `url`: the URL with its host replaced by the checked public address
    (a trusted host:port is left as it is), the Host header and the TLS name to keep; or
    FetchFailed. Outbound webhooks (dateline/outbound/) connect through this too."""
    _, host, port = _split(url)
    if f"{host}:{port}" in guard.trusted:
        return url, {}, {}
    address = await _address(host, port)
    literal = f"[{address}]" if ":" in address else address
    parts = urlsplit(url)
    target = parts._replace(netloc=f"{literal}:{port}").geturl()
    return target, {"Host": parts.netloc.rpartition("@")[2]}, {"sni_hostname": host}


async def _one(
    client: httpx.AsyncClient, url: str, guard: Guard, max_bytes: int, accept: str
) -> tuple[str | None, Fetched | None]:
    """One hop: `(redirect target, None)` or `(None, answer)`."""
    _, host, _ = _split(url)
    target, pinned_headers, extensions = await pinned(url, guard)
    headers = {"User-Agent": _USER_AGENT, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    headers.update(pinned_headers)
    request = client.build_request("GET", target, headers=headers, extensions=extensions)
    response = await client.send(request, stream=True)
    try:
        if response.is_redirect:
            location = response.headers.get("location", "")
            return urljoin(url, location), None
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise FetchFailed(f"{host} answered {response.status_code}", retry=True)
        if not response.is_success:
            raise FetchFailed(f"{host} answered {response.status_code}", retry=False)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in _ENCODINGS:
            raise FetchFailed(f"{host} sent a {encoding!r}-compressed answer", retry=False)
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise FetchFailed(
                f"{host}'s answer is {length} bytes, over the limit of {max_bytes}", retry=False
            )
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise FetchFailed(f"{host}'s answer is over the limit of {max_bytes} bytes",
                                  retry=False)  # fmt: skip
        kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return None, Fetched(url, kind, bytes(body))
    finally:
        await response.aclose()


async def fetch(
    url: str,
    guard: Guard,
    *,
    max_bytes: int,
    accept: str = "application/json",
    endpoint: bool = False,
) -> Fetched:
    """`endpoint`: `url` is one of the operator's endpoints (its first hop may be private)."""
    first = replace(guard, trusted=guard.trusted | guard.endpoints) if endpoint else guard
    try:
        async with (
            asyncio.timeout(guard.timeout),
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=httpx.Timeout(guard.timeout)
            ) as client,
        ):
            for hop in range(MAX_REDIRECTS + 1):
                checked = first if hop == 0 else guard
                url, answer = await _one(client, url, checked, max_bytes, accept)  # type: ignore[assignment]
                if answer is not None:
                    return answer
            raise FetchFailed(f"more than {MAX_REDIRECTS} redirects", retry=False)
    except TimeoutError:
        raise FetchFailed(f"no complete answer within {guard.timeout:g} s", retry=True) from None
    except httpx.HTTPError as exc:
        raise FetchFailed(f"{type(exc).__name__}: {exc}"[:300], retry=True) from None
