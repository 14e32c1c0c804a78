package tasks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/remote"
)

// reloadEnv is a host whose `current` was switched and not reloaded.
func reloadEnv(root string, with map[string]any) *Env {
	var out bytes.Buffer
	app := &App{Path: root, Strategy: "releases"}
	st := &HostState{Root: root, Current: "new", CurrentCommit: "c0ffee",
		Record: Record{Release: "new", Commit: "c0ffee", Phase: PhaseSwitched}}
	return &Env{Conn: remote.Local{}, Host: "h", With: with, State: NewRunState("run1"), Stdout: &out, Stderr: &out,
		App: app, Strategy: NewStrategy(app), Release: st}
}

func TestReloadMethods(t *testing.T) {
	root := t.TempDir()
	current := filepath.Join(root, "current")
	if err := os.MkdirAll(filepath.Join(current, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	wsgi := filepath.Join(current, "app", "wsgi.py")
	if err := os.WriteFile(wsgi, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(wsgi, old, old)
	ctx := context.Background()

	if err := (reloadStep{}).Run(ctx, reloadEnv(root, map[string]any{"method": "touch", "path": "app/wsgi.py"}), Verdict{}); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(wsgi); !info.ModTime().After(old) {
		t.Error("touch did not touch")
	}

	// hup: a process that records the HUP it gets.
	got := filepath.Join(root, "got-hup")
	proc := exec.Command("sh", "-c", `trap 'touch `+got+`; exit 0' HUP; while :; do sleep 0.05; done`)
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Process.Kill()
	time.Sleep(100 * time.Millisecond)
	pidFile := filepath.Join(root, "gunicorn.pid")
	os.WriteFile(pidFile, []byte(strconv.Itoa(proc.Process.Pid)), 0o644)
	if err := (reloadStep{}).Run(ctx, reloadEnv(root, map[string]any{"method": "hup", "pid_file": pidFile}), Verdict{}); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	if _, err := os.Stat(got); err != nil {
		t.Error("the process got no HUP")
	}

	marker := filepath.Join(root, "ran")
	if err := (reloadStep{}).Run(ctx, reloadEnv(root, map[string]any{"method": "command", "command": "touch " + marker}), Verdict{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Error("the command did not run")
	}

	for _, tt := range []struct {
		with map[string]any
		want string
	}{
		{map[string]any{"method": "touch"}, "needs with.path"},
		{map[string]any{"method": "hup"}, "needs with.pid_file"},
		{map[string]any{"method": "hup", "pid_file": filepath.Join(root, "none.pid")}, "exit status 1"},
		{map[string]any{"method": "reboot"}, `unknown reload method "reboot"`},
	} {
		err := (reloadStep{}).Run(ctx, reloadEnv(root, tt.with), Verdict{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want %q", tt.with, err, tt.want)
		}
	}

	// Reloaded already: skipped, unless always.
	env := reloadEnv(root, map[string]any{"method": "touch", "path": "app/wsgi.py"})
	env.Release.Record.Phase = PhaseReloaded
	if v, _ := (reloadStep{}).Check(ctx, env); !v.Done || v.Reason != "new is reloaded already" {
		t.Errorf("check of a reloaded release: %+v", v)
	}
	env.With["always"] = true
	if v, _ := (reloadStep{}).Check(ctx, env); v.Done {
		t.Error("always = true was skipped")
	}
}

func TestRollbackTargetAndManifest(t *testing.T) {
	st := &HostState{Current: "20260103T000000Z-ccccccc",
		Releases: []Release{{Name: "20260101T000000Z-aaaaaaa", SHA: "aaaaaaa1"}, {Name: "20260102T000000Z-bbbbbbb", SHA: "bbbbbbb2"},
			{Name: "20260103T000000Z-ccccccc", SHA: "ccccccc3", Current: true}},
		History: []Record{
			{Release: "20260101T000000Z-aaaaaaa", Phase: PhaseHealthy},
			{Release: "20260102T000000Z-bbbbbbb", Phase: PhaseReloaded},
			{Release: "20260102T000000Z-bbbbbbb", Phase: PhaseFailed}, // its health check failed
			{Release: "20260103T000000Z-ccccccc", Phase: PhaseHealthy},
		}}
	if r, err := RollbackTarget(st, ""); err != nil || r.SHA != "aaaaaaa1" {
		t.Errorf("last healthy, skipping the failed one: %+v %v", r, err)
	}
	if r, err := RollbackTarget(st, "bbbb"); err != nil || r.SHA != "bbbbbbb2" {
		t.Errorf("by sha: %+v %v", r, err)
	}
	if _, err := RollbackTarget(st, "dddd"); err == nil || !strings.Contains(err.Error(), "pruned") {
		t.Errorf("unknown release: %v", err)
	}
	st.Releases = st.Releases[1:] // aaaaaaa was pruned
	if _, err := RollbackTarget(st, ""); err == nil {
		t.Error("a pruned healthy release was chosen")
	}
	a := Manifest{"a.css": {SHA256: "1", Size: 1}, "b.css": {SHA256: "2", Size: 1}}
	b := Manifest{"a.css": {SHA256: "1", Size: 1}, "b.css": {SHA256: "x", Size: 1}}
	if got := a.Changed(b); len(got) != 1 || got[0] != "b.css" {
		t.Errorf("changed: %v", got)
	}
	if got := a.Changed(Manifest{}); len(got) != 2 {
		t.Errorf("against nothing: %v", got)
	}
}

// Every name is in the registry, and every registered step has a name.
func TestNamesMatchRegistry(t *testing.T) {
	reg := Builtins()
	if len(Names()) != len(reg) {
		t.Fatalf("%d names, %d steps", len(Names()), len(reg))
	}
	for _, n := range Names() {
		if reg[n] == nil {
			t.Errorf("%s is named but not registered", n)
		}
	}
}

// A release made a moment ago, or by a laptop whose clock is ahead: the
// run's stamp is the second after it, so names sort as releases were made.
func TestStampAfterExistingReleases(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	for _, c := range []struct {
		latest time.Time
		want   time.Time
	}{
		{now.Add(-time.Hour), now},                        // older: the time now
		{now, now.Add(time.Second)},                       // this second: the next
		{now.Add(time.Minute), now.Add(61 * time.Second)}, // ahead: after it
	} {
		s := NewRunState("run")
		s.StampAfter([]Release{{Name: "20200101T000000Z-aaaaaaa"}, {Name: c.latest.Format(stampLayout) + "-bbbbbbb"}, {Name: "junk"}})
		got, want := s.Stamp(), c.want.Format(stampLayout)
		if got != want && !(c.latest.Before(now) && got == now.Add(time.Second).Format(stampLayout)) { // the clock may tick
			t.Errorf("latest %s: stamp %s, want %s", c.latest.Format(stampLayout), got, want)
		}
		if s.Stamp() != got {
			t.Error("the stamp changed between calls")
		}
	}
}

// A release prepared and never switched to (its check or migration
// failed, the run was interrupted) is not drift: the host's record is the
// last of the release in use.
func TestPreparedUnusedReleaseIsNoDrift(t *testing.T) {
	rec := func(release, commit string, phase Phase) string {
		return fmt.Sprintf(`{"release":%q,"commit":%q,"phase":%q}`, release, commit, phase)
	}
	out := strings.Join([]string{
		"current 20260101T000000Z-aaaaaaa",
		"commit aaaaaaa1",
		"state " + rec("20260102T000000Z-bbbbbbb", "bbbbbbb2", PhasePrepared),
		"log " + rec("20260101T000000Z-aaaaaaa", "aaaaaaa1", PhaseSwitched),
		"log " + rec("20260101T000000Z-aaaaaaa", "aaaaaaa1", PhaseHealthy),
		"log " + rec("20260102T000000Z-bbbbbbb", "bbbbbbb2", PhasePrepared),
	}, "\n")
	st, err := parseState("/srv/app", out)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Consistent() || st.Record.Phase != PhaseHealthy || !st.Serves("aaaaaaa1", PhaseHealthy) {
		t.Errorf("record %+v: want the release in use, healthy", st.Record)
	}
	// A prepared record of the release in use itself is what it says.
	st, _ = parseState("/srv/app", strings.Replace(strings.Replace(out, "20260102T000000Z-bbbbbbb", "20260101T000000Z-aaaaaaa", -1), "bbbbbbb2", "aaaaaaa1", -1))
	if st.Record.Phase != PhasePrepared {
		t.Errorf("record %+v: want prepared", st.Record)
	}
}
