package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// fakeMigrate is a built-in step that is done once its marker exists.
type fakeMigrate struct{ marker string }

func (f fakeMigrate) Check(ctx context.Context, env *tasks.Env) (tasks.Verdict, error) {
	if _, err := os.Stat(f.marker); err == nil {
		return tasks.Verdict{Done: true, Reason: "no unapplied migration"}, nil
	}
	return tasks.Verdict{}, nil
}

func (f fakeMigrate) Run(ctx context.Context, env *tasks.Env, _ tasks.Verdict) error {
	fmt.Fprintf(env.Stdout, "migrating on %s with %v\n", env.Host, env.With["settings"])
	return os.WriteFile(f.marker, nil, 0o644)
}

type collect struct {
	mu     sync.Mutex
	events []Event
}

func (c *collect) Event(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func TestBuiltinDispatch(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "migrated")
	src := "[hosts]\nhere = [\"local\"]\n[tasks.deploy]\nsteps = [{ builtin = \"migrate\", with = { settings = \"prod\" } }]\n"
	df, err := config.Parse("config.Deployfile", []byte(src), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := df.Resolve("here")
	conns, err := NewConnector(df, SSHSettings{AgentSocket: "none"})
	if err != nil {
		t.Fatal(err)
	}
	defer conns.Close()
	run := func(dry bool, reg tasks.Registry) (*RunResult, *collect, error) {
		events := &collect{}
		r := &Runner{DF: df, Conns: conns, Printer: events, Target: "here", DryRun: dry, Builtins: reg}
		res, err := r.Run(context.Background(), "deploy", hosts)
		return res, events, err
	}
	reg := tasks.Registry{"migrate": fakeMigrate{marker}}

	// Not in the registry: refused, nothing ran.
	var refused *RefusedError
	if _, _, err := run(false, tasks.Registry{}); !errors.As(err, &refused) {
		t.Fatalf("got %v, want a RefusedError", err)
	}

	res, _, err := run(true, reg)
	if err != nil || res.Results[0].Outcome != WouldRun {
		t.Fatalf("plan: %+v %v", res, err)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the plan ran the step")
	}

	res, events, err := run(false, reg)
	if err != nil || res.Results[0].Outcome != Changed {
		t.Fatalf("first run: %+v %v", res, err)
	}
	var lines []string
	for _, e := range events.events {
		if e.Type == EventOutput {
			lines = append(lines, e.Line)
		}
	}
	if len(lines) != 1 || lines[0] != "migrating on local with prod" {
		t.Errorf("output of the built-in: %q", lines)
	}

	res, _, err = run(false, reg)
	if err != nil || res.Results[0].Outcome != Skipped || res.Results[0].Reason != "no unapplied migration" {
		t.Errorf("second run: %+v %v", res.Results, err)
	}
}
