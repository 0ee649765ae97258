"""One handler for every error: the contract's JSON under /api/, a page elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from dateline.errors import DatelineError, TooManyRequests, Unavailable
from dateline.web.responses import JSONResponse

log = logging.getLogger(__name__)

_TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported type",
    422: "Invalid input",
    429: "Too many attempts",
    503: "Temporarily unavailable",
    500: "Something went wrong",
}
_CODES = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 500: "internal_error"}


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/intake/")) or path == "/healthz" or path.endswith("/live"):
        return True  # /intake/: the platforms' webhooks (Telegram, Slack) are machines too
    # A client that sends or asks for JSON (a reader's vote from the page's script, an API
    # client voting) gets its errors as JSON too.
    sent = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return sent == "application/json" or "application/json" in request.headers.get("accept", "")


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if _wants_json(request):
        error: dict[str, Any] = {"code": code, "message": message}
        if field:
            error["field"] = field
        error.update(extra or {})
        return JSONResponse({"error": error}, status_code=status, headers=headers)
    html = request.app.state.templates.get_template("error.html").render(
        status=status, title=_TITLES.get(status, "Error"), message=message
    )
    return HTMLResponse(html, status_code=status, headers=headers)


async def dateline_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DatelineError)
    response = error_response(request, exc.status, exc.code, exc.message, exc.field, exc.extra)
    if isinstance(exc, TooManyRequests | Unavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    message = exc.detail
    if exc.status_code == 404:
        message = f"nothing is at {request.url.path!r}"
        if request.url.path.startswith("/api/"):
            message = f"there is no API endpoint {request.url.path!r}; see /api/v1/openapi.json"
    response = error_response(request, exc.status_code, code, str(message))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        request, 500, "internal_error", "the server failed; the error has been logged"
    )
