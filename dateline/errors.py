"""One exception family. Each error carries the HTTP status and the stable code of the contract's
error JSON `{"error": {"code", "message"}}`; messages say what was wrong and how to fix it."""

from __future__ import annotations

from typing import Any


class DatelineError(Exception):
    status = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # More for the error JSON, such as the current version of what a stale edit changed.
        self.extra = extra or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (image decoding runs in a worker): keep every field.
        return (_restore, (type(self), self.message, dict(self.__dict__)))

    def with_extra(self, **extra: Any) -> DatelineError:
        self.extra.update(extra)
        return self

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        error.update(self.extra)
        return {"error": error}


class BadRequest(DatelineError):
    status = 400
    code = "bad_request"


class Unauthorized(DatelineError):
    status = 401
    code = "unauthorized"


class Forbidden(DatelineError):
    status = 403
    code = "forbidden"


class NotFound(DatelineError):
    status = 404
    code = "not_found"


class Conflict(DatelineError):
    status = 409
    code = "conflict"


class AlreadyPosted(Conflict):
    """A post with this origin exists already (`post_id`): the message was posted before."""

    def __init__(self, message: str, *, post_id: str) -> None:
        super().__init__(message)
        self.post_id = post_id


class PreconditionFailed(DatelineError):
    """An If-Match that names no version of this resource (not a stale one: that is 409)."""

    status = 412
    code = "precondition_failed"


class PreconditionRequired(DatelineError):
    """An edit that names no revision to start from: it would overwrite whatever is there."""

    status = 428
    code = "precondition_required"


class TooLarge(DatelineError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(DatelineError):
    status = 415
    code = "unsupported_media_type"


class Invalid(DatelineError):
    status = 422
    code = "invalid"


class TooManyRequests(DatelineError):
    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DatelineError):
    """Something Dateline needs is down or overloaded (the database, a connection slot): the
    request changed nothing and may be repeated after `retry_after` seconds."""

    status = 503
    code = "unavailable"

    def __init__(self, message: str, *, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ImportFailed(DatelineError):
    """A file that cannot be imported; the message names the line."""

    status = 422
    code = "import_failed"

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


def _restore(cls: type[DatelineError], message: str, state: dict[str, Any]) -> DatelineError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error
