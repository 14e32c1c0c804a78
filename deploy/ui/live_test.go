package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deploy-tool/deploy/deploy"
)

func TestLivePrinter(t *testing.T) {
	var out, term bytes.Buffer
	text := NewTextPrinter(&out, &out, Style{}, []string{"web1", "web2"})
	p := NewLivePrinter(text, &term, Style{})
	p.every = time.Hour // redraws come from events only, for a stable test
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "deploy", Hosts: []string{"web1", "web2"}})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Command: "migrate", Hosts: []string{"web1", "web2"}})
	if !strings.Contains(term.String(), "web1  ▸ step 1: migrate") || !strings.Contains(term.String(), "web2  ▸ step 1: migrate") {
		t.Fatalf("status block:\n%q", term.String())
	}
	term.Reset()
	p.Event(deploy.Event{Time: now, Type: deploy.EventOutput, Host: "web1", Stream: "stdout", Line: "Applying 0002"})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Host: "web1", Line: string(deploy.Changed)})
	// Each event erases the two status lines, then draws them again.
	if got := strings.Count(term.String(), "\x1b[2A\r\x1b[J"); got != 2 {
		t.Errorf("erased %d times, want 2:\n%q", got, term.String())
	}
	if !strings.Contains(term.String(), "web1  changed, waiting for the others") {
		t.Errorf("web1 is not shown as done:\n%q", term.String())
	}
	if !strings.Contains(out.String(), "web1 | Applying 0002\n") {
		t.Errorf("output line: %q", out.String())
	}
	term.Reset()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunEnd})
	if term.String() != "\x1b[2A\r\x1b[J" {
		t.Errorf("the block is not erased at the end: %q", term.String())
	}
}
