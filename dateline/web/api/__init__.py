"""The JSON API, version 1: blogs and posts (handlers.py), image uploads (uploads.py) and its
OpenAPI description (openapi.py). Handlers parse HTTP and shape answers; every decision is the
newsroom's."""
