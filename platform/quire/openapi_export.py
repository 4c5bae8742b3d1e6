"""The REST API's schema as the front end reads it: `frontend/src/generated/openapi.json`, written from the same
drf-spectacular generator that serves /api/schema/, from which `npm run generate:api` (openapi-typescript) writes
the page's REST types (frontend/src/generated/api.ts).

`python -m quire.openapi_export` writes the file; `--check` (and tests/quire/test_openapi_export.py) fails when it
is stale, as a vitest test does when the TypeScript no longer follows the file."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from quire.config import REPO_ROOT

SCHEMA_FILE = REPO_ROOT / "frontend/src/generated/openapi.json"


def schema() -> dict[str, Any]:
    """The schema /api/schema/ serves. Integer ranges follow the database (SQLite's are 64-bit, PostgreSQL's
    32-bit), so the file is written, and checked, against PostgreSQL: production's database."""
    from drf_spectacular.generators import SchemaGenerator

    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(json.dumps(generated, default=str))


def text() -> str:
    return json.dumps(schema(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is stale instead of writing it")
    args = parser.parse_args(argv)
    wanted = text()
    if args.check:
        if not SCHEMA_FILE.is_file() or SCHEMA_FILE.read_text() != wanted:
            print(f"{SCHEMA_FILE.relative_to(REPO_ROOT)} is stale: run python -m quire.openapi_export", file=sys.stderr)
            return 1
        return 0
    SCHEMA_FILE.write_text(wanted)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    import django

    django.setup()
    sys.exit(main())
