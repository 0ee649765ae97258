"""The `dateline` command: demo, serve, migrate, user create, import."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from dateline.bus import open_bus
from dateline.config import SETTINGS, Settings
from dateline.errors import DatelineError, NotFound
from dateline.importers import ImportedBlog
from dateline.importers.text import parse_text
from dateline.model import Role, User
from dateline.newsroom import Newsroom
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
    serve(settings)


# -- migrate -------------------------------------------------------------------------------


@main.command()
@click.option("--db", "db", default=None, help=_help("database_url"))
def migrate(db: str | None) -> None:
    """Create or upgrade the database schema to the newest version."""
    settings = Settings.load({"database_url": database_url(db)})
    run(lambda: _with_newsroom(settings, _noop))
    console.print(f"database {settings.public()['database_url']} is up to date")


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
    """Deactivate a user: their sessions and API tokens stop working at once."""
    _set_active(email, db, False)
    console.print(f"{email} is deactivated")


@user.command("reactivate")
@click.argument("email")
@click.option("--db", "db", default=None, help=_help("database_url"))
def user_reactivate(email: str, db: str | None) -> None:
    """Reactivate a deactivated user (their unrevoked tokens work again)."""
    _set_active(email, db, True)
    console.print(f"{email} is active again")


# -- import --------------------------------------------------------------------------------


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--slug", required=True, help="The new blog's slug (its URL).")
@click.option("--format", "fmt", type=click.Choice(["text"]), default="text", show_default=True)
@click.option("--timezone", default=None, help="IANA zone of the dump's times (default: inferred).")
@click.option("--db", "db", default=None, help=_help("database_url"))
def import_(file: Path, slug: str, fmt: str, timezone: str | None, db: str | None) -> None:
    """Import a live blog from a file, in one transaction."""
    settings = Settings.load({"database_url": database_url(db)})
    try:
        text = file.read_text("utf-8")
    except UnicodeDecodeError as exc:
        err.print(f"[red]error:[/red] {file} is not UTF-8 text ({exc.reason} at byte {exc.start})")
        sys.exit(2)

    async def body(newsroom: Newsroom) -> tuple[ImportedBlog, Any]:
        imported = parse_text(text, slug=slug, timezone=timezone)
        blog = await newsroom.import_blog(imported)
        return imported, blog

    imported, blog = run(lambda: _with_newsroom(settings, body))
    for warning in imported.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    console.print(f"imported {blog.post_count} posts into /{blog.slug} ({blog.title})")


if __name__ == "__main__":  # pragma: no cover
    main()
