"""The front end's copy of the REST schema follows the server's: a serializer or view changed without
`python -m quire.openapi_export` (then `npm run generate:api`) fails here, not as a type error in production."""

from __future__ import annotations

import json

from quire import openapi_export


def test_the_front_ends_schema_is_the_servers() -> None:
    assert openapi_export.SCHEMA_FILE.read_text() == openapi_export.text(), (
        "frontend/src/generated/openapi.json is stale: run python -m quire.openapi_export, then npm run generate:api"
    )


def test_the_schema_names_the_types_the_page_takes_from_it() -> None:
    schemas = json.loads(openapi_export.SCHEMA_FILE.read_text())["components"]["schemas"]
    for name in ("Me", "Version", "Fork", "ForkOrigin", "ApiToken", "Diff", "Team"):
        assert name in schemas, name
