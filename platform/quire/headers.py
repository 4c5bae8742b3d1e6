"""The Content-Security-Policy of every HTML page (Django 5.2's SecurityMiddleware sets the other headers)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

# What the bundled front end needs and no more: its own scripts and styles, Monaco's workers (blob: for the
# ones it spawns), KaTeX's fonts, Vega's SVG charts, the WebSocket back to the same host ('self' covers ws/wss).
# style-src keeps 'unsafe-inline': Monaco and KaTeX set style attributes on every element they draw.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds settings.QUIRE_CONTENT_SECURITY_POLICY to HTML responses that have no policy of their own."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.get("Content-Type", "").startswith("text/html") and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.QUIRE_CONTENT_SECURITY_POLICY
        return response
