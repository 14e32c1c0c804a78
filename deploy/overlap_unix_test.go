//go:build unix

package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote"
	"github.com/deploy-tool/deploy/tasks"
)

// fakeTests is a test built-in that waits, while it runs, for a host's
// lock command to start: it fails unless the lock is taken meanwhile.
type fakeTests struct{ started, lockStarted chan struct{} }

func (fakeTests) Local()      {}
func (fakeTests) BeforeLock() {}
func (fakeTests) Check(context.Context, *tasks.Env) (tasks.Verdict, error) {
	return tasks.Verdict{}, nil
}

func (f fakeTests) Run(ctx context.Context, env *tasks.Env, _ tasks.Verdict) error {
	close(f.started)
	select {
	case <-f.lockStarted:
		return nil
	case <-time.After(5 * time.Second):
		return errors.New("no lock was taken while the tests ran")
	}
}

// lockGate is a host whose lock command starts only once the tests run.
type lockGate struct {
	remote.Local
	testsStarted, lockStarted chan struct{}
	once                      *sync.Once
}

func (g lockGate) Run(ctx context.Context, cmd *remote.Cmd) error {
	first := false
	g.once.Do(func() { first = true })
	if first { // the lock
		close(g.lockStarted)
		select {
		case <-g.testsStarted:
		case <-time.After(5 * time.Second):
			return errors.New("the tests did not run while the lock was taken")
		}
	}
	return g.Local.Run(ctx, cmd)
}

type gateConns struct{ g lockGate }

func (c gateConns) Conn(context.Context, *config.Host) (remote.Conn, error) { return c.g, nil }

// The test suite runs while the hosts are dialled and locked, not after:
// each waits for the other to start. When the lock is held by another
// run, the tests have run, nothing else does, and the run ends with the
// lock's error.
func TestTestsRunWhileLocking(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprintf("held=%v", held), func(t *testing.T) {
			root := t.TempDir()
			df, err := config.Parse("Deployfile", []byte(fmt.Sprintf(`[app]
path = %q
[hosts]
web = ["web1"]
[tasks.deploy]
steps = [{ builtin = "test" }, { run = "touch %s/ran" }]
[tasks.test]
steps = [{ local = "true" }]
`, root, root)), config.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			hosts, _ := df.Resolve("web")
			if held {
				os.MkdirAll(filepath.Join(root, ".deploy", "lock"), 0o755)
				os.WriteFile(filepath.Join(root, ".deploy", "lock", "info"), []byte(`{"id":"other","owner":"someone@else","pid":1}`), 0o644)
			}
			tests := fakeTests{started: make(chan struct{}), lockStarted: make(chan struct{})}
			conns := gateConns{lockGate{testsStarted: tests.started, lockStarted: tests.lockStarted, once: &sync.Once{}}}
			events := &collect{}
			r := &Runner{DF: df, Conns: conns, Printer: events, Builtins: tasks.Registry{"test": tests}}
			res, err := r.Run(context.Background(), "deploy", hosts)
			var lockErr *LockHeldError
			switch {
			case held && !errors.As(err, &lockErr):
				t.Fatalf("run over a held lock: %v %+v", err, res)
			case !held && (err != nil || res.Failure != nil):
				t.Fatalf("run: %v %+v", err, res.Failure)
			}
			if _, err := os.Stat(filepath.Join(root, "ran")); (err == nil) == held {
				t.Errorf("the step after the tests ran: %v, want %v", err == nil, !held)
			}
			if last := events.events[len(events.events)-1]; last.Type != EventRunEnd {
				t.Errorf("the last event is %s, not run_end", last.Type)
			}
		})
	}
}
