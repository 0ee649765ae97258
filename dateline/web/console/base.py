"""What every console page and form shares: rendering, the sign-in check and CSRF-checked forms."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dateline.errors import BadRequest, DatelineError, Unauthorized
from dateline.newsroom import permissions
from dateline.web.auth import CSRF_FIELD, Session, check_csrf, current_session
from dateline.web.services import services

_FORM_LIMIT = 256 * 1024
# The console is never cached and never framed by another site (clickjacking).
NO_STORE = {"Cache-Control": "no-store", "X-Frame-Options": "DENY"}


def page(request: Request, template: str, session: Session | None, **context: Any) -> Response:
    html = (
        services(request)
        .templates.get_template(f"newsroom/{template}")
        .render(
            user=session.user if session else None,
            can=permissions.abilities(session.user if session else None),
            csrf_token=session.csrf_token if session else "",
            csrf_field=CSRF_FIELD,
            **context,
        )
    )
    return HTMLResponse(html, headers=NO_STORE)


def to_login(request: Request) -> Response:
    return RedirectResponse(f"/newsroom/login?next={quote(request.url.path)}", status_code=303)


async def signed_in(request: Request) -> Session:
    """The session behind a console write; anonymous writes are refused, not redirected."""
    session = await current_session(request)
    if session is None:
        raise Unauthorized("sign in at /newsroom/login first")
    return session


async def read_form(request: Request, session: Session) -> FormData:
    """A console form, size-capped and CSRF-checked before anything is done with it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _FORM_LIMIT:
        raise BadRequest("the form is too large")
    form = await request.form(max_files=0, max_fields=50)
    value = form.get(CSRF_FIELD)
    check_csrf(session, value if isinstance(value, str) else None)
    return form


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field_errors(exc: DatelineError) -> dict[str, str]:
    """A refusal as the form shows it, next to the field it names ("authors.0.name" is the
    authors box)."""
    return {(exc.field or "form").split(".")[0]: exc.message}


async def form_again(
    request: Request, show: Callable[..., Awaitable[Response]], exc: DatelineError, form: Any
) -> Response:
    """The same page, with the form as it was typed and the error next to its field."""
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    response = await show(request, values=values, errors=field_errors(exc))
    response.status_code = exc.status
    return response
