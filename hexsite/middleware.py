"""HTTP response headers the reference arena sends and Django does not by default."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class SecurityHeadersMiddleware:
    """Adds ``Cross-Origin-Embedder-Policy`` (the other reference headers come
    from Django's SecurityMiddleware and XFrameOptionsMiddleware settings)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Cross-Origin-Embedder-Policy", "credentialless")
        return response
