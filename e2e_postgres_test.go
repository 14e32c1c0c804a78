//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/internal/pgtest"
)

// sharedDatabase points the superbook deploy at one PostgreSQL database
// that both app hosts use (migrate and reload get it in their env),
// instead of the SQLite file, and commits that.
func (sb *superbook) sharedDatabase(t *testing.T, pg *pgtest.Server) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sb.work, "Deployfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	if strings.Count(df, `env = { SUPERBOOK_DB = "{{db}}" }`) != 2 || !strings.Contains(df, "[vars]\n") {
		t.Fatal("the superbook Deployfile no longer sets SUPERBOOK_DB on migrate and reload: update sharedDatabase")
	}
	df = strings.ReplaceAll(df, `env = { SUPERBOOK_DB = "{{db}}" }`, `env = { SUPERBOOK_DATABASE_URL = "{{database_url}}" }`)
	df = strings.Replace(df, "[vars]\n", "[vars]\ndatabase_url = "+tomlString(pg.URL())+"\n", 1)
	sb.commit(t, "one database server for the app hosts", map[string]string{"Deployfile": df})
}

// Two app hosts share a real PostgreSQL server. The migrations run once
// and both hosts read the tables; a migration that fails stops the deploy
// before any host switches, and PostgreSQL's transaction leaves the
// schema as it was; a deploy with nothing new runs no migration.
func TestSuperbookSharedPostgres(t *testing.T) {
	t.Parallel()
	pg := pgtest.Start(t)
	pgtest.RequireDriver(t, "/usr/bin/python3")
	sb := newSuperbook(t, "web1", "web2")
	sb.sharedDatabase(t, pg)
	hosts := []string{"web1", "web2"}

	// (The app's tests run in TestSuperbookDeploy; here the release task.)
	out, _ := sb.deploy(t, 0, "run", "prod", "release")
	sha := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	if n := strings.Count(out, "Applying books.0001_initial"); n != 1 {
		t.Errorf("books.0001_initial applied %d times, want once:\n%s", n, out)
	}
	if got := pg.Query(t, "SELECT count(*) FROM django_migrations WHERE app = 'books' AND name = '0001_initial'"); got != "1" {
		t.Errorf("django_migrations has %s rows for books.0001_initial", got)
	}
	// A row written to the server is read by both hosts: they read it,
	// not a file of their own.
	pg.Query(t, "INSERT INTO books_book (title, author) VALUES ('Two Scoops of Django', 'Greenfeld')")
	for _, h := range hosts {
		sb.waitServes(t, h, sha)
		if page := sb.get(t, h, "/"); !strings.Contains(page, "1 books") {
			t.Errorf("%s does not read the shared database: %s", h, page)
		}
	}
	if _, err := os.Stat(filepath.Join(sb.root, "db.sqlite3")); err == nil {
		t.Error("a SQLite database was made: the hosts did not use PostgreSQL")
	}

	// Nothing new: no migration runs, and migrate says why.
	out, errOut := sb.deploy(t, 0, "run", "prod", "release")
	if strings.Contains(out, "Applying") || !strings.Contains(out, "| – skipped: the migrations of ") || !strings.Contains(errOut, "Nothing to do") {
		t.Errorf("a deploy with nothing new:\n%s\n%s", out, errOut)
	}

	// A migration that fails after it created a table and added a column.
	before := map[string]string{}
	for _, h := range hosts {
		before[h] = sb.current(t, h)
	}
	sb.commit(t, "reviews, isbn, and a failure", map[string]string{"books/migrations/0002_reviews.py": `from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("books", "0001_initial")]
    operations = [
        migrations.CreateModel("Review", [("id", models.AutoField(primary_key=True)), ("text", models.TextField())]),
        migrations.AddField("book", "isbn", models.CharField(default="", max_length=20)),
        migrations.RunSQL("SELECT 1 / 0"),
    ]
`})
	out, errOut = sb.deploy(t, 1, "run", "prod", "release")
	if !strings.Contains(out+errOut, "division by zero") || !strings.Contains(errOut, "(migrate) failed on web1") {
		t.Errorf("the failure is not explained:\n%s\n%s", out, errOut)
	}
	for _, h := range hosts {
		if got := sb.current(t, h); got != before[h] {
			t.Errorf("%s switched to %s", h, got)
		}
		sb.waitServes(t, h, sha)
		if page := sb.get(t, h, "/"); !strings.Contains(page, "1 books") {
			t.Errorf("%s after the failed migration: %s", h, page)
		}
	}
	for q, want := range map[string]string{
		"SELECT to_regclass('books_review') IS NULL":                                                               "t",
		"SELECT count(*) FROM information_schema.columns WHERE table_name = 'books_book' AND column_name = 'isbn'": "0",
		"SELECT count(*) FROM django_migrations WHERE app = 'books' AND name = '0002_reviews'":                     "0",
		"SELECT count(*) FROM books_book":                                                                          "1",
	} {
		if got := pg.Query(t, q); got != want {
			t.Errorf("after the failed migration, %s = %s, want %s", q, got, want)
		}
	}
}
