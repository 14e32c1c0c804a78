package tasks

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The untracked files are git's: a file git ignores through
// .git/info/exclude or the global excludes file is not one, as `git
// status` says.
func TestChangesIgnoresAsGitDoes(t *testing.T) {
	tests := []struct {
		name   string
		ignore func(t *testing.T, dir, home string)
	}{
		{"not ignored", func(t *testing.T, dir, home string) {}},
		{".gitignore", func(t *testing.T, dir, home string) {
			write(t, filepath.Join(dir, ".gitignore"), "*.pyc\njunk.swp\n")
			gitCLI(t, dir, "commit", "-q", "-am", "ignore junk")
		}},
		{".git/info/exclude", func(t *testing.T, dir, home string) {
			write(t, filepath.Join(dir, ".git", "info", "exclude"), "# mine\n*.swp\n")
		}},
		{"~/.config/git/ignore", func(t *testing.T, dir, home string) {
			write(t, filepath.Join(home, ".config", "git", "ignore"), "*.swp\n")
		}},
		{"core.excludesFile", func(t *testing.T, dir, home string) {
			write(t, filepath.Join(home, "my-ignores"), "junk.*\n")
			gitCLI(t, dir, "config", "--global", "core.excludesFile", "~/my-ignores")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, clone := central(t)
			dir := clone()
			tt.ignore(t, dir, os.Getenv("HOME"))
			write(t, filepath.Join(dir, "junk.swp"), "x")
			write(t, filepath.Join(dir, "new.py"), "x")
			repo, err := OpenRepo(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, untracked, err := repo.Changes()
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Fields(gitCLI(t, dir, "ls-files", "--others", "--exclude-standard"))
			if !slices.Equal(untracked, want) {
				t.Errorf("untracked %v, git says %v", untracked, want)
			}
		})
	}
}

// Laptop.Refusals: what a task's steps here would test, commit and push
// is one tree, or the run is refused with the files and the fixes.
func TestRefusals(t *testing.T) {
	test, commit, push, collect := PlannedStep{Step: testStep{}}, PlannedStep{Step: commitStep{}}, PlannedStep{Step: pushStep{}}, PlannedStep{Step: collectstaticStep{}}
	taking := PlannedStep{Step: commitStep{}, With: map[string]any{"add_untracked": true}}
	tests := []struct {
		name      string
		steps     []PlannedStep
		untracked bool // new.py, not ignored
		tracked   bool // app.py changed
		laptop    Laptop
		want      []string // one substring per refusal
	}{
		{"clean", []PlannedStep{test, commit, push}, false, false, Laptop{}, nil},
		{"tracked changes, committed", []PlannedStep{test, commit, push}, false, true, Laptop{Message: "m"}, nil},
		{"untracked, commit step", []PlannedStep{test, commit, push}, true, false, Laptop{}, []string{"the tests would see and the commit deployed would not hold:\n      new.py\n    git add them"}},
		{"untracked, collectstatic", []PlannedStep{commit, push, collect}, true, false, Laptop{}, []string{"collectstatic would see"}},
		{"untracked, commit alone", []PlannedStep{commit}, true, false, Laptop{}, []string{"that the commit step would leave out"}},
		{"untracked, with.add_untracked", []PlannedStep{test, taking, push}, true, true, Laptop{}, nil},
		{"untracked, --add-untracked", []PlannedStep{test, commit, push}, true, false, Laptop{AddUntracked: true}, nil},
		{"untracked, taken after the push", []PlannedStep{test, push, taking}, true, false, Laptop{}, []string{"--add-untracked needs a commit step before the push"}},
		{"untracked, no commit step", []PlannedStep{test, push}, true, false, Laptop{}, []string{"commit them (git add, git commit)"}},
		{"tracked changes, no commit step", []PlannedStep{test, push}, false, true, Laptop{}, []string{"changes that the tests would see and the commit deployed would not hold (the task has no commit step before the push):\n      app.py\n"}},
		{"tracked changes, push alone", []PlannedStep{push}, false, true, Laptop{}, nil},
		{"untracked, push alone", []PlannedStep{push}, true, false, Laptop{}, nil},
		{"untracked, no step here", nil, true, true, Laptop{}, nil},
		{"-m, no commit step", []PlannedStep{test, push}, false, false, Laptop{Message: "m"}, []string{"-m gives a commit message"}},
		{"--add-untracked, no commit step", []PlannedStep{push}, false, false, Laptop{AddUntracked: true}, []string{"--add-untracked asks the commit step"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, clone := central(t)
			dir := clone()
			if tt.untracked {
				write(t, filepath.Join(dir, "new.py"), "x")
			}
			if tt.tracked {
				write(t, filepath.Join(dir, "app.py"), "print('v2')\n")
			}
			write(t, filepath.Join(dir, "cache.pyc"), "ignored")
			l := tt.laptop
			l.Dir = dir
			got := l.Refusals(tt.steps)
			if len(got) != len(tt.want) {
				t.Fatalf("refusals %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("refusal %q lacks %q", got[i], w)
				}
			}
		})
	}
}

func TestRefusalListsAtMost20Files(t *testing.T) {
	_, clone := central(t)
	dir := clone()
	for i := range 25 {
		write(t, filepath.Join(dir, "new", string(rune('a'+i))+".py"), "x")
	}
	got := (&Laptop{Dir: dir}).Refusals([]PlannedStep{{Step: testStep{}}, {Step: commitStep{}}})
	if len(got) != 1 || strings.Count(got[0], ".py") != 20 || !strings.Contains(got[0], "… and 5 more (git status lists them)") {
		t.Errorf("refusal: %q", got)
	}
}

// The commit step commits the tree the tests ran on, or nothing: a file
// changed while they ran, or made then and to be committed, stops it.
func TestCommitWhatWasTested(t *testing.T) {
	tests := []struct {
		name    string
		add     bool
		during  map[string]string // written while the tests run
		wantErr bool
	}{
		{"unchanged", false, nil, false},
		{"a tracked file changed", false, map[string]string{"app.py": "print('v3')\n"}, true},
		{"an untracked file made, left out", false, map[string]string{"report.txt": "x"}, false},
		{"an untracked file made, to be added", true, map[string]string{"report.txt": "x"}, true},
		{"an ignored file made", true, map[string]string{"cache.pyc": "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, clone := central(t)
			dir := clone()
			write(t, filepath.Join(dir, "app.py"), "print('v2')\n")
			repo, err := OpenRepo(dir)
			if err != nil {
				t.Fatal(err)
			}
			tree, err := repo.TreeID()
			if err != nil {
				t.Fatal(err)
			}
			env := &Env{Laptop: &Laptop{Dir: dir, Message: "v2", AddUntracked: tt.add}, State: &RunState{}, Stdout: io.Discard}
			env.State.SetTested(tree)
			for name, content := range tt.during {
				write(t, filepath.Join(dir, name), content)
			}
			before := gitCLI(t, dir, "rev-parse", "HEAD")
			err = commitStep{}.Run(context.Background(), env, Verdict{})
			if (err != nil) != tt.wantErr {
				t.Fatalf("commit: %v, want an error: %v", err, tt.wantErr)
			}
			after := gitCLI(t, dir, "rev-parse", "HEAD")
			if tt.wantErr {
				if !strings.Contains(err.Error(), "the work tree changed while the tests ran") || after != before {
					t.Errorf("%v; HEAD %s → %s", err, before, after)
				}
				return
			}
			if after == before || env.State.SHA() != after || gitCLI(t, dir, "show", "HEAD:app.py") != "print('v2')" {
				t.Errorf("HEAD %s → %s, run's commit %s", before, after, env.State.SHA())
			}
		})
	}
}
