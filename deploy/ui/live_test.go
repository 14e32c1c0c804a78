package ui

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/deploy-tool/deploy/deploy"
)

func TestLivePrinter(t *testing.T) {
	var out, term bytes.Buffer
	text := NewTextPrinter(&out, &out, Style{}, []string{"web1", "web2"})
	p := NewLivePrinter(text, &term, Style{})
	p.every = time.Hour // redraws come from events only, for a stable test
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "deploy", Hosts: []string{"web1", "web2"}, Steps: 3})
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 2, Command: "migrate", Hosts: []string{"web1", "web2"}})
	if !strings.Contains(term.String(), "web1  ▸ [2/3] migrate") || !strings.Contains(term.String(), "web2  ▸ [2/3] migrate") {
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

// drawnBlocks are the status blocks written to term, in order, each as
// its lines; erased is how many lines each erase moved up over.
func drawnBlocks(t *testing.T, term string) (blocks [][]string, erased []int) {
	t.Helper()
	erase := regexp.MustCompile(`\x1b\[(\d+)A\r\x1b\[J`)
	for _, m := range erase.FindAllStringSubmatch(term, -1) {
		n, _ := strconv.Atoi(m[1])
		erased = append(erased, n)
	}
	for _, part := range erase.Split(term, -1) {
		if part == "" {
			continue
		}
		blocks = append(blocks, strings.Split(strings.TrimSuffix(part, "\x1b[K\n"), "\x1b[K\n"))
	}
	return blocks, erased
}

// With 1,000 hosts the block is a line of counts, the failed hosts and the
// slowest running ones: never more lines than the terminal leaves room
// for, and each erase takes back exactly what was drawn.
func TestLivePrinterManyHosts(t *testing.T) {
	hosts := make([]string, 1000)
	for i := range hosts {
		hosts[i] = "web" + strconv.Itoa(i+1)
	}
	for _, height := range []int{40, 9, 5, 2} {
		t.Run(fmt.Sprintf("height %d", height), func(t *testing.T) {
			var out, term bytes.Buffer
			p := NewLivePrinter(NewTextPrinter(&out, &out, Style{}, hosts), &term, Style{})
			p.every = time.Hour
			p.size = func() (int, int) { return 64, height }
			limit := max(1, min(6, height-4))
			now := time.Now()
			p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "deploy", Hosts: hosts, Steps: 4})
			p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 1, Command: "python manage.py migrate --noinput", Hosts: hosts})
			for i, h := range hosts[:820] {
				outcome := deploy.Changed
				if i >= 812 {
					outcome = deploy.Failed
				}
				p.Event(deploy.Event{Time: now, Type: deploy.EventStepEnd, Host: h, Line: string(outcome)})
			}
			blocks, erased := drawnBlocks(t, term.String())
			if len(blocks) != 822 {
				t.Fatalf("%d blocks drawn, want one an event (822)", len(blocks))
			}
			for i, b := range blocks {
				if len(b) > limit {
					t.Fatalf("block %d has %d lines, more than %d:\n%s", i, len(b), limit, strings.Join(b, "\n"))
				}
				for _, l := range b {
					if utf8.RuneCountInString(l) >= 64 {
						t.Fatalf("line %q of block %d is wider than the terminal (64): it would wrap", l, i)
					}
				}
				if i+1 < len(blocks) && erased[i] != len(b) {
					t.Fatalf("block %d has %d lines, and the erase after it moved up %d", i, len(b), erased[i])
				}
			}
			last := blocks[len(blocks)-1]
			if want := " — 812 done, 180 running, 8 failed · "; !strings.HasPrefix(last[0], "  [1/4] python") || !strings.Contains(last[0], want) {
				t.Errorf("counts line %q, want the step and %q", last[0], want)
			}
			if limit == 1 {
				return
			}
			if !strings.HasPrefix(last[1], "  ✗ failed: web813, web814") || !strings.HasSuffix(last[1], " more") ||
				utf8.RuneCountInString(last[1]) >= 64 {
				t.Errorf("failed line %q: want the first failed hosts named, the others counted, in 64 columns", last[1])
			}
			for _, l := range last[2:] {
				if !strings.Contains(l, "▸ [1/4] python") {
					t.Errorf("line %q is not a running host's", l)
				}
			}
		})
	}
}

// As many hosts as fit keep a line each.
func TestLivePrinterFewHostsOneLineEach(t *testing.T) {
	hosts := []string{"web1", "web2", "web3", "web4", "web5", "web6", "web7", "web8", "web9", "web10"}
	var out, term bytes.Buffer
	p := NewLivePrinter(NewTextPrinter(&out, &out, Style{}, hosts), &term, Style{})
	p.every = time.Hour
	p.size = func() (int, int) { return 80, 24 }
	now := time.Now()
	p.Event(deploy.Event{Time: now, Type: deploy.EventRunStart, Command: "deploy", Hosts: hosts})
	blocks, _ := drawnBlocks(t, term.String())
	if got := blocks[len(blocks)-1]; len(got) != 10 || !strings.Contains(got[9], "web10") {
		t.Errorf("10 hosts on 24 rows: block %q, want a line each", got)
	}
	// Fewer rows than hosts: the compact block.
	term.Reset()
	p.size = func() (int, int) { return 80, 12 }
	p.Event(deploy.Event{Time: now, Type: deploy.EventStepStart, Step: 1, Command: "migrate", Hosts: hosts})
	blocks, _ = drawnBlocks(t, term.String())
	if got := blocks[len(blocks)-1]; len(got) > 6 || !strings.HasPrefix(got[0], "  [1] migrate — 0 done, 10 running, 0 failed") {
		t.Errorf("10 hosts on 12 rows: block %q, want the compact one", got)
	}
}

func TestHostList(t *testing.T) {
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("web%d", i+1)
	}
	for _, c := range []struct {
		hosts []string
		want  string
	}{
		{[]string{"web1"}, "web1"},
		{many[:8], "web1, web2, web3, web4, web5, web6, web7, web8"},
		{many[:9], "web1, web2, web3, web4, web5, web6, web7 and 2 more"},
		{many, "web1, web2, web3, web4, web5, web6, web7 and 993 more"},
	} {
		if got := hostList(c.hosts); got != c.want {
			t.Errorf("%d hosts: %q, want %q", len(c.hosts), got, c.want)
		}
	}
}
