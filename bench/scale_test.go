//go:build unix

package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ---- 1,000 hosts ----------------------------------------------------------
//
// The scale section: BENCH_SCALE_HOSTS hosts (1000), too many for one sshd
// each on 2 cores, served by one bench/fleet process of in-process servers.
// It times deploy over all of them, reads its peak RSS from /usr/bin/time
// -v, and asks the fleet how many handshakes were in flight at once.

// fleetProc is a running bench/fleet: its files and its stdin and stdout,
// by which the harness asks for the handshake peaks.
type fleetProc struct {
	cmd       *exec.Cmd
	stdin     io.WriteCloser
	lines     *bufio.Scanner
	sshConfig string
}

// peaks are the most handshakes and unauthenticated connections in flight
// at once, in all and with one server, as bench/fleet counts them.
type peaks struct {
	shakes, shakesPerServer, unauth, unauthPerServer int
}

func (p peaks) max(q peaks) peaks {
	return peaks{max(p.shakes, q.shakes), max(p.shakesPerServer, q.shakesPerServer),
		max(p.unauth, q.unauth), max(p.unauthPerServer, q.unauthPerServer)}
}

var peaksLine = regexp.MustCompile(`^peaks handshakes=(\d+) handshakes_per_server=(\d+) unauthenticated=(\d+) unauthenticated_per_server=(\d+)$`)

// startFleet builds bench/fleet, starts n hosts and waits for "ready". The
// fleet is stopped at cleanup: its stdin closed, then killed if it lingers.
func (h *harness) startFleet(n int) *fleetProc {
	bin := filepath.Join(h.t.TempDir(), "fleet")
	if out, err := exec.Command("go", "build", "-o", bin, "./fleet").CombinedOutput(); err != nil {
		h.t.Fatalf("go build ./fleet: %v\n%s", err, out)
	}
	dir := h.scratch("fleet")
	cmd := exec.Command(bin, "-n", strconv.Itoa(n), "-dir", dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start the fleet: %v", err)
	}
	f := &fleetProc{cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), sshConfig: filepath.Join(dir, "ssh_config")}
	h.t.Cleanup(f.stop)
	if !f.lines.Scan() || f.lines.Text() != "ready" {
		h.t.Fatalf("the fleet of %d hosts did not start: %q %v", n, f.lines.Text(), f.lines.Err())
	}
	return f
}

// peaks returns the fleet's peaks since the last call, and starts new ones.
func (f *fleetProc) peaks() (peaks, error) {
	if _, err := io.WriteString(f.stdin, "\n"); err != nil {
		return peaks{}, fmt.Errorf("ask the fleet: %w", err)
	}
	if !f.lines.Scan() {
		return peaks{}, fmt.Errorf("the fleet did not answer: %v", f.lines.Err())
	}
	m := peaksLine.FindStringSubmatch(f.lines.Text())
	if m == nil {
		return peaks{}, fmt.Errorf("the fleet said %q", f.lines.Text())
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return peaks{n[0], n[1], n[2], n[3]}, nil
}

// stop ends the fleet (closing stdin ends it, and its servers kill their
// commands) and waits for it; a fleet still there after 30 s is killed.
func (f *fleetProc) stop() {
	f.stdin.Close() // its last "peaks" line waits in the pipe, unread
	done := make(chan struct{})
	go func() {
		f.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		f.cmd.Process.Kill()
		<-done
	}
}

// scaleRow is one workload over the fleet: its median wall time and peak
// RSS, and the most handshakes in flight over its repetitions.
type scaleRow struct {
	walls, rss []time.Duration // rss in kB, kept as a Duration for median
	peaks      peaks
	locksLeft  int // hosts whose deploy lock a run could not release, in all
}

// timedDeploy runs deploy under /usr/bin/time -v and adds its wall time,
// peak RSS and the fleet's handshake peaks to row.
func (h *harness) timedDeploy(f *fleetProc, row *scaleRow, args ...string) error {
	if _, err := f.peaks(); err != nil { // start new peaks
		return err
	}
	cmd := exec.Command("/usr/bin/time", append([]string{"-v", h.bin}, args...)...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	p, perr := f.peaks()
	m := maxRSS.FindStringSubmatch(out.String())
	if err != nil || m == nil {
		return fmt.Errorf("deploy %s: %v\n%s", strings.Join(args, " "), err, lastLines(out.String(), 30))
	}
	if perr != nil {
		return perr
	}
	kb, _ := strconv.Atoi(m[1])
	row.walls, row.rss = append(row.walls, wall), append(row.rss, time.Duration(kb))
	row.peaks = row.peaks.max(p)
	// A run whose journal and unlock missed their time limit still exits 0.
	row.locksLeft += strings.Count(out.String(), "lock could not be released")
	return nil
}

// scaleTask writes, in a new directory, a Deployfile of n fleet hosts and
// a task of two run steps, the first guarded by creates.
func (h *harness) scaleTask(n int) string {
	root := h.scratch("scale")
	w := root + "/w"
	if err := mkdirOpen(w); err != nil {
		h.t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[app]\nname = \"scale\"\npath = %q\n\n", root+"/app-{{host}}")
	fmt.Fprintf(&b, "[tasks.scale]\nsteps = [\n  { run = %q, creates = %q },\n  { run = \"true\" },\n]\n\n",
		"touch "+w+"/{{host}}", w+"/{{host}}")
	b.WriteString("[hosts]\nall = [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "\"h%d\"", i+1)
	}
	b.WriteString("]\n")
	df := filepath.Join(root, "Deployfile")
	if err := os.WriteFile(df, []byte(b.String()), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return df
}

func (h *harness) scale() {
	n := envInt("BENCH_SCALE_HOSTS", 1000)
	if n == 0 {
		return
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		h.printf("\n(the %d-host section skipped: /usr/bin/time is missing; apt-get install time)\n", n)
		return
	}
	f := h.startFleet(n)
	var execRow, taskRow scaleRow
	for i := 0; i < h.count; i++ {
		df := h.scaleTask(n)
		if err := h.timedDeploy(f, &execRow, "-f", df, "--ssh-config", f.sshConfig, "exec", "all", "--", "true"); err != nil {
			h.t.Fatal(err)
		}
		if err := h.timedDeploy(f, &taskRow, "-f", df, "--ssh-config", f.sshConfig, "run", "all", "scale"); err != nil {
			h.t.Fatal(err)
		}
	}
	h.printf("\n## %d hosts: in-process servers of one bench/fleet process, 0 ms (median of %d)\n\n", n, h.count)
	h.printf("| work | wall | peak RSS of deploy | handshakes in flight at once: all / one server | unauthenticated connections at once: all / one server | locks left |\n")
	h.printf("| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range []struct {
		name string
		row  scaleRow
	}{{"`deploy exec all -- true`", execRow}, {"task, 2 `run` steps (1 with `creates`), first run", taskRow}} {
		p := r.row.peaks
		h.printf("| %s | %s | %.1f MiB | %d / %d | %d / %d | %d |\n", r.name, ms(median(r.row.walls)), float64(median(r.row.rss))/1024,
			p.shakes, p.shakesPerServer, p.unauth, p.unauthPerServer, r.row.locksLeft)
	}
	h.printf("\nHandshakes in flight: from the client's first byte to its authentication, the most over the repetitions; " +
		"deploy's limits are 64 in all and 8 per server (remote.Options). Unauthenticated connections: from the accept on, " +
		"what sshd's MaxStartups (default 10:30:100) counts per server. Both as the servers see them: a server counts a handshake " +
		"until its own goroutine is done with it, a moment after the client is. Locks left: hosts, over the repetitions, whose " +
		"journal and unlock missed deploy's 4 s cleanup limit (the run still exits 0).\n")
	h.t.Logf("scale n=%d: exec %v, task %v", n, execRow, taskRow)
}
