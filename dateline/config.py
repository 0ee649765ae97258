"""Settings, declared once: name, default, help. Each is read from a command-line flag or the
environment variable DATELINE_<NAME>; docs/configuration.md lists them all (a test checks)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from dateline.errors import Invalid


@dataclass(frozen=True)
class Setting:
    """The help of one field of `Settings` (whose defaults are the single source of defaults)."""

    name: str
    help: str
    secret: bool = False

    @property
    def env(self) -> str:
        return "DATELINE_" + self.name.upper()

    @property
    def default(self) -> Any:
        return getattr(Settings(), self.name)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "Where the store lives: sqlite:///PATH (one machine) or postgresql://USER@HOST/DB.",
    ),
    Setting(
        "bus_url",
        "How nodes tell each other about new events: memory:// (one process) or redis://HOST/0.",
    ),
    Setting(
        "secret_key",
        "Signs session cookies. Set it in production; if empty a random key is made at start.",
        secret=True,
    ),
    Setting("media_dir", "Folder for uploaded images."),
    Setting("host", "Address to listen on."),
    Setting("port", "Port to listen on."),
    Setting("workers", "Server processes on this machine."),
    Setting("page_size", "Posts per page on the reader page and the API."),
    Setting("heartbeat_seconds", "Seconds between heartbeat comments on live streams."),
    Setting("reader_queue_size", "Events buffered per live reader before it is cut off."),
    Setting(
        "max_live_readers",
        "Live readers one node holds; beyond, new streams get 503 with Retry-After (their "
        "script retries), keeping connections for the newsroom and the API.",
    ),
    Setting("max_request_bytes", "Largest JSON request body accepted (413 beyond)."),
    Setting("sse_retry_ms", "Reconnect delay suggested to live readers (SSE retry:)."),
    Setting("max_upload_bytes", "Largest image upload accepted (413 beyond)."),
    Setting("max_image_pixels", "Largest image accepted, in pixels (width × height)."),
    Setting(
        "max_contributor_image_pixels",
        "Largest image a contributor may upload, in pixels (no editor has seen it yet).",
    ),
    Setting("max_animation_frames", "Most frames an animated image may have (413 beyond)."),
    Setting(
        "max_animation_pixels",
        "Largest animated image accepted, in pixels × frames (width × height × frames).",
    ),
    Setting(
        "max_animation_bytes",
        "Largest animated WebP an animated upload may become, in bytes (413 beyond).",
    ),
    Setting(
        "max_animation_seconds",
        "Seconds an animated upload may take to re-encode (413 beyond).",
    ),
    Setting("schedule_seconds", "Seconds between checks for scheduled posts that are due."),
    Setting(
        "gc_thaw_seconds",
        "Seconds between thaws of the objects frozen after each full garbage collection; "
        "0 turns freezing off.",
    ),
    Setting(
        "forwarded_allow_ips",
        "Addresses of the proxies whose X-Forwarded-For/-Proto headers are trusted "
        "(comma-separated, or * for any); empty trusts none, as when readers reach the node "
        "directly.",
    ),
    Setting(
        "max_connections",
        "Connections one node holds in all; 0 holds as many as its open-file limit allows. "
        "Beyond, a new connection is closed at once.",
    ),
    Setting("max_header_bytes", "Largest request line and headers accepted (431 beyond)."),
    Setting("max_headers", "Most request headers accepted (431 beyond)."),
    Setting(
        "header_timeout_seconds",
        "Seconds a connection has to send its request's headers (408 and closed after).",
    ),
    Setting(
        "idle_timeout_seconds",
        "Seconds a connection may stay idle after a complete response before it is closed "
        "(HTTP keep-alive); live streams are responses still going, never idle.",
    ),
    Setting(
        "push",
        "Who holds the readers' live streams: direct (this node) or grip (a GRIP proxy in front, "
        "such as Pushpin or Fastly Fanout: streams that come through it are held there, and this "
        "node publishes each event it commits to grip_publish_urls; docs/deploy.md).",
    ),
    Setting(
        "grip_publish_urls",
        "grip: the proxies' publish endpoints, comma-separated (Pushpin: http://HOST:5561/publish/).",
    ),
    Setting(
        "grip_publish_token",
        "grip: a token sent as Authorization: Bearer with each publish (Fastly Fanout's API "
        "token); empty sends none (Pushpin's publish port, on a private address).",
        secret=True,
    ),
    Setting(
        "grip_key",
        "grip: the key the proxy's Grip-Sig is checked with: a shared secret (HS256; Pushpin's "
        "sig_key) or a PEM public key (ES256; Fastly Fanout's). Empty takes any Grip-Sig: only "
        "for a node that nothing but the proxy can reach.",
        secret=True,
    ),
    Setting(
        "grip_recover_seconds",
        "grip: seconds of silence on a stream after which the proxy asks this node for anything "
        "it missed (each hold draws its own, up to 1.5 times this, so that quiet streams do not "
        "all ask at once; a lost publish is recovered at once when the next one arrives).",
    ),
    Setting(
        "grip_keepalive_seconds",
        "grip: while a blog is quiet, how often this node publishes a keep-alive on its channel "
        "(the proxy's streams then never time out, and a stream that missed the last event "
        "notices); shorter than grip_recover_seconds, longer than the proxy's id cache "
        "(Pushpin's id_cache_ttl, 60 s); 0 turns keep-alives off.",
    ),
    Setting(
        "grip_retry_seconds",
        "grip: how long a publish to an unreachable proxy is retried before the readers' "
        "proxies are left to recover it.",
    ),
    Setting(
        "poll_results_seconds",
        "Least time between two results events of one poll (a vote storm gives readers one a "
        "second); each node looks for polls whose counts moved five times as often.",
    ),
    Setting(
        "poll_votes_per_minute",
        "Poll votes one client address may cast per minute, counted by each node on its own "
        "(behind a proxy, set forwarded_allow_ips so the address is the reader's); 0: no limit.",
    ),
    Setting(
        "direct_writes",
        "Write live frames straight to readers' connections from the hub (uvicorn's httptools "
        "protocol, or the ASGI send driven by hand); false sends each through its reader's task.",
    ),
    Setting(
        "embeds",
        "Fetch a snapshot (oEmbed or Open Graph) of each URL pasted alone on a line of a post; "
        "false keeps such URLs as link cards and sends no request anywhere.",
    ),
    Setting("embed_timeout_seconds", "Longest an embed's fetch may take, redirects included."),
    Setting(
        "embed_endpoints",
        "Per-provider oEmbed endpoints used instead of the listed ones, as NAME=URL,… (for a "
        "provider read from its page, such as telegram, the origin to read it from).",
    ),
    Setting(
        "embed_trusted_hosts",
        "HOST:PORT,… that embeds may fetch although they are at private addresses (the "
        "hosts of embed_endpoints are trusted already).",
    ),
    Setting(
        "embed_providers_file",
        "A newer copy of https://oembed.com/providers.json to use instead of the shipped one.",
    ),
    Setting(
        "embed_meta_token",
        "An app access token for Meta's oEmbed API (Instagram, Facebook); empty reads their "
        "pages' Open Graph tags instead.",
        secret=True,
    ),
    Setting(
        "embed_retry_seconds",
        "First wait before fetching an embed again when its provider failed; it doubles each "
        "time, up to an hour.",
    ),
    Setting("embed_attempts", "Fetches of an embed before it stays a link card for good."),
    Setting(
        "webhook_timeout_seconds",
        "Longest one webhook delivery may take (connecting, sending, the answer); longer is a "
        "failed attempt.",
    ),
    Setting(
        "webhook_retry_seconds",
        "First wait before a failed webhook delivery is tried again; it doubles each time, up "
        "to an hour.",
    ),
    Setting(
        "webhook_give_up_seconds",
        "How long a webhook may keep failing before it is paused (its editors see why in the "
        "console; resuming sends everything from where it stopped).",
    ),
    Setting(
        "webhook_allowed_hosts",
        "HOST:PORT,… that webhooks may be sent to although they are at private addresses, and "
        "over plain http (a receiver on the newsroom's own network); any other must be https "
        "at a public address.",
    ),
    Setting(
        "websub_hub",
        "A WebSub hub (https://pubsubhubbub.appspot.com/): the Atom feeds name it, and each "
        "change is pinged to it; empty: no hub. Needs public_url.",
    ),
    Setting(
        "public_url",
        "The address readers reach this instance at (https://live.example.org), for URLs made "
        "without a request: the feed URLs pinged to the WebSub hub, the links sent back to "
        "reporters on Telegram, Slack and email (empty: paths only).",
    ),
    Setting(
        "telegram_bot_token",
        "Telegram: the bot's token from @BotFather; empty turns the Telegram input off "
        "(docs/inputs.md).",
        secret=True,
    ),
    Setting(
        "telegram_webhook_secret",
        "Telegram: the secret_token given to setWebhook; a webhook call without it in "
        "X-Telegram-Bot-Api-Secret-Token is refused.",
        secret=True,
    ),
    Setting(
        "telegram_api_url",
        "Telegram: the Bot API's address (a local Bot API server's, or a test's).",
    ),
    Setting(
        "slack_bot_token",
        "Slack: the app's bot token (xoxb-…); empty turns the Slack input off (docs/inputs.md).",
        secret=True,
    ),
    Setting(
        "slack_signing_secret",
        "Slack: the app's signing secret; requests whose signature or timestamp do not check "
        "out are refused.",
        secret=True,
    ),
    Setting("slack_api_url", "Slack: the Web API's address (a test's fake, otherwise Slack's)."),
    Setting(
        "intake_timeout_seconds",
        "Longest one call to Telegram's or Slack's API (a file download included) may take.",
    ),
    Setting(
        "smtp_port",
        "Port of the built-in SMTP receiver for reporters' email (SLUG@smtp_domain); 0 turns "
        "it off.",
    ),
    Setting("smtp_host", "Address the SMTP receiver listens on."),
    Setting(
        "smtp_domain",
        "The mail domain of the blogs' addresses (SLUG@DOMAIN, or blog+SLUG@DOMAIN); empty "
        "accepts any domain.",
    ),
    Setting(
        "max_email_bytes",
        "Largest email the SMTP receiver accepts, attachments included (552 beyond).",
    ),
    Setting(
        "web_push",
        "Offer readers of live blogs a 'Follow this story' button (web push notifications); "
        "false hides it, refuses new followers and sends nothing.",
    ),
    Setting(
        "vapid_private_key",
        "The P-256 key web push requests are signed with (VAPID), as PEM or base64url of its 32 "
        "bytes (`dateline push-keys` makes one); empty: one is made on first use and kept in the "
        "store.",
        secret=True,
    ),
    Setting(
        "vapid_subject",
        "A contact for push services' operators, sent with every notification: mailto:ADDRESS "
        "or an https:// URL (Apple's push service refuses notifications without one).",
    ),
    Setting(
        "push_min_minutes",
        "Least minutes between two web push notifications of one blog; a post marked notify "
        "within them waits for them to pass, and a newer one replaces it. 0: no limit.",
    ),
    Setting(
        "push_services",
        "Hosts (and their subdomains) of the push services followers' subscriptions may point "
        "at, comma-separated: Dateline sends requests nowhere else.",
    ),
    Setting(
        "push_attempts",
        "Attempts to deliver one notification to one follower before it is given up.",
    ),
    Setting(
        "push_retry_seconds",
        "First wait before a notification is sent again after its push service failed (429, "
        "5xx, no answer); it doubles each time, or follows the service's Retry-After.",
    ),
    Setting(
        "push_follows_per_minute",
        "Follow and unfollow requests one client address may make per minute, counted by each "
        "node on its own; 0: no limit.",
    ),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///dateline.db"
    bus_url: str = "memory://"
    secret_key: str = ""
    media_dir: str = "media"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    page_size: int = 20
    heartbeat_seconds: float = 15.0
    reader_queue_size: int = 64
    max_live_readers: int = 20_000
    max_request_bytes: int = 1_048_576
    sse_retry_ms: int = 3000
    max_upload_bytes: int = 10_485_760
    max_image_pixels: int = 40_000_000
    max_contributor_image_pixels: int = 24_000_000
    max_animation_frames: int = 500
    max_animation_pixels: int = 50_000_000
    max_animation_bytes: int = 8_388_608
    max_animation_seconds: float = 30.0
    schedule_seconds: float = 1.0
    gc_thaw_seconds: float = 3600.0
    direct_writes: bool = True
    forwarded_allow_ips: str = ""
    max_connections: int = 0
    max_header_bytes: int = 65_536
    max_headers: int = 100
    header_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 5.0
    push: str = "direct"
    grip_publish_urls: str = ""
    grip_publish_token: str = ""
    grip_key: str = ""
    grip_recover_seconds: float = 120.0
    grip_keepalive_seconds: float = 75.0
    grip_retry_seconds: float = 30.0
    embeds: bool = True
    embed_timeout_seconds: float = 8.0
    embed_endpoints: str = ""
    embed_trusted_hosts: str = ""
    embed_providers_file: str = ""
    embed_meta_token: str = ""
    embed_retry_seconds: float = 30.0
    embed_attempts: int = 12
    poll_results_seconds: float = 1.0
    poll_votes_per_minute: int = 30
    webhook_timeout_seconds: float = 10.0
    webhook_retry_seconds: float = 10.0
    webhook_give_up_seconds: float = 86_400.0
    webhook_allowed_hosts: str = ""
    websub_hub: str = ""
    public_url: str = ""
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    slack_bot_token: str = ""
    slack_signing_secret: str = ""
    slack_api_url: str = "https://slack.com/api"
    intake_timeout_seconds: float = 10.0
    smtp_port: int = 0
    smtp_host: str = "127.0.0.1"
    smtp_domain: str = ""
    max_email_bytes: int = 26_214_400
    web_push: bool = True
    vapid_private_key: str = ""
    vapid_subject: str = ""
    push_min_minutes: float = 5.0
    push_services: str = (
        "fcm.googleapis.com,push.services.mozilla.com,notify.windows.com,push.apple.com"
    )
    push_attempts: int = 6
    push_retry_seconds: float = 30.0
    push_follows_per_minute: int = 10

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Defaults, then DATELINE_* variables, then the overrides (flags) that are not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        types = {f.name: type(getattr(cls(), f.name)) for f in fields(cls)}
        for setting in SETTINGS:
            raw = environ.get(setting.env)
            if raw is not None and raw != "":
                values[setting.name] = _cast(setting, types[setting.name], raw)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = value
        return replace(cls(), **values)

    def public(self) -> dict[str, Any]:
        """The settings with secrets masked, for logs and `--help`."""
        by_name = {s.name: s for s in SETTINGS}
        return {
            f.name: (
                "***" if by_name[f.name].secret and getattr(self, f.name) else getattr(self, f.name)
            )
            for f in fields(self)
        }


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _cast(setting: Setting, kind: type, raw: str) -> Any:
    if kind is bool:
        if raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise Invalid(f"{setting.env}={raw!r} is not true or false", field=setting.name)
    try:
        return kind(raw)
    except ValueError:
        raise Invalid(
            f"{setting.env}={raw!r} is not a valid {kind.__name__}", field=setting.name
        ) from None
