#!/usr/bin/env python
"""Django's command-line utility for Quire."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    # platform/ is a container folder, appended (not prepended) so the stdlib `platform` module still wins.
    platform_dir = str(Path(__file__).resolve().parent / "platform")
    if platform_dir not in sys.path:
        sys.path.append(platform_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
