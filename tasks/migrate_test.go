package tasks

import (
	"context"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/remote/sshtest"
)

// migrate asks Django only when it has to: with no new release in the
// run and a release in use whose record says its migrations were
// applied, it is done without a command; a new release, a record that
// does not say so, or with.always ask `migrate --check`. Whatever it
// finds applied, the run remembers for the records it writes.
func TestMigrateAsksDjangoOnlyWhenItMust(t *testing.T) {
	const commit = "0123456789abcdef0123456789abcdef01234567"
	live := func(migrated bool) *HostState {
		return &HostState{Root: "/srv/app", Current: "r1", CurrentCommit: commit,
			Record: Record{Release: "r1", Commit: commit, Phase: PhaseHealthy, Migrated: migrated}}
	}
	tests := []struct {
		name     string
		st       *HostState
		with     map[string]any
		commands int
	}{
		{"in use, migrated", live(true), nil, 0},
		{"in use, not recorded", live(false), nil, 1},
		{"in use, migrated, always", live(true), map[string]any{"always": true}, 1},
		{"new release", func() *HostState { st := live(true); st.Prepared = "r2"; return st }(), nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &sshtest.Recorder{}
			env := newEnv(t, "/srv/app", "repo", rec)
			env.Release, env.With = tt.st, tt.with
			env.State.SetSHA(strings.Repeat("f", 40))
			v, err := migrateStep{}.Check(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(rec.Commands()); n != tt.commands {
				t.Errorf("%d commands, want %d", n, tt.commands)
			}
			if !v.Done {
				t.Errorf("not done (the recorder's command succeeds: no migration to apply)")
			}
			want := commit
			if tt.st.Prepared != "" {
				want = env.State.SHA()
			}
			if !env.State.Migrated(want) {
				t.Errorf("the run does not remember %s as migrated", want[:7])
			}
		})
	}
}
