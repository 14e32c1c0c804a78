from django.test import TestCase

from .models import Book


class SuperbookTests(TestCase):
    def test_home_shows_revision_and_books(self):
        Book.objects.create(title="Two Scoops", author="Greenfeld")
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "superbook")
        self.assertContains(response, "1 books")

    def test_health(self):
        response = self.client.get("/health")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.content.startswith(b"ok "))
