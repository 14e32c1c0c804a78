"""WSGI entry point; `touch superbook/wsgi.py` is the book's reload."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "superbook.settings")
application = get_wsgi_application()
