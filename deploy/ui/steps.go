package ui

import (
	"fmt"
	"io"
	"strings"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// stepLabel is how every output of a run names its step number: "[3/8]",
// the step's number and how many the task has, or "[9]" for a step beyond
// them (one a rollback after a failure added) or when the count is not
// known.
func stepLabel(step, steps int) string {
	if steps >= step {
		return fmt.Sprintf("[%d/%d]", step, steps)
	}
	return fmt.Sprintf("[%d]", step)
}

// stepTracker follows a run's step numbers: the step's number comes with
// its events, the count with run_start; a step of a task run inside a
// step (the test step's test task) is named inside the step it belongs
// to: "[1/8] test › local: python3 manage.py test".
type stepTracker struct {
	steps   int    // of the run
	current string // "[3/8] collectstatic": the run's step now
}

// start is the title of a step_start event, with its number.
func (s *stepTracker) start(e deploy.Event) string {
	title := config.FirstLine(e.Command, 60)
	if e.Step > 0 {
		s.current = stepLabel(e.Step, s.steps) + " " + title
		return s.current
	}
	if s.current != "" {
		return s.current + " › " + title
	}
	return title
}

// runStart takes the count of steps of a run_start event; an exec's has
// none.
func (s *stepTracker) runStart(e deploy.Event) {
	s.steps, s.current = e.Steps, ""
}

// writeInterrupted says where an interrupted run stopped: the step, and
// the hosts it was running on.
func writeInterrupted(w io.Writer, st Style, res *deploy.RunResult) {
	hosts := res.InterruptedHosts()
	if len(hosts) == 0 {
		fmt.Fprintf(w, "%s interrupted between steps; no later step ran.\n", st.Yellow("■"))
		return
	}
	step := -1
	for _, sr := range res.Results {
		if sr.Outcome == deploy.Interrupted {
			step = sr.Step
			break
		}
	}
	fmt.Fprintf(w, "%s interrupted during step %d (%s) on %s; no later step ran.\n", st.Yellow("■"),
		step+1, config.FirstLine(res.Steps[step], 60), strings.Join(hosts, ", "))
}

// writeUnreachable names the hosts a plan could not reach, and why: it
// went on with the others.
func writeUnreachable(w io.Writer, st Style, res *deploy.RunResult) {
	if len(res.Unreachable) == 0 {
		return
	}
	fmt.Fprintf(w, "%s %s could not be reached; the plan went on without:\n", st.Red("✗"), tasks.Plural(len(res.Unreachable), "host"))
	for _, h := range res.Hosts {
		if why, ok := res.Unreachable[h]; ok {
			fmt.Fprintf(w, "  %s %s %s\n", h, st.Red("unreachable:"), why)
		}
	}
}
