"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json.

Request schemas come from the pydantic models that validate requests, and the post's and the
blog's response schemas from the model's dataclasses (the same fields the JSON shapes show), so
neither can drift from what the API does. tests/test_fuzz.py runs schemathesis against it."""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import fields
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from dateline.model import (
    Blog,
    Byline,
    Embed,
    EventType,
    Media,
    Person,
    Poll,
    Post,
    Score,
    ScoreKind,
    Side,
    shown_fields,
)
from dateline.newsroom import inputs
from dateline.web.responses import JSONResponse

_NULL = {"type": "null"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, _NULL]}


def _schema_of_type(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a field's value as the contract's JSON writes it."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        schema = _schema_of_type(inner[0])
        return _nullable(schema) if len(inner) < len(args) else schema
    if origin in (list, tuple):
        return {"type": "array", "items": _schema_of_type(args[0])}
    if kind is datetime:
        return {"type": "string", "format": "date-time"}
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return {"type": "string", "enum": [m.value for m in kind]}
    if kind in _VALUES:
        return _ref(_VALUES[kind])
    simple = {str: "string", int: "integer", bool: "boolean", float: "number"}
    if kind in simple:
        return {"type": simple[kind]}
    if typing.get_origin(kind) is dict or kind is dict:
        return {"type": "object"}
    raise TypeError(f"no JSON schema for {kind!r}")  # a new field type: say how it is shown


_VALUES = {
    Person: "Person",
    Byline: "Byline",
    Media: "MediaItem",
    Embed: "Embed",
    Score: "Score",
    Side: "Side",
    Poll: "Poll",
}


def _object_of(cls: type, names: tuple[str, ...], rename: dict[str, str]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties = {rename.get(n, n): _schema_of_type(hints[n]) for n in names}
    return {"type": "object", "properties": properties}


def _value_schemas() -> dict[str, Any]:
    person = _object_of(Person, ("name",), {})
    person["required"] = ["name"]
    byline = _object_of(Byline, ("people", "location"), {})
    byline["required"] = ["people", "location"]
    media = _object_of(Media, tuple(f.name for f in fields(Media)), {})
    media["required"] = ["url", "alt", "caption", "credit", "width", "height"]
    embed = _object_of(Embed, tuple(f.name for f in fields(Embed)), {})
    embed["required"] = [f.name for f in fields(Embed)]
    embed["description"] = (
        "The snapshot of a URL alone on a line of the body (docs/api.md#embeds): shown as a "
        "card; `frame` is loaded only when a reader asks."
    )
    side = _object_of(Side, ("name", "score"), {})
    side["properties"]["score"]["minimum"] = 0
    side["required"] = ["name", "score"]
    score = {
        "type": "object",
        "description": "The live score box; with kind 'sport' the first side is the home team",
        "properties": {
            "kind": _schema_of_type(ScoreKind),
            "status": {"type": "string"},
            "sides": {"type": "array", "items": _ref("Side"), "minItems": 2, "maxItems": 2},
        },
        "required": ["kind", "status", "sides"],
    }
    # A poll as shapes.poll_json writes it (the results as counted when the post was read).
    option = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "votes": {"type": "integer"},
                       "percent": {"type": "number"}},
        "required": ["text", "votes", "percent"],
    }  # fmt: skip
    poll = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "question": {"type": "string"},
            "options": {"type": "array", "items": option, "minItems": 2, "maxItems": 6},
            "total_votes": {"type": "integer"},
            "closes_at": {"type": "string", "format": "date-time"},
            "closed": {"type": "boolean"},
            "vote_url": {"type": "string", "description": "readers POST {option} here"},
        },
        "required": ["id", "question", "options", "total_votes", "closes_at", "closed",
                     "vote_url"],
    }  # fmt: skip
    return {
        "Person": person,
        "Byline": byline,
        "MediaItem": media,
        "Embed": embed,
        "Side": side,
        "Score": score,
        "Poll": poll,
    }


def _post_schema() -> dict[str, Any]:
    post = _object_of(Post, shown_fields(Post), {"blog_slug": "blog"})
    post["properties"]["url"] = {"type": "string"}
    post["description"] = (
        "A post (docs/api.md). A deleted post carries only id, blog, seq, url, status and "
        "updated_at: its words travel no further."
    )
    post["required"] = ["id", "blog", "seq", "url", "status", "updated_at"]
    return post


def _blog_schema() -> dict[str, Any]:
    blog = _object_of(Blog, shown_fields(Blog), {})
    blog["properties"]["url"] = {"type": "string"}
    blog["properties"]["embed_html"] = {"type": "string", "description": "GET only"}
    blog["required"] = [*shown_fields(Blog), "url"]
    return blog


_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "current": {"$ref": "#/components/schemas/Post"},
                "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    # Every operation may find the database away (503, with Retry-After).
    return {str(c): _json(_ref("Error"), "error") for c in sorted({*codes, 503})}


def _op(summary: str, ok: int, schema: str | None, *, body: str | None = None,
        auth: bool = False, errors: tuple[int, ...] = (404,),
        query: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): _json(_ref(schema) if schema else {}, "success"),
            **_errors(*errors),
        },
    }
    if query:
        op["parameters"] = query
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if auth:
        op["security"] = [{"bearer": []}]
    return op


def _archive_op() -> dict[str, Any]:
    op = _op("The blog whole, as a dateline-archive/1 .tar.gz (editors of the blog)", 200, None,
             auth=True, errors=(401, 403, 404, 429))  # fmt: skip
    op["responses"]["200"] = {
        "description": "the archive (docs/archive.md)",
        "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
    }
    return op


def _post_get() -> dict[str, Any]:
    op = _op("One post", 200, "Post", errors=(401, 404))
    op["responses"]["200"]["headers"] = {"ETag": {
        "description": "strong; names the post's revision (ID.rN.DIGEST): send it back as "
                       "If-Match to edit from this version",
        "schema": {"type": "string"}}}  # fmt: skip
    return op


def _post_patch() -> dict[str, Any]:
    op = _op("Edit, pin, flag or publish a post", 200, "Post", body="PostPatch", auth=True,
             errors=(*_WRITE_ERRORS, 412, 428))  # fmt: skip
    op["description"] = (
        "An edit carries the revision it started from: If-Match with the ETag GET answered, or "
        "base_revision (both at once must agree, else 422). If the post has changed since: 409, "
        "with the current post in error.current to merge into. An If-Match that is not one of "
        "this post's ETags: 412. An edit of the post's text, pictures, tags, correction or time "
        "with neither: 428 (If-Match: * overwrites any version). Pins, flags and status changes "
        "need no revision."
    )
    op["parameters"] = [{
        "name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "the post's ETag from GET (its revision)"}]  # fmt: skip
    return op


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}  # fmt: skip


_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_POST_ID = {"name": "post_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422)
_SORT = _query("sort", {"type": "string", "enum": ["newest", "oldest"]}, "the order")
_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "posts per page")
_CURSOR = _query("cursor", {"type": "string"}, "the next_cursor of the previous page")
_AFTER = _query(
    "after",
    {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
    "the last seq the caller has (or the Last-Event-ID header)",
)
_TAG = _query(
    "tag", {"type": "string", "minLength": 1, "maxLength": 50}, "only posts with this tag"
)
_EVENTS_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "events")


_WEBHOOK_ID = {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _webhook_schemas() -> dict[str, Any]:
    """What newsroom/webhooks.py's webhook_json and delivery_json write."""
    time, text, number = {"type": "string", "format": "date-time"}, {"type": "string"}, {
        "type": "integer"}  # fmt: skip
    webhook: dict[str, Any] = {
        "type": "object",
        "properties": {
            "id": number, "url": text, "state": {"type": "string", "enum": ["active", "paused"]},
            "delivered_seq": number, "pending": number, "attempts": number,
            "next_attempt_at": _nullable(time), "failing_since": _nullable(time),
            "last_error": _nullable(text), "paused_reason": _nullable(text),
            "created_at": _nullable(time),
        },
        "required": ["id", "url", "state", "delivered_seq", "pending", "attempts"],
    }  # fmt: skip
    delivery: dict[str, Any] = {
        "type": "object",
        "properties": {"seq": number, "at": time, "status": _nullable(number),
                       "ok": {"type": "boolean"}, "duration_ms": number, "error": _nullable(text)},
        "required": ["seq", "at", "status", "ok", "duration_ms"],
    }  # fmt: skip
    return {
        "Webhook": webhook,
        "NewWebhook": {**webhook, "properties": {**webhook["properties"], "secret": text},
                       "required": [*webhook["required"], "secret"]},
        "WebhookDetail": {**webhook, "properties": {**webhook["properties"], "deliveries": {
            "type": "array", "items": delivery}}, "required": [*webhook["required"], "deliveries"]},
        "WebhookList": {"type": "object", "properties": {"webhooks": {
            "type": "array", "items": _ref("Webhook")}}, "required": ["webhooks"]},
    }  # fmt: skip


@cache
def spec() -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {
        "BlogCreate": inputs.BlogCreate,
        "BlogPatch": inputs.BlogPatch,
        "ScoreChange": inputs.ScoreChange,
        "PostCreate": inputs.PostCreate,
        "PostPatch": inputs.PostPatch,
        "PostDelete": inputs.PostDelete,
        "MediaUpload": inputs.MediaUpload,
        "WebhookCreate": inputs.WebhookCreate,
        "WebhookPatch": inputs.WebhookPatch,
    }
    schemas: dict[str, Any] = {"Error": _ERROR, **_value_schemas()}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    schemas["Blog"] = _blog_schema()
    schemas["Post"] = _post_schema()
    schemas["PostList"] = {
        "type": "object",
        "properties": {"posts": {"type": "array", "items": _ref("Post")},
                       "next_cursor": _nullable({"type": "string"})},
        "required": ["posts", "next_cursor"],
    }  # fmt: skip
    schemas["Revision"] = {
        "type": "object",
        "properties": {
            "number": {"type": "integer"},
            "created_at": {"type": "string", "format": "date-time"},
            "by": _nullable({"type": "string"}),
            "headline": {"type": "string"},
            "body": {"type": "string"},
            "byline": _ref("Byline"),
            "contributors": _nullable({"type": "array", "items": {"type": "string"}}),
            "media": {"type": "array", "items": _ref("MediaItem")},
            "note": _nullable({"type": "string"}),
        },
        "required": ["number", "created_at", "headline", "body", "byline", "media"],
    }
    schemas["Revisions"] = {
        "type": "object",
        "properties": {"revisions": {"type": "array", "items": _ref("Revision")}},
        "required": ["revisions"],
    }
    variant = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "width": {"type": "integer"},
                       "height": {"type": "integer"}},
        "required": ["name", "width", "height"],
    }  # fmt: skip
    schemas["Media"] = {
        "type": "object",
        "properties": {
            **{n: {"type": "string"} for n in ("key", "url", "srcset", "content_type", "alt",
                                               "caption", "credit")},
            "width": {"type": "integer"},
            "height": {"type": "integer"},
            "variants": {"type": "array", "items": variant},
            "animated": {"type": "boolean"},
            "poster": _nullable({"type": "string"}),
            "poster_srcset": _nullable({"type": "string"}),
        },
        "required": ["key", "url", "srcset", "width", "height", "alt", "caption", "credit"],
    }  # fmt: skip
    schemas["Event"] = {
        "type": "object",
        "properties": {
            "seq": {"type": "integer"},
            "type": {"type": "string", "enum": [t.value for t in EventType]},
            "post_id": _nullable({"type": "string"}),
            "post": _ref("Post"),
            "blog": _ref("Blog"),
            "score_html": {
                "type": "string",
                "description": "blog events: the score box as the page shows it",
            },
            "poll": {**_ref("Poll"), "description": "poll.results: the poll and its counts"},
            "html": {"type": "string", "description": "the post (or poll) as the page shows it"},
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["seq", "type", "post_id", "at"],
    }
    schemas["Events"] = {
        "type": "object",
        "properties": {"events": {"type": "array", "items": _ref("Event")},
                       "last_seq": {"type": "integer"}},
        "required": ["events", "last_seq"],
    }  # fmt: skip
    schemas["Health"] = {
        "type": "object",
        "properties": {"status": {"const": "ok"}, "database": {"type": "string"},
                       "checks": {"type": "object"}},
        "required": ["status", "database", "checks"],
    }  # fmt: skip
    schemas.update(_webhook_schemas())
    schemas["PushKey"] = {
        "type": "object",
        "properties": {"public_key": {
            "type": "string", "description": "the VAPID public key, base64url (65 bytes): "
            "pushManager.subscribe's applicationServerKey"}},
        "required": ["public_key"],
    }  # fmt: skip
    words = inputs.MediaUpload.model_json_schema()["properties"]
    upload = {
        "type": "object",
        "properties": {**words, "file": {"type": "string", "format": "binary"}},
        "required": ["file", "alt", "caption", "credit"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dateline API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/healthz": {
                "get": _op("Whether this node can serve and write", 200, "Health", errors=()),
            },
            "/api/v1/blogs": {
                "post": _op("Create a blog", 201, "Blog", body="BlogCreate", auth=True,
                            errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}": {
                "parameters": [_SLUG],
                "get": _op("A blog's header", 200, "Blog"),
                "patch": _op("Change a blog's header or status", 200, "Blog", body="BlogPatch",
                             auth=True, errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}/score": {
                "parameters": [_SLUG],
                "post": _op("Count a point on the score box, or change its status line (one "
                            "blog.score event)", 200, "Blog", body="ScoreChange", auth=True,
                            errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}/posts": {
                "parameters": [_SLUG],
                "get": _op("Published posts, a page at a time", 200, "PostList",
                           errors=(400, 404), query=[_SORT, _LIMIT, _CURSOR, _TAG]),
                "post": _op("Write a post", 201, "Post", body="PostCreate", auth=True,
                            errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}/posts/{post_id}": {
                "parameters": [_SLUG, _POST_ID],
                "get": _post_get(),
                "patch": _post_patch(),
                "delete": {**_op("Delete a post (kept in the store)", 200, "Post", auth=True,
                                 errors=_WRITE_ERRORS),
                           "requestBody": {"required": False, "content": {
                               "application/json": {"schema": _ref("PostDelete")}}}},
            },
            "/api/v1/blogs/{slug}/posts/{post_id}/revisions": {
                "parameters": [_SLUG, _POST_ID],
                "get": _op("A post's revisions, oldest first", 200, "Revisions", auth=True,
                           errors=(401, 403, 404)),
            },
            "/api/v1/blogs/{slug}/export": {
                "parameters": [_SLUG],
                "get": _archive_op(),
            },
            "/api/v1/media": {
                "post": {
                    **_op("Upload an image (stripped of metadata, resized)", 201, "Media",
                          auth=True, errors=(400, 401, 403, 413, 415, 422)),
                    "requestBody": {"required": True, "content": {"multipart/form-data": {
                        "schema": upload}}},
                },
            },
            "/api/v1/blogs/{slug}/webhooks": {
                "parameters": [_SLUG],
                "get": _op("The blog's webhooks (editors of the blog)", 200, "WebhookList",
                           auth=True, errors=(401, 403, 404)),
                "post": _op("Register a webhook; the answer alone shows its secret", 201,
                            "NewWebhook", body="WebhookCreate", auth=True,
                            errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}/webhooks/{webhook_id}": {
                "parameters": [_SLUG, _WEBHOOK_ID],
                "get": _op("A webhook and its delivery log, newest first", 200,
                           "WebhookDetail", auth=True, errors=(401, 403, 404)),
                "patch": _op("Pause a webhook, or resume it from where it stopped", 200,
                             "Webhook", body="WebhookPatch", auth=True, errors=_WRITE_ERRORS),
                "delete": {"summary": "Delete a webhook", "security": [{"bearer": []}],
                           "responses": {"204": {"description": "deleted"},
                                         **_errors(401, 403, 404)}},
            },
            "/api/v1/push/key": {
                "get": _op("The key browsers subscribe to web push with (docs/api.md, "
                           "Following a story)", 200, "PushKey", errors=(404,)),
            },
            "/api/v1/blogs/{slug}/events": {
                "parameters": [_SLUG],
                "get": _op("Events after a seq (the live stream, pollable)", 200, "Events",
                           errors=(400, 404), query=[_AFTER, _EVENTS_LIMIT]),
            },
        },
    }  # fmt: skip


async def openapi_json(request: Request) -> Response:
    return JSONResponse(spec())
