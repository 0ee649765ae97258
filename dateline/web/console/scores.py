"""The console's score box editor: +1/−1 per side, the status line, names and kind, take it down.

Each button is a plain form (it works without JavaScript and carries the CSRF token); the
console's script sends the same clicks through the JSON API instead (`POST
/api/v1/blogs/{slug}/score`) and shows the answer in place, so a goal is one click and no
reload. Both end in the newsroom, which counts each click inside the write transaction."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dateline.errors import BadRequest, Conflict, Forbidden, Invalid
from dateline.web.console.base import read_form, signed_in, text
from dateline.web.console.blogs import blog_console
from dateline.web.services import services


def _count(form: FormData) -> dict[str, Any]:
    side, by = text(form, "side"), text(form, "by")
    try:
        return {"side": int(side), "by": int(by or "1")}
    except ValueError:
        raise BadRequest("side and by must be whole numbers", field="by") from None


def _box(form: FormData) -> dict[str, Any]:
    """The names and kind typed into the editor (and the status, for a new box); the scores are
    left out, so a goal counted by someone else meanwhile is kept."""
    box: dict[str, Any] = {
        "kind": text(form, "kind") or "sport",
        "sides": [{"name": text(form, "home")}, {"name": text(form, "away")}],
    }
    if "status" in form:
        box["status"] = text(form, "status")
    return box


async def change_score(request: Request) -> Response:
    session = await signed_in(request)
    form = await read_form(request, session)
    slug = request.path_params["slug"]
    newsroom = services(request).newsroom
    action = text(form, "action")
    try:
        if action == "count":
            await newsroom.change_score(session.user, slug, _count(form))
        elif action == "status":
            await newsroom.change_score(session.user, slug, {"status": text(form, "status")})
        elif action == "save":
            await newsroom.update_blog(session.user, slug, {"score": _box(form)})
        elif action == "remove":
            await newsroom.update_blog(session.user, slug, {"score": None})
        else:
            raise BadRequest("action must be count, status, save or remove", field="action")
    except (Invalid, Conflict, BadRequest, Forbidden) as exc:
        typed = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
        response = await blog_console(request, score_error=exc.message, score_typed=typed)
        response.status_code = exc.status
        return response
    return RedirectResponse(f"/newsroom/blogs/{slug}?saved=score#score", status_code=303)


routes = [Route("/newsroom/blogs/{slug}/score", change_score, methods=["POST"])]
