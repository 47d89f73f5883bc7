"""WSGI entry point for gunicorn, uWSGI, Apache mod_wsgi and runserver."""
import os
import sys
from pathlib import Path

# mod_wsgi and uWSGI may start with another working directory.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "e2esite.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
