"""Content-Security-Policy: scripts only from our own origin or with the per-request nonce, never inline handlers.

The admin is the one exception: Django's GIS map widget writes its set-up as an inline <script> without a nonce.
The admin is staff-only and renders through Django's own escaping templates, so it may run inline scripts.
"""

from csp.constants import NONCE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts


def policy(*, tile_hosts: list[str]) -> dict:
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            "script-src": [SELF, NONCE],
            # Leaflet and folium position map panes with inline styles.
            "style-src": [SELF, UNSAFE_INLINE],
            "img-src": [SELF, "data:", "blob:", *tile_hosts],
            "font-src": [SELF, "data:"],
            "connect-src": [SELF],
            "object-src": ["'none'"],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": ["'none'"],
        }
    }


# What an answer that is not a page gets (tiles, JSON, files): it loads nothing and may not be framed. A constant,
# where a page's policy is built per request around its nonce.
NOT_A_PAGE = "default-src 'none'; frame-ancestors 'none'"


class PlatformCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        content_type = response.get("Content-Type", "text/html")
        if content_type.startswith(("text/html", "application/xhtml", "image/svg")):
            return super().process_response(request, response)
        response.headers.setdefault("Content-Security-Policy", NOT_A_PAGE)
        return response

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith("/admin/") and not parts.nonce:
            parts.replace = {**(parts.replace or {}), "script-src": [SELF, UNSAFE_INLINE]}
        return parts
