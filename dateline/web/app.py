"""The app factory: `create_app(settings)` builds a Starlette app with its own store, bus, hub
and newsroom, opened in the lifespan. One flat list of routes and one of middleware."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from dateline import __version__
from dateline.bus import open_bus
from dateline.config import Settings
from dateline.errors import DatelineError
from dateline.hub import Hub
from dateline.intake import check_settings as check_intake_settings
from dateline.intake import open_intake
from dateline.newsroom import Newsroom
from dateline.newsroom.scheduling import embed_fetcher, poll_announcer, scheduler
from dateline.outbound import websub
from dateline.outbound.push import open_web_push, web_push_round
from dateline.outbound.webhooks import Deliverer
from dateline.outbound.websub import WebSubPinger
from dateline.store import open_store
from dateline.web import console, errors, reporters
from dateline.web.api import exports, openapi, uploads, webhooks
from dateline.web.api import handlers as api
from dateline.web.cache import BlogHeaders, RenderCache
from dateline.web.compression import GZip
from dateline.web.fast import FastPaths
from dateline.web.live import grip
from dateline.web.live.delta import events_delta
from dateline.web.live.encoder import EventEncoder
from dateline.web.live.grip import GripPublisher
from dateline.web.live.stream import live
from dateline.web.reader import follow, pages
from dateline.web.reader import polls as reader_polls
from dateline.web.security import SecurityHeaders
from dateline.web.services import Services

HERE = Path(__file__).parent
STATIC = HERE / "static"


@cache
def _static_hash(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A URL that changes when the file does, so it can be cached for a year."""
    return f"/static/{name}?v={_static_hash(name)}"


class HashedStatic(StaticFiles):
    """Static files; a URL carrying the file's hash (`?v=`) may be cached for a year."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


async def favicon(request: Request) -> Response:
    """Browsers ask every site for /favicon.ico, whatever the page links."""
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def make_templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=False,
        auto_reload=False,
    )
    env.globals["static_url"] = static_url
    return env


def by_method(path: str, **handlers: Callable[[Request], Awaitable[Response]]) -> Route:
    """One route for every method a path takes, so that any other method gets 405 with all of
    them in `Allow` (separate routes per method would each list only their own)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return Route(path, dispatch, methods=list(handlers))


def create_app(settings: Settings | None = None) -> Starlette:
    """The app, with its own store, bus, hub and newsroom, opened in its lifespan. Plain ASGI:
    `dateline serve` adds the server-specific shortcuts (web/server/)."""
    settings = settings or Settings.load()
    grip.check_settings(settings)
    websub.check_settings(settings)
    check_intake_settings(settings)
    templates = make_templates()
    # Rendered pages and JSON, per blog seq; the build id makes a deploy's new templates count.
    build = hashlib.sha256(
        (__version__ + "".join(_static_hash(f.name) for f in sorted(STATIC.iterdir()))).encode()
    ).hexdigest()[:12]
    render_cache = RenderCache(build)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await open_store(settings.database_url)
        bus = open_bus(settings.bus_url)
        encoder = EventEncoder(store, templates)
        hub = Hub(
            store,
            encoder.frame,
            queue_size=settings.reader_queue_size,
            heartbeat_seconds=settings.heartbeat_seconds,
            bus_healthy=lambda: bus.healthy,
        )
        await hub.start()
        await bus.start(hub.notify)
        publisher = None
        on_commit = hub.hear
        if settings.push == "grip":
            publisher = GripPublisher(
                hub,
                grip.publish_urls(settings),
                retry_seconds=settings.grip_retry_seconds,
                token=settings.grip_publish_token,
                keepalive_seconds=settings.grip_keepalive_seconds,
            )
            publisher.start()

            def on_commit(blog_id: int, seq: int) -> None:
                hub.hear(blog_id, seq)
                publisher.committed(blog_id, seq)  # this node wrote it: this node publishes it

        # Consumers of the event log that leave the instance: told of this node's commits so
        # they start at once (webhooks) or know whom to ping (WebSub, only the writing node).
        deliverer = Deliverer(store, settings)
        pinger = WebSubPinger(store, settings)
        heard = on_commit

        def committed(blog_id: int, seq: int) -> None:
            heard(blog_id, seq)
            deliverer.committed(blog_id, seq)
            pinger.committed(blog_id, seq)

        newsroom = Newsroom(store, bus, settings=settings, on_commit=committed)
        key = await newsroom.signing_key()
        web_push = await open_web_push(store, settings)
        app.state.services = Services(
            settings=settings,
            templates=templates,
            render_cache=render_cache,
            store=store,
            bus=bus,
            hub=hub,
            encoder=encoder,
            blogs=BlogHeaders(store, hub.heard),
            newsroom=newsroom,
            signing_key=key.encode(),
            grip=publisher,
            intake=await open_intake(newsroom, settings),
            push=web_push,
        )
        rounds = [
            scheduler(newsroom, settings.schedule_seconds),
            embed_fetcher(newsroom, max(2.0, settings.schedule_seconds)),
            # Looking five times per interval: a vote after a quiet spell reaches readers within
            # a fifth of it, while a storm still gives one results event per interval.
            poll_announcer(newsroom, settings.poll_results_seconds / 5),
            deliverer.repeating(),
            pinger.repeating(),
        ]
        if web_push is not None:
            rounds.append(web_push_round(web_push))
        for task in rounds:
            task.start()
        try:
            yield
        finally:
            for task in rounds:
                await task.close()
            await deliverer.close()
            await pinger.close()
            if app.state.services.intake is not None:
                await app.state.services.intake.close()
            newsroom.close()
            if web_push is not None:
                await web_push.close()
            if publisher is not None:
                await publisher.close()
            await hub.close()
            await bus.close()
            await store.close()

    routes = [
        Route("/", pages.index),
        Route("/healthz", api.healthz),
        Route("/api/v1/openapi.json", openapi.openapi_json),
        by_method("/api/v1/blogs", POST=api.create_blog),
        by_method("/api/v1/blogs/{slug}", GET=api.get_blog, PATCH=api.patch_blog),
        by_method("/api/v1/blogs/{slug}/score", POST=api.change_score),
        by_method("/api/v1/blogs/{slug}/posts", GET=api.list_posts, POST=api.create_post),
        by_method(
            "/api/v1/blogs/{slug}/posts/{post_id}",
            GET=api.get_post,
            PATCH=api.patch_post,
            DELETE=api.delete_post,
        ),
        Route("/api/v1/blogs/{slug}/posts/{post_id}/revisions", api.list_revisions),
        Route("/api/v1/media", uploads.upload, methods=["POST"]),
        Route("/api/v1/blogs/{slug}/export", exports.export_blog),
        Route("/api/v1/blogs/{slug}/events", events_delta),
        by_method(
            "/api/v1/blogs/{slug}/webhooks", GET=webhooks.list_webhooks, POST=webhooks.add_webhook
        ),
        by_method(
            "/api/v1/blogs/{slug}/webhooks/{webhook_id}",
            GET=webhooks.get_webhook,
            PATCH=webhooks.patch_webhook,
            DELETE=webhooks.delete_webhook,
        ),
        Route("/intake/telegram", reporters.telegram_webhook, methods=["POST"]),
        Route("/intake/slack/events", reporters.slack_events, methods=["POST"]),
        Route("/intake/slack/command", reporters.slack_command, methods=["POST"]),
        Route("/api/v1/push/key", follow.push_key),
        Route("/sw.js", follow.service_worker),
        Mount("/static", HashedStatic(directory=STATIC), name="static"),
        Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
        Route("/media/{name}", uploads.serve, methods=["GET", "HEAD"]),
        *console.routes,
        Route("/{slug}", pages.blog_page),
        Route("/{slug}/live", live),
        Route("/{slug}/posts/{post_id}", pages.post_page),
        Route("/{slug}/feed.atom", pages.feed),
        Route("/{slug}/embed", pages.embed),
        Route("/{slug}/polls/{poll_id}/vote", reader_polls.vote, methods=["POST"]),
        by_method("/{slug}/followers", POST=follow.follow, DELETE=follow.unfollow),
    ]
    middleware = [
        # Content-Security-Policy and the other defences' headers, on every answer.
        Middleware(SecurityHeaders),
        # Cached reads and live streams, before routing and the middleware below.
        Middleware(FastPaths),
        # SSE frames are tiny and must not wait in a compressor's buffer.
        Middleware(GZip, minimum_size=1024),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={
            DatelineError: errors.dateline_error,
            HTTPException: errors.http_error,
            Exception: errors.server_error,
        },
    )
    # What the error pages need before (and after) the lifespan has opened the services.
    app.state.settings = settings
    app.state.templates = templates
    return app
