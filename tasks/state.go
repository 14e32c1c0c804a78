package tasks

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Phase is where a host's release stands in the state machine:
//
//	prepared → switched → reloaded → healthy
//	    any of them → failed (the release in `current` failed to reload or
//	    to pass its health check, and no rollback moved it)
//
// A rollback is a switch to an earlier release: it records switched with
// RollbackOf set, then reloaded and healthy as a deploy does.
type Phase string

// Phases, in order; Failed is not ordered.
const (
	PhasePrepared Phase = "prepared"
	PhaseSwitched Phase = "switched"
	PhaseReloaded Phase = "reloaded"
	PhaseHealthy  Phase = "healthy"
	PhaseFailed   Phase = "failed"
)

// rank orders the phases of a healthy path; 0 for none and failed.
func (p Phase) rank() int {
	switch p {
	case PhasePrepared:
		return 1
	case PhaseSwitched:
		return 2
	case PhaseReloaded:
		return 3
	case PhaseHealthy:
		return 4
	}
	return 0
}

// AtLeast reports whether p is q or a later phase on the healthy path.
func (p Phase) AtLeast(q Phase) bool { return p.rank() >= q.rank() && p.rank() > 0 }

// Record is one transition of a host's release state, as kept on the host
// in {path}/.deploy/state (the last one) and appended to
// {path}/.deploy/state.log (all of them). Each is written by the same
// remote command as the change it records.
type Record struct {
	Release    string    `json:"release"` // a directory under releases/, or a commit (inplace)
	Commit     string    `json:"commit"`
	Phase      Phase     `json:"phase"`
	Previous   string    `json:"previous,omitempty"`    // what `current` was before this switch
	RollbackOf string    `json:"rollback_of,omitempty"` // the release a rollback left
	Run        string    `json:"run,omitempty"`         // the run that wrote it
	Time       time.Time `json:"time"`
	Error      string    `json:"error,omitempty"` // why it failed
	// Migrated says the migrate step applied the release's migrations, or
	// found none to apply, in the run that made it live.
	Migrated bool `json:"migrated,omitempty"`
}

// HostState is a host's release state as read from the host itself.
type HostState struct {
	Root    string // the deploy root
	Current string // the release `current` points at; "" when none
	// CurrentCommit is the commit of Current, from its REVISION file.
	CurrentCommit string
	Record        Record    // the last transition recorded; zero when none
	History       []Record  // recent transitions, oldest first
	Releases      []Release // oldest first
	Lock          string    // the lock's details when the host is locked
	// ServerDown: the app server deploy runs (the reload method
	// "gunicorn") is not running — stopped, crashed, or the host
	// rebooted — though the state may say the release was reloaded.
	ServerDown bool

	// Prepared is the release this run made ready on the host, waiting
	// for the switch; Start is the release `current` pointed at when the
	// run began. Neither is read from the host.
	Prepared string
	Start    string
	// Tried is the release that passed the pre-switch check in this run
	// (PreSwitch): the reload need not try it again.
	Tried string
}

// Switched updates the state after a switch recorded rec.
func (s *HostState) Switched(rec Record, commit string) {
	s.Current, s.CurrentCommit, s.Record = rec.Release, commit, rec
}

// Recorded updates the state after rec was recorded.
func (s *HostState) Recorded(rec Record) { s.Record = rec }

// Now is the record of the release in use at a new phase, for this run.
func (s *HostState) Now(phase Phase, run string) Record {
	rec := s.Record
	if rec.Release != s.Current {
		rec = Record{}
	}
	rec.Release, rec.Commit, rec.Phase, rec.Run, rec.Time, rec.Error = s.Current, s.CurrentCommit, phase, run, time.Time{}, ""
	return rec
}

// Consistent reports whether the record describes what `current` is.
func (s *HostState) Consistent() bool {
	return s.Record.Release == s.Current && s.Record.Commit == s.CurrentCommit
}

// Serves reports whether the host serves commit at phase at least (the
// record agrees with `current`).
func (s *HostState) Serves(commit string, at Phase) bool {
	return s.Consistent() && s.Current != "" && s.CurrentCommit == commit && s.Record.Phase.AtLeast(at)
}

// LastGood is the most recent release other than `current` whose last
// recorded phase was healthy, or reloaded when it was never health
// checked, and whose files are still there: what a rollback goes to.
func (s *HostState) LastGood() (Release, bool) {
	last := map[string]Phase{}
	var order []string
	for _, r := range s.History {
		if _, seen := last[r.Release]; seen {
			order = removeString(order, r.Release)
		}
		last[r.Release] = r.Phase
		order = append(order, r.Release)
	}
	for i := len(order) - 1; i >= 0; i-- {
		name := order[i]
		if name == s.Current || !last[name].AtLeast(PhaseReloaded) {
			continue
		}
		for _, rel := range s.Releases {
			if rel.Name == name {
				return rel, true
			}
		}
	}
	return Release{}, false
}

func removeString(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// String says the state in a few words: "healthy 20261130T101500Z-abc1234".
func (s *HostState) String() string {
	switch {
	case s.Current == "" && s.Record.Phase == "":
		return "no release"
	case s.Record.Phase == "":
		return "current " + s.Current + " (no state recorded)"
	case !s.Consistent():
		return fmt.Sprintf("current %s, but the state says %s %s", orNone(s.Current), s.Record.Phase, s.Record.Release)
	}
	out := string(s.Record.Phase) + " " + s.Current
	if s.Record.RollbackOf != "" {
		out += " (rolled back from " + s.Record.RollbackOf + ")"
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// recordShell is the shell word that expands to rec as one JSON line.
// vars maps JSON field names (release, previous, error) to shell
// variables whose values, when the command runs, fill those fields: a
// release the script found, what `current` was. Such values must need no
// JSON escaping (release names and commits do not).
func recordShell(rec Record, vars map[string]string) string {
	if rec.Time.IsZero() {
		rec.Time = time.Now().UTC()
	}
	mark := func(field string) string { return "\x01" + field + "\x01" }
	for field := range vars {
		switch field {
		case "release":
			rec.Release = mark(field)
		case "previous":
			rec.Previous = mark(field)
		case "error":
			rec.Error = mark(field)
		}
	}
	b, _ := json.Marshal(rec)
	// json.Marshal writes \x01 as \u0001.
	var out strings.Builder
	text := string(b)
	for {
		m := markRef.FindStringSubmatchIndex(text)
		if m == nil {
			break
		}
		out.WriteString(q(text[:m[0]]) + `"$` + vars[text[m[2]:m[3]]] + `"`)
		text = text[m[1]:]
	}
	out.WriteString(q(text))
	return out.String()
}

var markRef = regexp.MustCompile(`\\u0001([a-z]+)\\u0001`)

// writeRecord is the shell that records rec on the host under root: the
// state file replaced atomically (a temporary file renamed over it), the
// log appended. vars are as for recordShell.
func writeRecord(root string, rec Record, vars map[string]string) string {
	d := q(root + "/.deploy")
	return fmt.Sprintf(`rec=%[2]s
mkdir -p %[1]s
printf '%%s\n' "$rec" > %[1]s/.state.$$
mv -f %[1]s/.state.$$ %[1]s/state
printf '%%s\n' "$rec" >> %[1]s/state.log`, d, recordShell(rec, vars))
}

// readStateScript prints, a section a line, what HostState is made of;
// current is the strategy's shell that prints the "current" and
// "commit" lines. It is one command: one round trip.
func readStateScript(root, current string) string {
	return fmt.Sprintf(`p=%[1]s
%[2]s
echo "state $(cat "$p/.deploy/state" 2>/dev/null || true)"
if [ -f "$p/.deploy/lock/info" ]; then echo "lock $(cat "$p/.deploy/lock/info")"; elif [ -d "$p/.deploy/lock" ]; then echo "lock (empty lock)"; fi
if [ -f "$p/shared/gunicorn.conf.py" ]; then
  if kill -0 "$(cat "$p/shared/gunicorn.pid" 2>/dev/null)" 2>/dev/null; then echo "server up"; else echo "server down"; fi
fi
if [ -f "$p/.deploy/state.log" ]; then tail -n 50 "$p/.deploy/state.log" | sed 's/^/log /'; fi
if [ -d "$p/releases" ]; then
  for r in "$p"/releases/*; do
    [ -d "$r" ] || continue
    echo "release ${r##*/} $(cat "$r/REVISION" 2>/dev/null || echo -)"
  done
fi`, q(root), current)
}

// parseState reads the output of readStateScript.
func parseState(root, out string) (*HostState, error) {
	s := &HostState{Root: root}
	for _, line := range strings.Split(out, "\n") {
		key, val, _ := strings.Cut(line, " ")
		val = strings.TrimSpace(val)
		switch key {
		case "current":
			s.Current = val
		case "commit":
			s.CurrentCommit = val
		case "state":
			if val != "" {
				if err := json.Unmarshal([]byte(val), &s.Record); err != nil {
					return nil, fmt.Errorf("the state file %s/.deploy/state is not valid: %w", root, err)
				}
			}
		case "lock":
			s.Lock = val
		case "server":
			s.ServerDown = val == "down"
		case "log":
			var r Record
			if json.Unmarshal([]byte(val), &r) == nil {
				s.History = append(s.History, r)
			}
		case "release":
			name, sha, _ := strings.Cut(val, " ")
			s.Releases = append(s.Releases, Release{Name: name, SHA: sha, Current: name == s.Current && name != ""})
		}
	}
	s.Record = s.recordOfCurrent()
	return s, nil
}

// recordOfCurrent is the last transition of the release in use: the last
// record, unless that prepared a release that never went live (a run that
// stopped before the switch: its check or a migration failed, or it was
// interrupted) — then the one before it that names `current`. A release
// made ready and left unused is not drift.
func (s *HostState) recordOfCurrent() Record {
	if s.Record.Phase != PhasePrepared || s.Record.Release == s.Current || s.Current == "" {
		return s.Record
	}
	for _, r := range slices.Backward(s.History) {
		if r.Release == s.Current {
			return r
		}
	}
	return s.Record
}
