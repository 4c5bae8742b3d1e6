"""ASGI entry point: Django's HTTP views and the Channels WebSocket consumers in one application."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# platform/ is a container folder, not a package: put it on the path without shadowing the stdlib module.
_PLATFORM_DIR = str(Path(__file__).resolve().parents[1])
if _PLATFORM_DIR not in sys.path:
    sys.path.append(_PLATFORM_DIR)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from quire.accounts.websocket import TokenOrSessionAuthMiddleware  # noqa: E402
from quire.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The Origin rule lives in the middleware: it depends on how the caller authenticates.
        "websocket": TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
