"""Settings for the example Django project that swiftginx's end-to-end tests run
behind gunicorn, uWSGI, Daphne, Apache mod_wsgi and runserver. No database."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "swiftginx-e2e-not-secret"
DEBUG = os.environ.get("DJANGO_DEBUG", "") == "1"
ALLOWED_HOSTS = ["*"]

# Trust the proxy's X-Forwarded-Proto for request.is_secure(), as a deployment
# behind nginx does; the Host header is taken as sent (USE_X_FORWARDED_HOST off).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = False
USE_X_FORWARDED_PORT = False

# "daphne" is deliberately not listed: it would make runserver serve ASGI, and the
# runserver backend is meant to be Django's own WSGI development server.
INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "channels",
    "e2esite",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]
APPEND_SLASH = True

ROOT_URLCONF = "e2esite.urls"
WSGI_APPLICATION = "e2esite.wsgi.application"
ASGI_APPLICATION = "e2esite.asgi.application"

DATABASES = {}
TEMPLATES = []
USE_TZ = True
TIME_ZONE = "UTC"

# Large uploads are read into request.body whole.
DATA_UPLOAD_MAX_MEMORY_SIZE = None
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = None

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
