"""The `dateline` command: demo, serve, migrate, push-keys, user, import, export."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from dateline.bus import open_bus
from dateline.config import SETTINGS, Settings
from dateline.errors import DatelineError, NotFound
from dateline.importers import ImportedBlog
from dateline.importers.text import parse_text
from dateline.model import Role, User
from dateline.newsroom import Newsroom
from dateline.outbound.vapid import load_private_key, new_private_key, public_key_of
from dateline.store import open_store

console = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
T = TypeVar("T")

DEMO_SLUG = "xi-putin-moscow"
DEMO_SEED = "cnn-2023-03-20-xi-putin-moscow.txt"
DEMO_ADMIN = "admin@dateline.example"


def _help(name: str) -> str:
    setting = next(s for s in SETTINGS if s.name == name)
    return f"{setting.help} [env {setting.env}; default {setting.default!r}]"


def database_url(value: str | None) -> str | None:
    """Flags take a URL, or for convenience a plain file path meaning SQLite."""
    if value is None or "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async command body; a DatelineError ends the command with its message."""
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except DatelineError as exc:
        _fail(exc)


def _fail(exc: DatelineError) -> NoReturn:
    err.print(f"[red]error:[/red] {exc.message}")
    sys.exit(1 if exc.status >= 500 else 2)


async def _with_newsroom(settings: Settings, body: Callable[[Newsroom], Awaitable[T]]) -> T:
    """Run `body` with a newsroom on the configured store. The command line acts as the
    instance itself (actor None): it holds the database's own credentials."""
    store = await open_store(settings.database_url)
    try:
        return await body(Newsroom(store, open_bus("memory://"), settings=settings))
    finally:
        await store.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dateline")
def main() -> None:
    """Dateline: a live blog platform. A newsroom publishes short timestamped posts about a
    developing story; readers see them appear in real time."""


# -- demo ----------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--db",
    "db",
    default="dateline-demo.db",
    show_default=True,
    help="SQLite file for the demo (created if absent).",
)
def demo(host: str, port: int, db: str) -> None:
    """Create a database with the seed blog and an admin, print the login, and serve it."""
    settings = Settings.load({"database_url": database_url(db), "host": host, "port": port})
    password = secrets.token_urlsafe(12)

    async def prepare(newsroom: Newsroom) -> tuple[str | None, str | None, list[str]]:
        """(the new admin's password and token, or None when the admin exists already; the
        importer's warnings)."""
        admin = await newsroom.user_by_email(None, DEMO_ADMIN)
        made = admin is None
        if admin is None:
            admin = await newsroom.create_user(
                None, email=DEMO_ADMIN, name="Demo Admin", role="admin", password=password
            )
        warnings: list[str] = []
        try:
            await newsroom.store.get_blog(DEMO_SLUG)
        except DatelineError:
            seed = resources.files("dateline").joinpath("demo", DEMO_SEED).read_text("utf-8")
            imported = parse_text(seed, slug=DEMO_SLUG)
            warnings = imported.warnings
            await newsroom.import_blog(imported, admin)
        if not made:  # keep what was printed the first time: it may be in use
            return None, None, warnings
        return password, await newsroom.issue_token(admin, "demo"), warnings

    made_password, token, warnings = run(lambda: _with_newsroom(settings, prepare))
    for warning in warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    base = f"http://{host}:{port}"
    db_flag = f"--db {db}"
    console.print(f"[bold]Dateline demo[/bold] at {base}/{DEMO_SLUG}")
    console.print(f"  database   {settings.database_url}")
    console.print(f"  newsroom   {base}/newsroom/  (sign in with the admin below)")
    console.print(f"  admin      {DEMO_ADMIN}")
    if made_password is None or token is None:
        console.print(
            "  password   unchanged since it was made (a new one: "
            f"dateline user set-password {DEMO_ADMIN} {db_flag})"
        )
        console.print(
            f"  API token  the one printed before (a new one: dateline user token {DEMO_ADMIN} "
            f"{db_flag})"
        )
        token = "TOKEN"
    else:
        console.print(f"  password   {made_password}")
        console.print(f"  API token  {token}")
    console.print(
        f"  try        curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f'-d \'{{"headline": "Hello", "body": "First post"}}\' '
        f"{base}/api/v1/blogs/{DEMO_SLUG}/posts"
    )
    _serve(settings)


# -- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("--db", "db", default=None, help=_help("database_url"))
@click.option("--bus", "bus", default=None, help=_help("bus_url"))
@click.option("--host", default=None, help=_help("host"))
@click.option("--port", default=None, type=int, help=_help("port"))
@click.option("--workers", default=None, type=int, help=_help("workers"))
def serve(
    db: str | None, bus: str | None, host: str | None, port: int | None, workers: int | None
) -> None:
    """Serve readers and the API."""
    settings = Settings.load(
        {
            "database_url": database_url(db),
            "bus_url": bus,
            "host": host,
            "port": port,
            "workers": workers,
        }
    )
    run(lambda: _with_newsroom(settings, _noop))  # migrate once, before any worker starts
    _serve(settings)


async def _noop(newsroom: Newsroom) -> None:
    return None


def _serve(settings: Settings) -> None:
    from dateline.web.server.run import serve

    if settings.workers > 1 and settings.bus_url.startswith("memory:"):
        err.print(
            "[red]error:[/red] --workers > 1 needs a shared bus: with memory:// a post written "
            "through one worker would not reach readers held by another. Use one worker, or "
            "set --bus redis://HOST:6379/0."
        )
        sys.exit(2)
    try:
        serve(settings)
    except DatelineError as exc:  # a limit that cannot work, refused before listening
        _fail(exc)


# -- migrate -------------------------------------------------------------------------------


@main.command()
@click.option("--db", "db", default=None, help=_help("database_url"))
def migrate(db: str | None) -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = Settings.load({"database_url": database_url(db)})
    run(lambda: _with_newsroom(settings, _noop))
    console.print(f"database {settings.public()['database_url']} is up to date")


@main.command("push-keys")
def push_keys() -> None:
    """Make a VAPID key pair for web push: set DATELINE_VAPID_PRIVATE_KEY to the first line."""
    private = new_private_key()
    console.print(f"DATELINE_VAPID_PRIVATE_KEY={private}")
    console.print(
        f"# public key (pages hand it to browsers): {public_key_of(load_private_key(private))}"
    )


# -- user ----------------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Manage newsroom accounts."""


@user.command("create")
@click.argument("email")
@click.option("--name", required=True, help="Display name, as in bylines.")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--token", "make_token", is_flag=True, help="Print a new API token on the last line.")
@click.option("--blog", "blogs", multiple=True, help="Make the user a member of this blog.")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_create(
    email: str,
    name: str,
    role: str,
    password_stdin: bool,
    make_token: bool,
    blogs: tuple[str, ...],
    db: str | None,
) -> None:
    """Create a user (admin, editor or contributor)."""
    settings = Settings.load({"database_url": database_url(db)})
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None

    async def body(newsroom: Newsroom) -> tuple[Any, str | None]:
        created = await newsroom.create_user(
            None, email=email, name=name, role=role, password=password, blogs=blogs
        )
        token = await newsroom.issue_token(created, "cli") if make_token else None
        return created, token

    created, token = run(lambda: _with_newsroom(settings, body))
    memberships = f" in {', '.join(blogs)}" if blogs else ""
    console.print(f"created {created.role.value} {created.email}{memberships}")
    if token:
        print(token)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    return value


async def _user(newsroom: Newsroom, email: str) -> User:
    found = await newsroom.user_by_email(None, email)
    if found is None:
        raise NotFound(f"there is no user {email!r}; `dateline user list` shows who there is")
    return found


@user.command("list")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_list(db: str | None) -> None:
    """List the newsroom's users: email, name, role, and whether they are active."""
    settings = Settings.load({"database_url": database_url(db)})
    users = run(lambda: _with_newsroom(settings, lambda n: n.list_users(None)))
    for u in users:
        state = "active" if u.active else "deactivated"
        print(f"{u.email}\t{u.name}\t{u.role.value}\t{state}")  # tab-separated, for scripts


@user.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_set_password(email: str, password_stdin: bool, db: str | None) -> None:
    """Set a user's password (ends every console session of theirs)."""
    settings = Settings.load({"database_url": database_url(db)})
    password = _password(password_stdin)

    async def body(newsroom: Newsroom) -> None:
        found = await _user(newsroom, email)
        assert found.id is not None
        await newsroom.set_password(None, found.id, password)

    run(lambda: _with_newsroom(settings, body))
    console.print(f"the password of {email} is set; their console sessions have ended")


@user.command("token")
@click.argument("email")
@click.option("--label", default="cli", show_default=True, help="What the token is for.")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_token(email: str, label: str, db: str | None) -> None:
    """Make a new API token for a user and print it (shown once)."""
    settings = Settings.load({"database_url": database_url(db)})

    async def body(newsroom: Newsroom) -> str:
        return await newsroom.issue_token(await _user(newsroom, email), label)

    print(run(lambda: _with_newsroom(settings, body)))


def _set_active(email: str, db: str | None, active: bool) -> None:
    settings = Settings.load({"database_url": database_url(db)})

    async def body(newsroom: Newsroom) -> None:
        found = await _user(newsroom, email)
        assert found.id is not None
        await newsroom.set_active(None, found.id, active)

    run(lambda: _with_newsroom(settings, body))


@user.command("deactivate")
@click.argument("email")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_deactivate(email: str, db: str | None) -> None:
    """Deactivate a user: their sessions end, their API tokens and reporter pairings are
    revoked for good."""
    _set_active(email, db, False)
    console.print(f"{email} is deactivated")


@user.command("reactivate")
@click.argument("email")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_reactivate(email: str, db: str | None) -> None:
    """Reactivate a deactivated user (without their old tokens: `user token` makes a new one)."""
    _set_active(email, db, True)
    console.print(f"{email} is active again")


# -- import and export -----------------------------------------------------------------------

FORMATS = {
    "text": "a live blog page as a reader's text dump (the demo's seed is one; docs/importing.md "
    "lists the layouts it reads)",
    "json": "a Dateline archive (.tar.gz or its folder), as `dateline export --format json` "
    "writes it: the blog whole, restored with its ids, history, events, people and images",
    "jsonld": "an HTML page (a saved file, or an http(s) URL) carrying schema.org "
    "LiveBlogPosting JSON-LD with liveBlogUpdate items",
    "wordpress": "the WordPress Liveblog plugin: its REST entries (JSON) or a WordPress export "
    "(WXR XML) whose liveblog entries are comments of the post",
}
# A text, JSON-LD or WordPress source is read whole (its posts are parsed one at a time).
MAX_SOURCE_BYTES = 512 * 1024 * 1024


def _format_help() -> str:
    return "; ".join(f"{name}: {what}" for name, what in FORMATS.items())


def _read_source(source: str, fmt: str) -> str:
    """The text of a file (or, for jsonld, a page at an http(s) URL), bounded and UTF-8."""
    if fmt == "jsonld" and source.startswith(("http://", "https://")):
        from dateline.importers.fetch import fetch_page

        return fetch_page(source)
    path = Path(source)
    if not path.is_file():
        raise click.BadParameter(f"{source} is not a file", param_hint="SOURCE")
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise click.BadParameter(
            f"{source} is larger than {MAX_SOURCE_BYTES // 2**20} MB", param_hint="SOURCE"
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        err.print(
            f"[red]error:[/red] {source} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        )
        sys.exit(2)


def _captured_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            "must be an RFC 3339 time with an offset, such as 2023-09-20T14:05:00-04:00",
            param_hint="--captured-at",
        )
    return moment


def _reader(
    fmt: str,
    text: str,
    slug: str,
    timezone: str | None,
    captured: datetime | None,
    title: str | None,
) -> ImportedBlog:
    if fmt == "text":
        return parse_text(text, slug=slug, timezone=timezone, captured_at=captured)
    if fmt == "jsonld":
        from dateline.importers.jsonld import parse_jsonld

        return parse_jsonld(text, slug=slug, timezone=timezone)
    from dateline.importers.wordpress import parse_wordpress

    return parse_wordpress(text, slug=slug, timezone=timezone, title=title)


class _Bar:
    """A progress bar on standard error (rich draws it only on a terminal)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
            transient=True, disable=not err.is_terminal,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.progress.add_task(stage, total=total)
        self.progress.update(self.tasks[stage], completed=done, total=total)

    def __enter__(self) -> _Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


@main.command("import")
@click.argument("source")
@click.option("--slug", default=None, help="The new blog's slug (its URL). Required, except "
              "with --format json, where it defaults to the archive's.")  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(list(FORMATS)), default="text", show_default=True,
    help=_format_help(),
)  # fmt: skip
@click.option(
    "--captured-at", default=None,
    help="When the page was saved (RFC 3339 with offset, such as 2023-09-20T14:05:00-04:00): "
    "anchors relative post times such as '3 min ago' in a text dump.",
)  # fmt: skip
@click.option(
    "--timezone", default=None,
    help="IANA zone (such as Europe/Kyiv): the blog's display zone, and what an ambiguous zone "
    "abbreviation (IST, CST) or a time without an offset means. Default: inferred.",
)  # fmt: skip
@click.option(
    "--title", default=None,
    help="wordpress: the blog's title (the plugin's JSON entries carry none; a WXR export's "
    "post title is used otherwise).",
)  # fmt: skip
@click.option("--db", "db", default=None, help=_help("database_url"))
@click.option("--media-dir", default=None, help=_help("media_dir"))
def import_(
    source: str,
    slug: str | None,
    fmt: str,
    captured_at: str | None,
    timezone: str | None,
    title: str | None,
    db: str | None,
    media_dir: str | None,
) -> None:
    """Import a live blog from SOURCE (a file; for --format json a .tar.gz or a folder; for
    --format jsonld also an http(s) URL). Everything is checked like a post sent to the API,
    and a source that cannot be read or breaks a rule imports nothing.

    Posts are written in batches, so a running node on the same database keeps publishing
    meanwhile; readers see the blog once the import is complete."""
    settings = Settings.load({"database_url": database_url(db), "media_dir": media_dir})
    if fmt == "json":
        _restore(source, slug, settings)
        return
    if slug is None:
        raise click.UsageError("--slug is required with --format " + fmt)
    if title is not None and fmt != "wordpress":
        raise click.UsageError("--title is for --format wordpress only")
    captured = _captured_at(captured_at)
    try:
        text = _read_source(source, fmt)  # before the store is opened: a bad source changes nothing
    except DatelineError as exc:
        _fail(exc)

    async def body(newsroom: Newsroom) -> tuple[ImportedBlog, Any]:
        imported = _reader(fmt, text, slug, timezone, captured, title)
        with _Bar() as bar:
            blog = await newsroom.import_blog(imported, progress=bar)
        return imported, blog

    imported, blog = run(lambda: _with_newsroom(settings, body))
    for warning in imported.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"imported {blog.post_count} posts into /{blog.slug} ({blog.title})")


def _restore(source: str, slug: str | None, settings: Settings) -> None:
    from dateline.importers.archive import Archive

    path = Path(source)
    if not path.exists():
        raise click.BadParameter(f"{source} does not exist", param_hint="SOURCE")

    async def body(newsroom: Newsroom) -> Any:
        with Archive(path) as archive, _Bar() as bar:
            return await newsroom.restore_archive(archive, slug=slug, progress=bar)

    restored = run(lambda: _with_newsroom(settings, body))
    blog = restored.blog
    for warning in restored.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if restored.new_accounts:
        err.print(
            f"[yellow]note:[/yellow] made {len(restored.new_accounts)} account(s), deactivated "
            "and without a password, for people of the archive this instance did not know: "
            + ", ".join(restored.new_accounts)
            + ". An admin lets each in with `dateline user set-password EMAIL` and "
            "`dateline user reactivate EMAIL`."
        )
    console.print(
        f"restored /{blog.slug} ({blog.title}): {blog.post_count} published posts, "
        f"event log up to seq {blog.last_seq}"
    )


@main.command("export")
@click.argument("slug")
@click.option(
    "--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True,
    help="json: a Dateline archive (dateline-archive/1, a .tar.gz; a folder if --out is an "
    "empty folder or ends with /), the blog whole for `dateline import --format json`. "
    "html: a static site of ended coverage (the page, an oldest-first page, every permalink, "
    "the Atom feed, images, CSS; no live script), for any web server with Dateline stopped.",
)  # fmt: skip
@click.option(
    "--out", default=None,
    help="Where to write: default SLUG.dateline.tar.gz (json) or SLUG-archive/ (html).",
)  # fmt: skip
@click.option(
    "--origin", default="",
    help="html: the public site's scheme and host (https://live.example.org), for canonical "
    "links, JSON-LD and the feed's ids; default: paths only.",
)  # fmt: skip
@click.option("--db", "db", default=None, help=_help("database_url"))
@click.option("--media-dir", default=None, help=_help("media_dir"))
def export(
    slug: str, fmt: str, out: str | None, origin: str, db: str | None, media_dir: str | None
) -> None:
    """Export blog SLUG: an archive to move or keep it (json), or a static site (html)."""
    settings = Settings.load({"database_url": database_url(db), "media_dir": media_dir})
    if fmt == "html":
        from dateline.exporters.html import export_html

        target = Path(out or f"{slug}-archive")

        async def html(newsroom: Newsroom) -> Any:
            return await export_html(newsroom, slug, target, settings=settings, origin=origin)

        done = run(lambda: _with_newsroom(settings, html))
        console.print(
            f"wrote the static archive of /{slug} to {done.out}/: {done.pages} pages, "
            f"{done.images} images, {done.bytes} bytes"
        )
        for name in done.missing_images:
            err.print(
                f"[yellow]warning:[/yellow] the image {name} is missing from the media folder"
            )
        return
    from dateline.exporters.archive import export_archive

    folder = out is not None and (out.endswith("/") or Path(out).is_dir())
    path = Path(out or f"{slug}.dateline.tar.gz")

    async def archive(newsroom: Newsroom) -> Any:
        with _Bar() as bar:
            return await export_archive(newsroom, None, slug, path, folder=folder, progress=bar)

    done = run(lambda: _with_newsroom(settings, archive))
    console.print(
        f"wrote {done.path}: {done.posts} posts, {done.events} events, {done.files} image files, "
        f"{done.bytes} bytes"
    )


if __name__ == "__main__":  # pragma: no cover
    main()
