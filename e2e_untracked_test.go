//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A new file the app needs, not added to git: the deploy stops before the
// tests, naming it; with --add-untracked it is committed with -m's
// message, tested, collected, pushed and released, and the summary and
// the history name that commit.
func TestSuperbookUntracked(t *testing.T) {
	t.Parallel()
	sb := newSuperbook(t, "web1")
	css := "books/static/books/extra.css"
	if err := os.WriteFile(filepath.Join(sb.work, css), []byte("p { margin: 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut := sb.deploy(t, 2)
	for _, want := range []string{"      " + css + "\n", "git add them", "add them to .gitignore", "--add-untracked"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "manage.py test") || strings.Contains(out+errOut, "Ran 2 tests") {
		t.Errorf("the tests ran:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(sb.work, ".git", "deploy", "tests-passed.json")); err == nil {
		t.Error("the tests ran: their record is there")
	}
	if _, ok := sh(t, "/", nil, "git", "--git-dir", sb.central, "rev-parse", "--verify", "-q", "main"); ok {
		t.Error("a refused run pushed")
	}
	if rel := sb.releases(t, "web1"); len(rel) != 0 {
		t.Errorf("a refused run made releases: %v", rel)
	}

	_, errOut = sb.deploy(t, 0, "prod", "--add-untracked", "-m", "Extra styles")
	sha := mustSh(t, sb.work, "git", "rev-parse", "HEAD")
	if subject := mustSh(t, sb.work, "git", "log", "-1", "--format=%s"); subject != "Extra styles" {
		t.Errorf("commit subject %q", subject)
	}
	if central := mustSh(t, "/", "git", "--git-dir", sb.central, "rev-parse", "main"); central != sha {
		t.Errorf("central at %s, HEAD %s", central, sha)
	}
	sb.waitServes(t, "web1", sha)
	if data, err := os.ReadFile(filepath.Join(sb.root, "web1", "current", css)); err != nil || string(data) != "p { margin: 0; }\n" {
		t.Errorf("the release lacks %s: %q %v", css, data, err)
	}
	if got, _ := filepath.Glob(filepath.Join(sb.root, "static1", "static", "books", "extra.*.css")); len(got) != 1 {
		t.Errorf("the static host lacks the collected file: %v", got)
	}
	if want := "commit " + sha[:7] + " Extra styles\n"; !strings.Contains(errOut, want) {
		t.Errorf("the summary does not name the commit (%q):\n%s", want, errOut)
	}
	if !strings.Contains(sb.journal(t, "web1"), `"to_sha":"`+sha+`"`) {
		t.Errorf("journal: %s", sb.journal(t, "web1"))
	}
	code, hist, errOut := runCLI(t, append(sb.flags, "history", "web")...)
	rows := strings.Split(strings.TrimSpace(hist), "\n")
	if code != 0 || len(rows) != 2 || !strings.Contains(rows[0], "COMMIT") || !strings.Contains(rows[1], " "+sha[:7]+" ") {
		t.Errorf("history: exit %d\n%s%s", code, hist, errOut)
	}
}
