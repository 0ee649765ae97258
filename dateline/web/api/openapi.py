"""The OpenAPI 3.1 description of the JSON API, served at /api/v1/openapi.json. Request schemas
come from the same pydantic models that validate requests, so the two cannot drift apart."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from dateline.newsroom import inputs
from dateline.web.responses import JSONResponse

_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
            "required": ["code", "message"],
        }
    },
}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _json(_ref("Error"), "error") for c in codes}


def _op(summary: str, ok: int, schema: str | None, *, body: str | None = None,
        auth: bool = False, errors: tuple[int, ...] = (404,)) -> dict[str, Any]:  # fmt: skip
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            str(ok): _json(_ref(schema) if schema else {}, "success"),
            **_errors(*errors),
        },
    }
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if auth:
        op["security"] = [{"bearer": []}]
    return op


_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_POST_ID = {"name": "post_id", "in": "path", "required": True, "schema": {"type": "string"}}
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 422)


@cache
def spec() -> dict[str, Any]:
    models: dict[str, type[BaseModel]] = {
        "BlogCreate": inputs.BlogCreate,
        "BlogPatch": inputs.BlogPatch,
        "PostCreate": inputs.PostCreate,
        "PostPatch": inputs.PostPatch,
        "PostDelete": inputs.PostDelete,
        "MediaUpload": inputs.MediaUpload,
    }
    schemas: dict[str, Any] = {"Error": _ERROR}
    for name, model in models.items():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    schemas["Blog"] = {"type": "object", "description": "See docs/api.md for the fields."}
    schemas["Post"] = {"type": "object", "description": "See docs/api.md for the fields."}
    schemas["PostList"] = {
        "type": "object",
        "properties": {"posts": {"type": "array", "items": _ref("Post")},
                       "next_cursor": {"type": ["string", "null"]}},
    }  # fmt: skip
    schemas["Revisions"] = {
        "type": "object",
        "properties": {"revisions": {"type": "array", "items": {"type": "object"}}},
    }
    schemas["Media"] = {"type": "object", "description": "See docs/api.md for the fields."}
    schemas["Events"] = {
        "type": "object",
        "properties": {"events": {"type": "array", "items": {"type": "object"}},
                       "last_seq": {"type": "integer"}},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "Dateline API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
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
            "/api/v1/blogs/{slug}/posts": {
                "parameters": [_SLUG],
                "get": _op("Published posts, a page at a time", 200, "PostList", errors=(400, 404)),
                "post": _op("Write a post", 201, "Post", body="PostCreate", auth=True,
                            errors=_WRITE_ERRORS),
            },
            "/api/v1/blogs/{slug}/posts/{post_id}": {
                "parameters": [_SLUG, _POST_ID],
                "get": _op("One post", 200, "Post"),
                "patch": _op("Edit, pin, flag or publish a post", 200, "Post", body="PostPatch",
                             auth=True, errors=_WRITE_ERRORS),
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
            "/api/v1/media": {
                "post": {
                    **_op("Upload an image (stripped of metadata, resized)", 201, "Media",
                          auth=True, errors=(400, 401, 403, 413, 415, 422)),
                    "requestBody": {"required": True, "content": {"multipart/form-data": {
                        "schema": {**_ref("MediaUpload"), "properties": {
                            "file": {"type": "string", "format": "binary"}}},
                    }}},
                },
            },
            "/api/v1/blogs/{slug}/events": {
                "parameters": [_SLUG],
                "get": _op("Events after a seq (the live stream, pollable)", 200, "Events",
                           errors=(400, 404)),
            },
        },
    }  # fmt: skip


async def openapi_json(request: Request) -> Response:
    return JSONResponse(spec())
