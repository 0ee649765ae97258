"""Which provider a pasted URL belongs to, where its oEmbed answer comes from, and which frame a
reader's browser may load for it.

The oEmbed endpoints come from the oEmbed project's maintained provider list (providers.json, as
published at https://oembed.com/providers.json; the copy shipped here is replaced by setting
`embed_providers_file` to a newer download). Dateline adds what that list cannot say:

- providers without an oEmbed endpoint that still have a public page to read (Telegram channel
  posts, Threads): their Open Graph tags make the snapshot;
- Mastodon, on any instance: a status URL (`https://host/@user/123`) is asked of that instance's
  own `/api/oembed`;
- providers whose endpoint needs an access token (Instagram, Facebook: Meta's oEmbed API), asked
  only when `embed_meta_token` is set, else read like a plain page;
- the frame a reader loads on a click: each provider's privacy-enhanced player or post frame
  (youtube-nocookie.com, Vimeo with `dnt=1`, …), never the provider's script.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from dateline.errors import Invalid


@dataclass(frozen=True, slots=True)
class Provider:
    name: str  # as readers see it: "YouTube", "X", "Mastodon"
    endpoint: str | None  # the oEmbed endpoint; None: read the page's Open Graph tags
    needs_token: bool = False  # Meta's endpoints need embed_meta_token


@dataclass(frozen=True, slots=True)
class _Listed:
    name: str
    endpoint: str
    pattern: re.Pattern[str]


# Names readers know, where the list's differ.
_NAMES = {"Bluesky Social": "Bluesky"}
# Endpoints that need an app's access token (Meta's Graph API).
_TOKEN_HOSTS = ("graph.facebook.com",)
_MASTODON_STATUS = re.compile(r"^/@[A-Za-z0-9_.-]{1,64}(?:@[A-Za-z0-9.-]{1,253})?/(\d{1,30})/?$")
_TELEGRAM_POST = re.compile(r"^/(?:s/)?([A-Za-z][A-Za-z0-9_]{3,64})/(\d{1,12})/?$")
_THREADS_POST = re.compile(r"^/@([A-Za-z0-9_.]{1,64})/post/([A-Za-z0-9_-]{1,64})/?$")


def _glob(scheme: str) -> re.Pattern[str]:
    """An oEmbed URL scheme (`https://*.youtube.com/watch*`) as a regular expression."""
    parts = [re.escape(p) for p in scheme.split("*")]
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE)


def _load(text: str) -> tuple[_Listed, ...]:
    try:
        data = json.loads(text)
        listed = []
        for provider in data:
            name = str(provider["provider_name"]).strip()
            for endpoint in provider.get("endpoints") or ():
                url = str(endpoint["url"]).replace("{format}", "json")
                for scheme in endpoint.get("schemes") or ():
                    listed.append(_Listed(_NAMES.get(name, name), url, _glob(str(scheme))))
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid(
            f"the oEmbed provider list is not in the format of https://oembed.com/providers.json: "
            f"{exc}",
            field="embed_providers_file",
        ) from None
    return tuple(listed)


@functools.lru_cache(maxsize=4)
def listed_providers(path: str = "") -> tuple[_Listed, ...]:
    """The provider list: the file at `path`, or the copy shipped with Dateline."""
    if path:
        try:
            return _load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise Invalid(
                f"cannot read the oEmbed provider list {path!r}: {exc.strerror}",
                field="embed_providers_file",
            ) from None
    return _load(resources.files("dateline.embeds").joinpath("providers.json").read_text("utf-8"))


def provider_for(url: str, providers_file: str = "") -> Provider:
    """The provider of `url` (a generic "page" provider when no rule knows it)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("t.me", "telegram.me") and _TELEGRAM_POST.match(parts.path):
        return Provider("Telegram", None)
    if host.removeprefix("www.") in ("threads.net", "threads.com") and _THREADS_POST.match(
        parts.path
    ):
        return Provider("Threads", None)
    for listed in listed_providers(providers_file):
        if listed.pattern.match(url):
            needs = urlsplit(listed.endpoint).hostname in _TOKEN_HOSTS
            return Provider(listed.name, listed.endpoint, needs_token=needs)
    if _MASTODON_STATUS.match(parts.path) and not parts.query:
        origin = f"{parts.scheme}://{parts.netloc}"
        return Provider("Mastodon", f"{origin}/api/oembed")
    return Provider(host.removeprefix("www.") or "web page", None)


def endpoint_hosts(providers_file: str = "") -> frozenset[str]:
    """The hosts of every listed oEmbed endpoint: the only hosts asked for oEmbed answers
    (besides a Mastodon status's own instance)."""
    return frozenset(
        (urlsplit(p.endpoint).hostname or "").lower() for p in listed_providers(providers_file)
    )


# -- frames -----------------------------------------------------------------------------------

_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_DIGITS = re.compile(r"^\d{1,30}$")


def _youtube(url: str) -> str | None:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    video = ""
    if host == "youtu.be":
        video = parts.path.strip("/")
    elif parts.path == "/watch":
        video = (parse_qs(parts.query).get("v") or [""])[0]
    else:
        for prefix in ("/shorts/", "/embed/", "/live/", "/v/"):
            if parts.path.startswith(prefix):
                video = parts.path.removeprefix(prefix).strip("/")
    if not _YOUTUBE_ID.match(video):
        return None
    return f"https://www.youtube-nocookie.com/embed/{video}"


def _vimeo(url: str) -> str | None:
    last = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    return f"https://player.vimeo.com/video/{last}?dnt=1" if _DIGITS.match(last) else None


def _status_id(url: str) -> str | None:
    parts = urlsplit(url).path.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "status" and _DIGITS.match(parts[-1]):
        return parts[-1]
    return None


def _tweet(url: str) -> str | None:
    # The post frame with Do-Not-Track set: no script of X's on Dateline's page.
    status = _status_id(url)
    return f"https://platform.twitter.com/embed/Tweet.html?id={status}&dnt=true" if status else None


def _instagram(url: str) -> str | None:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    for kind in ("p", "reel", "tv"):
        if kind in parts[:-1]:
            code = parts[parts.index(kind) + 1]
            if re.fullmatch(r"[A-Za-z0-9_-]{5,40}", code):
                return f"https://www.instagram.com/{kind}/{code}/embed/"
    return None


def _tiktok(url: str) -> str | None:
    last = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    return f"https://www.tiktok.com/embed/v2/{last}" if _DIGITS.match(last) else None


def _facebook(url: str) -> str | None:
    kind = "video" if "/videos/" in url or "/video.php" in url else "post"
    return f"https://www.facebook.com/plugins/{kind}.php?href={quote(url, safe='')}"


def _bluesky(url: str, oembed_html: str) -> str | None:
    # The oEmbed answer names the post as an at:// URI (the profile in the URL may be a handle).
    found = re.search(r'data-bluesky-uri="at://(did:[a-z0-9]+:[A-Za-z0-9._:-]{1,200})/'
                      r'app\.bsky\.feed\.post/([A-Za-z0-9]{1,64})"', oembed_html)  # fmt: skip
    if not found:
        return None
    return f"https://embed.bsky.app/embed/{found.group(1)}/app.bsky.feed.post/{found.group(2)}"


def _telegram(url: str) -> str | None:
    found = _TELEGRAM_POST.match(urlsplit(url).path)
    return f"https://t.me/{found.group(1)}/{found.group(2)}?embed=1" if found else None


def _threads(url: str) -> str | None:
    found = _THREADS_POST.match(urlsplit(url).path)
    if not found:
        return None
    return f"https://www.threads.net/@{found.group(1)}/post/{found.group(2)}/embed"


_IFRAME_SRC = re.compile(r"<iframe\b[^>]*?\bsrc=[\"'](https://[^\"'\s>]{1,2000})[\"']", re.I)
# Providers whose oEmbed answer is an <iframe>: its source is used if it is on one of these hosts.
_FRAME_HOSTS = {
    "SoundCloud": ("w.soundcloud.com",),
    "Spotify": ("open.spotify.com",),
    "Flourish": ("flo.uri.sh",),
    "Datawrapper": ("datawrapper.dwcdn.net",),
}


def frame_for(provider: Provider, url: str, oembed_html: str = "") -> str | None:
    """The https:// frame a reader's click loads for `url`, or None (a card only)."""
    name = provider.name
    if name == "YouTube":
        return _youtube(url)
    if name == "Vimeo":
        return _vimeo(url)
    if name in ("X", "Twitter"):
        return _tweet(url)
    if name == "Instagram":
        return _instagram(url)
    if name == "TikTok":
        return _tiktok(url)
    if name == "Facebook":
        return _facebook(url)
    if name == "Bluesky":
        return _bluesky(url, oembed_html)
    if name == "Telegram":
        return _telegram(url)
    if name == "Threads":
        return _threads(url)
    found = _IFRAME_SRC.search(oembed_html)
    if found is None:
        return None
    src = found.group(1).replace("&amp;", "&")
    host = (urlsplit(src).hostname or "").lower()
    if name == "Mastodon":
        # An instance's own embed frame of the status, on the status's own host.
        return src if host == (urlsplit(url).hostname or "").lower() else None
    return src if host in _FRAME_HOSTS.get(name, ()) else None


# Where providers' frames come from (besides a Mastodon status's own instance).
_FRAME_ORIGINS = frozenset(
    {
        "https://www.youtube-nocookie.com", "https://player.vimeo.com",
        "https://platform.twitter.com", "https://www.instagram.com", "https://www.tiktok.com",
        "https://www.facebook.com", "https://embed.bsky.app", "https://t.me",
        "https://www.threads.net", "https://w.soundcloud.com", "https://open.spotify.com",
        "https://flo.uri.sh", "https://datawrapper.dwcdn.net",
    }
)  # fmt: skip


def frame_allowed(url: str, frame: str | None) -> bool:
    """Whether `frame` may be loaded for `url` (no frame at all may)."""
    if frame is None:
        return True
    origin = frame_origin(frame)
    own = frame_origin(url)
    return origin.startswith("https://") and (origin in _FRAME_ORIGINS or origin == own)


def frame_origin(frame: str) -> str:
    parts = urlsplit(frame)
    return f"{parts.scheme}://{parts.netloc}"
