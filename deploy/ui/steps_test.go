package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/deploy"
	"github.com/deploy-tool/deploy/internal/vt"
)

// A task run inside a step (the test step's test task) is shown inside
// that step, under its number: it starts no numbering of its own.
func TestNestedStepsKeepTheRunsNumber(t *testing.T) {
	var out, term bytes.Buffer
	p := NewLivePrinter(NewTextPrinter(&out, &out, Style{}, []string{"web1"}), &term, Style{})
	p.every = time.Hour
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "deploy", Hosts: []string{"web1"}, Steps: 8})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 1, Command: "test", Hosts: []string{"local"}})
	inner := deploy.StepsOnly{Next: p}
	inner.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "test", Hosts: []string{"local"}, Steps: 1})
	inner.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 1, Command: "local: python3 manage.py test", Hosts: []string{"local"}})
	inner.Event(deploy.Event{Time: now, Type: deploy.EventRunEnd})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 2, Command: "commit", Hosts: []string{"local"}})
	for _, want := range []string{"▸ [1/8] test  on local\n", "▸ [1/8] test › local: python3 manage.py test  on local\n", "▸ [2/8] commit  on local\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no header %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(term.String(), "local  ▸ [1/8] test › local: python3") || !strings.Contains(term.String(), "local  ▸ [2/8] commit") {
		t.Errorf("status lines:\n%q", term.String())
	}
}

// A notice written while the status block is drawn (deploy: interrupted…)
// goes above it, and Clear leaves nothing of the block on the screen; the
// hosts interrupted show as such meanwhile.
func TestLivePrinterInterjectAndClear(t *testing.T) {
	var screen vt.Screen
	hosts := []string{"web1", "web2"}
	p := NewLivePrinter(NewTextPrinter(&screen, &screen, Style{}, hosts), &screen, Style{})
	p.every = time.Hour
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "slow", Hosts: hosts, Steps: 3})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 2, Command: "run: sleep 30", Hosts: hosts})
	screen.Write([]byte("^C")) // the terminal's echo, where the cursor is
	p.Interject("deploy: interrupted; stopping remote commands")
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Step: 2, Host: "web1", Line: string(deploy.Interrupted)})
	want := []string{
		"▸ [2/3] run: sleep 30  on web1, web2",
		"deploy: interrupted; stopping remote commands",
		"web1 | ■ interrupted after 0.00s",
		"  web1  ■ interrupted",
	}
	if got := screen.Lines(); len(got) != 5 || strings.Join(got[:4], "\n") != strings.Join(want, "\n") || !strings.HasPrefix(got[4], "  web2  ▸ [2/3] run: sleep 30") {
		t.Errorf("screen:\n%s\nwant:\n%s\n  web2  ▸ [2/3] run: sleep 30 …", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p.Clear()
	if got := screen.Lines(); strings.Join(got, "\n") != strings.Join(want[:3], "\n") {
		t.Errorf("after Clear:\n%s", strings.Join(got, "\n"))
	}
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Step: 2, Host: "web2", Line: string(deploy.Interrupted)})
	if got := screen.Lines(); len(got) != 4 || got[3] != "web2 | ■ interrupted after 0.00s" {
		t.Errorf("once cleared, the block must not come back:\n%s", strings.Join(got, "\n"))
	}
}

// The compact block counts the interrupted hosts apart from the failed.
func TestCompactCountsInterrupted(t *testing.T) {
	var out, term bytes.Buffer
	hosts := []string{"a", "b", "c"}
	p := NewLivePrinter(NewTextPrinter(&out, &out, Style{}, hosts), &term, Style{})
	p.every = time.Hour
	p.size = func() (int, int) { return 80, 5 } // room for one line
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "slow", Hosts: hosts, Steps: 3})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 2, Command: "sleep", Hosts: hosts})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Step: 2, Host: "a", Line: string(deploy.Interrupted)})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Step: 2, Host: "b", Line: string(deploy.Failed)})
	blocks, _ := drawnBlocks(t, term.String())
	if got := blocks[len(blocks)-1][0]; !strings.HasPrefix(got, "  [2/3] sleep — 0 done, 1 running, 1 failed, 1 interrupted") {
		t.Errorf("counts line %q", got)
	}
}

// Before any status line is drawn (the hosts are being locked), the
// notice still takes the place of the ^C the terminal echoed.
func TestInterjectBeforeTheBlock(t *testing.T) {
	var screen vt.Screen
	p := NewLivePrinter(NewTextPrinter(&screen, &screen, Style{}, nil), &screen, Style{})
	screen.Write([]byte("earlier output\n^C"))
	p.Interject("deploy: interrupted")
	if got := strings.Join(screen.Lines(), "|"); got != "earlier output|deploy: interrupted" {
		t.Errorf("screen %q", got)
	}
}
