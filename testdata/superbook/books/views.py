from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.templatetags.static import static

from .models import Book


def revision():
    """The commit deployed: deploy writes REVISION into each release."""
    try:
        return (Path(settings.BASE_DIR) / "REVISION").read_text().strip()
    except OSError:
        return "unknown"


def home(request):
    try:
        css = static("books/site.css")
    except ValueError:  # no collectstatic manifest yet
        css = ""
    return HttpResponse(
        f'<!doctype html><link rel="stylesheet" href="{css}">'
        f"<h1>superbook</h1><p>revision {revision()}</p><p>{Book.objects.count()} books</p>"
    )


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse(f"ok {revision()}", content_type="text/plain")
