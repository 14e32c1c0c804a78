package tasks

import (
	"os"
	"path/filepath"
	"testing"
)

// sync-static says what it did in one line: how many files, how big,
// their names while they are few, and how many were left alone.
func TestUploadSummary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.css"), make([]byte, 1500), 0o644)
	os.WriteFile(filepath.Join(dir, "b.js"), make([]byte, 10), 0o644)
	many := []string{"a.css", "b.js", "c", "d", "e", "f"}
	for _, tt := range []struct {
		changed []string
		total   int
		want    string
	}{
		{[]string{"b.js"}, 1, "uploaded 1 file (10 B): b.js"},
		{[]string{"a.css", "b.js"}, 50, "uploaded 2 files (1.5 kB): a.css, b.js; 48 unchanged"},
		{many, 6, "uploaded 6 files (1.5 kB)"},
	} {
		if got := uploadSummary(tt.changed, dir, tt.total); got != tt.want {
			t.Errorf("%v of %d: %q, want %q", tt.changed, tt.total, got, tt.want)
		}
	}
}
