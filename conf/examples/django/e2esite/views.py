"""Views that report what the app server received, so tests can check what the
proxy in front of it sent."""
import asyncio
import hashlib
import os
import time

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

BACKEND_NAME = os.environ.get("BACKEND_NAME", "backend")


def _backend_port():
    try:
        return int(os.environ.get("BACKEND_PORT", "0"))
    except ValueError:
        return 0


def _pattern(size):
    """size bytes of i % 251 (a prime, so the pattern does not line up with buffer sizes)."""
    period = bytes(i % 251 for i in range(251))
    whole, rest = divmod(size, 251)
    return period * whole + period[:rest]


@csrf_exempt
def headers(request):
    meta = request.META
    http = {k: str(v) for k, v in meta.items() if k.startswith("HTTP_")}
    return JsonResponse(
        {
            "backend": BACKEND_NAME,
            "host": request.get_host(),
            "path": request.path,
            "full_path": request.get_full_path(),
            "method": request.method,
            "query": meta.get("QUERY_STRING", ""),
            "is_secure": request.is_secure(),
            "scheme": request.scheme,
            "remote_addr": meta.get("REMOTE_ADDR"),
            "x_forwarded_for": meta.get("HTTP_X_FORWARDED_FOR"),
            "x_forwarded_proto": meta.get("HTTP_X_FORWARDED_PROTO"),
            "x_real_ip": meta.get("HTTP_X_REAL_IP"),
            "content_type": meta.get("CONTENT_TYPE", ""),
            "content_length": meta.get("CONTENT_LENGTH", ""),
            "server_name": meta.get("SERVER_NAME"),
            "server_port_meta": str(meta.get("SERVER_PORT", "")),
            "server_port": _backend_port(),
            "body_length": len(request.body),
            "headers": http,
        }
    )


def whoami(request):
    return HttpResponse(BACKEND_NAME, content_type="text/plain")


@csrf_exempt
def upload(request):
    if request.method != "POST":
        return HttpResponse("POST only\n", status=405, content_type="text/plain")
    body = request.body
    return JsonResponse({"sha256": hashlib.sha256(body).hexdigest(), "length": len(body)})


def download(request):
    size = int(request.GET.get("size", "0"))
    data = _pattern(size)
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Length"] = str(len(data))
    return response


def stream(request):
    chunks = int(request.GET.get("chunks", "5"))
    delay = float(request.GET.get("delay", "0.1"))

    def generate():
        for i in range(chunks):
            if i and delay:
                time.sleep(delay)
            yield f"chunk {i} {time.time():.6f}\n".encode()

    async def agenerate():
        for i in range(chunks):
            if i and delay:
                await asyncio.sleep(delay)
            yield f"chunk {i} {time.time():.6f}\n".encode()

    # Django buffers a synchronous iterator whole under ASGI (and an asynchronous
    # one under WSGI): give each handler the kind it streams.
    content = agenerate() if isinstance(request, ASGIRequest) else generate()
    response = StreamingHttpResponse(content, content_type="text/plain")
    if "accel" in request.GET:
        # Lets a test check how the proxy honours X-Accel-Buffering.
        response["X-Accel-Buffering"] = request.GET["accel"]
    return response


def redirect(request):
    response = HttpResponseRedirect("/headers/")
    response.set_cookie("a", "1", path="/")
    response.set_cookie("b", "2", domain="127.0.0.1", path="/app")
    return response


def status(request, code):
    # 204 and 304 responses have no body.
    body = "" if code in (204, 304) else f"status {code}\n"
    return HttpResponse(body, status=code, content_type="text/plain")


def slow(request):
    seconds = float(request.GET.get("s", "1"))
    time.sleep(seconds)
    return HttpResponse("slow done", content_type="text/plain")


def health(request):
    return HttpResponse("ok", content_type="text/plain")
