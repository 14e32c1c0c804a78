package deploy

import (
	"slices"
	"time"

	"github.com/deploy-tool/deploy/tasks"
)

// Outcome is how a step ended on a host.
type Outcome string

// Outcomes.
const (
	Changed    Outcome = "changed"
	Skipped    Outcome = "skipped"
	Failed     Outcome = "failed"
	NotReached Outcome = "not_reached"
	WouldRun   Outcome = "would_run" // deploy plan: the guards let it run
	// Interrupted is the outcome of a step that was running on a host
	// when the run was interrupted (Ctrl-C, SIGTERM, SIGHUP): not a
	// failure of the step.
	Interrupted Outcome = "interrupted"
)

// Event types of a task run, beside those of exec.
const (
	EventStepStart = "step_start"
	EventStepEnd   = "step_end"
)

// StepResult is how one step ended on one host ("local" for local steps).
type StepResult struct {
	Step     int // index in RunResult.Steps
	Host     string
	Outcome  Outcome
	Reason   string // why it was skipped, or what failed
	Status   int    // exit status of a failed command; -1 when none
	Duration time.Duration
	Stderr   []string // last lines of a failed command's stderr
	Command  string   // the failed command, variables filled in and secrets masked
}

// RunResult is a whole run: the steps, and every (step, host) outcome.
type RunResult struct {
	Task    string
	Steps   []string // titles, in order
	Hosts   []string // the target's hosts, in order
	Results []StepResult
	Failure *StepResult // the first failure that stopped the run
	// HookFailures are the failures of on_success and on_failure hooks:
	// reported, never the run's outcome.
	HookFailures []StepResult
	// HookStart, when not 0, is where the on_success or on_failure steps
	// begin in Steps: what the run did itself is before it.
	HookStart int
	Duration  time.Duration
	DryRun    bool
	// Interrupted says the run was stopped by Ctrl-C (or SIGTERM, SIGHUP);
	// the hosts it stopped mid-step have the outcome Interrupted.
	Interrupted bool
	SHA         string // the commit deployed, when known
	// Commit is the commit the run tested, committed, pushed or released,
	// as the summary names it; nil when the task does none of these.
	Commit *Commit
	// RolledBack says a failure after the switch put every host this run
	// had moved back on its previous release, reloaded: as read back from
	// the hosts.
	RolledBack bool
	// States are the hosts' release states read back after a failed or
	// interrupted run; Unknown the hosts that could not be read then, and
	// why.
	States  map[string]*tasks.HostState
	Unknown map[string]string
	// Unreachable are the hosts a plan could not reach, and why: it went
	// on with the others.
	Unreachable map[string]string
	// LocksLeft are the hosts whose lock could not be released, and why.
	LocksLeft map[string]string
	// JournalErr is a failure to record the run on a host; the run itself
	// is not undone by it.
	JournalErr error
}

// Commit names a commit: its sha and the first line of its message ("" when
// this machine's repository does not have it).
type Commit struct {
	SHA     string `json:"sha"`
	Subject string `json:"subject,omitempty"`
}

// Changed is how many (step, host) outcomes of the run itself — not of
// its on_success or on_failure hooks — changed something.
func (res *RunResult) Changed() int {
	n := 0
	for _, sr := range res.Results {
		if sr.Outcome == Changed && (res.HookStart == 0 || sr.Step < res.HookStart) {
			n++
		}
	}
	return n
}

// interruptedHosts, for an interrupted run, counts the hosts a step was
// running on when it was interrupted (nil when it was not interrupted).
func (res *RunResult) interruptedHosts() *int {
	if !res.Interrupted {
		return nil
	}
	return intPtr(len(res.InterruptedHosts()))
}

// InterruptedHosts are the hosts a step was running on when the run was
// interrupted, each once, in the order of the results.
func (res *RunResult) InterruptedHosts() []string {
	var hosts []string
	for _, sr := range res.Results {
		if sr.Outcome == Interrupted && !slices.Contains(hosts, sr.Host) {
			hosts = append(hosts, sr.Host)
		}
	}
	return hosts
}
