//go:build faults && unix

// The fault-injection suite: real deploy processes against real sshd
// hosts and gunicorn, hurt at random points — a host's sshd killed while
// preparing, around the switch, while reloading; the reply to the switch
// lost; a connection stalled mid-reload; Ctrl-C anywhere; five deploys at
// once — and, after every run, the guarantees checked: the reachable
// hosts agree, `current` is whole, no lock is left where it could be
// removed, the exit code tells the truth, the summary says what
// `deploy status` reads, and the next deploy finishes the job.
//
//	FAULT_RUNS=20 go test -tags faults -run Fault -race -v .
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/internal/tcpproxy"
)

var webHosts = []string{"web1", "web2", "web3"}

// faultRuns is the number of randomized runs per scenario: $FAULT_RUNS,
// default 20.
func faultRuns(t *testing.T) int {
	if s := os.Getenv("FAULT_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FAULT_RUNS=%q: want a positive number", s)
		}
		return n
	}
	return 20
}

// faultbook is the superbook on web1..web3 and static1, its Deployfile
// marked so that the test knows which phase a run is in: each host
// touches {root}/mark-<host>-prepare in its build (and sleeps 0.3s),
// -preswitch 0.1s before the switch, -reload as its reload starts (and
// sleeps 0.2s). The reload step has a 3s timeout.
type faultbook struct {
	*superbook
	bin   string
	rng   *rand.Rand
	proxy *tcpproxy.Proxy // between deploy and web3's sshd, when asked for
	n     int             // commits made

	runTime   time.Duration // a whole deploy, measured
	switchGap time.Duration // web3's preswitch marker → its `current` changed

	mu       sync.Mutex
	outcomes map[string]int
}

func newFaultbook(t *testing.T, withProxy bool) *faultbook {
	t.Helper()
	sb := newSuperbook(t, webHosts...)
	fb := &faultbook{superbook: sb, bin: deployBinary(t), outcomes: map[string]int{}}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULT_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("FAULT_SEED=%d", seed)
	fb.rng = rand.New(rand.NewPCG(seed, seed>>1|1))

	data, err := os.ReadFile(filepath.Join(sb.work, "Deployfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	mark := func(phase string) string { return sb.root + "/mark-{{host}}-" + phase }
	for _, r := range [][2]string{
		{`build = [{ run = "echo built`, `build = [{ run = "touch ` + mark("prepare") + `; sleep 0.3; echo built`},
		{`inputs = ["requirements.txt"]`, `inputs = ["requirements.txt", "VERSION"]`},
		{`  { builtin = "reload", on = "web",`, `  { run = "touch ` + mark("preswitch") + `; sleep 0.1", on = "web", name = "preswitch marker" },
  { builtin = "reload", on = "web", timeout = "3s",`},
		{`command = """
pid=`, `command = """
touch ` + mark("reload") + `; sleep 0.2
pid=`},
	} {
		if !strings.Contains(df, r[0]) {
			t.Fatalf("the superbook Deployfile has no %q any more: update the fault suite", r[0])
		}
		df = strings.Replace(df, r[0], r[1], 1)
	}
	if withProxy {
		fb.proxyWeb3(t, 100*time.Millisecond)
	}
	fb.commitNext(t, map[string]string{"Deployfile": df})
	if p := fb.start(); !p.wait(120*time.Second) || p.code != 0 {
		t.Fatalf("first deploy: exit %d\n%s\n%s", p.code, p.stdout.String(), p.stderr.String())
	}

	// Calibrate: how long a deploy takes, and when web3 switches.
	sha := fb.commitNext(t, nil)
	fb.clearMarkers()
	stop := make(chan struct{})
	switched := fb.watchCurrent("web3", stop)
	p := fb.start()
	pre, _ := fb.waitFile(fb.marker("web3", "preswitch"), p)
	ok := p.wait(120 * time.Second)
	close(stop)
	sw := <-switched
	if !ok || p.code != 0 || sw.IsZero() || pre.IsZero() {
		t.Fatalf("calibration deploy: exit %d\n%s", p.code, p.stderr.String())
	}
	fb.runTime, fb.switchGap = p.dur, sw.Sub(pre)
	for _, h := range webHosts {
		fb.waitServes(t, h, sha)
	}
	t.Logf("a deploy takes %.2fs; web3 switches %.0fms after its preswitch marker", fb.runTime.Seconds(), fb.switchGap.Seconds()*1000)
	return fb
}

// proxyWeb3 puts a proxy between deploy and web3's sshd that delays the
// sshd's bytes by delay; the scenarios cut or freeze its connections.
func (fb *faultbook) proxyWeb3(t *testing.T, delay time.Duration) {
	t.Helper()
	srv := fb.env.Servers()["web3"]
	p, err := tcpproxy.New(srv.Addr(), tcpproxy.Options{Down: delay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	fb.proxy = p
	cfg, err := os.ReadFile(fb.env.SSHConfig)
	if err != nil {
		t.Fatal(err)
	}
	old := fmt.Sprintf("Host web3\n  HostName %s\n  Port %d\n", srv.Host, srv.Port)
	if !strings.Contains(string(cfg), old) {
		t.Fatalf("no entry %q in the ssh_config:\n%s", old, cfg)
	}
	cfg = []byte(strings.Replace(string(cfg), old, fmt.Sprintf("Host web3\n  HostName %s\n  Port %d\n", srv.Host, fb.proxy.Port()), 1))
	if err := os.WriteFile(fb.env.SSHConfig, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(fb.env.KnownHosts, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[%s]:%d %s", srv.Host, fb.proxy.Port(), ssh.MarshalAuthorizedKey(srv.HostKey))
	f.Close()
}

// commitNext commits a new VERSION (and files), returning the commit.
func (fb *faultbook) commitNext(t *testing.T, files map[string]string) string {
	t.Helper()
	fb.n++
	all := map[string]string{"VERSION": strconv.Itoa(fb.n) + "\n"}
	for k, v := range files {
		all[k] = v
	}
	return fb.commit(t, fmt.Sprintf("v%d", fb.n), all)
}

func (fb *faultbook) marker(host, phase string) string {
	return filepath.Join(fb.root, "mark-"+host+"-"+phase)
}

func (fb *faultbook) clearMarkers() {
	files, _ := filepath.Glob(filepath.Join(fb.root, "mark-*"))
	for _, f := range files {
		os.Remove(f)
	}
}

// proc is a deploy process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	start          time.Time
	end            time.Time
	dur            time.Duration
	code           int
	done           chan struct{}
}

// start runs `deploy [extra] run prod release` (the deploy task without
// the app's tests).
func (fb *faultbook) start(extra ...string) *proc {
	args := append(append(slices.Clone(fb.flags), extra...), "run", "prod", "release")
	p := &proc{cmd: exec.Command(fb.bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.start = time.Now()
	if err := p.cmd.Start(); err != nil {
		p.code = -2
		fmt.Fprintf(&p.stderr, "start: %v", err)
		close(p.done)
		return p
	}
	go func() {
		p.cmd.Wait()
		p.end = time.Now()
		p.dur = p.end.Sub(p.start)
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	return p
}

// wait waits for the process, killing it after limit; false then.
func (p *proc) wait(limit time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// waitFile waits for a file to exist while p runs: when it appeared.
func (fb *faultbook) waitFile(file string, p *proc) (time.Time, bool) {
	for {
		if _, err := os.Stat(file); err == nil {
			return time.Now(), true
		}
		if !p.running() {
			return time.Time{}, false
		}
		time.Sleep(time.Millisecond)
	}
}

// watchCurrent sends when host's `current` changes, or the zero time
// when stop closes first.
func (fb *faultbook) watchCurrent(host string, stop <-chan struct{}) <-chan time.Time {
	out := make(chan time.Time, 1)
	link := filepath.Join(fb.root, host, "current")
	was, _ := os.Readlink(link)
	go func() {
		for {
			if now, _ := os.Readlink(link); now != was {
				out <- time.Now()
				return
			}
			select {
			case <-stop:
				out <- time.Time{}
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return out
}

// served is the commit host's gunicorn answers /health with.
func (fb *faultbook) served(host string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/health", fb.ports[host]))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	ans := strings.TrimSpace(string(body))
	sha, ok := strings.CutPrefix(ans, "ok ")
	if resp.StatusCode != 200 || !ok {
		return "", fmt.Errorf("%s: %s", resp.Status, ans)
	}
	return sha, nil
}

// servedAll reads every web host's served commit, waiting up to 5s for
// cond to hold (a HUP reload takes a moment to reach the workers).
func (fb *faultbook) servedAll(cond func(map[string]string) bool) map[string]string {
	var got map[string]string
	for i := 0; i < 50; i++ {
		got = map[string]string{}
		for _, h := range webHosts {
			if sha, err := fb.served(h); err == nil {
				got[h] = sha
			} else {
				got[h] = "error: " + err.Error()
			}
		}
		if cond(got) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// runFault is what a scenario did in one run.
type runFault struct {
	injected bool
	down     []string  // hosts whose sshd is down when the run ends
	sigint   time.Time // when SIGINT was sent
	note     string
}

// verdict checks the guarantees after one run; it returns the run's
// outcome (for the tally) and the violations.
func (fb *faultbook) verdict(t *testing.T, p *proc, f runFault, old, sha string) (string, []string) {
	var bad []string
	up := slices.DeleteFunc(slices.Clone(webHosts), func(h string) bool { return slices.Contains(f.down, h) })
	stderr := p.stderr.String()

	// 1. The reachable hosts serve one commit.
	agree := func(m map[string]string) bool {
		for _, h := range up {
			if m[h] != m[up[0]] || strings.HasPrefix(m[h], "error") {
				return false
			}
		}
		return true
	}
	served := fb.servedAll(agree)
	if !agree(served) {
		bad = append(bad, fmt.Sprintf("1: the reachable hosts %v serve different commits: %v", up, shortAll(served)))
	}
	// 2. `current` is a whole release everywhere.
	for _, h := range webHosts {
		target, err := os.Readlink(filepath.Join(fb.root, h, "current"))
		if err != nil {
			bad = append(bad, fmt.Sprintf("2: %s: current: %v", h, err))
			continue
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(fb.root, h, target)
		}
		if _, err := os.Stat(filepath.Join(target, "REVISION")); err != nil {
			bad = append(bad, fmt.Sprintf("2: %s: current → %s has no REVISION", h, target))
		}
	}
	// 3. No lock where the run could remove it; a lock left is named.
	for _, h := range append(slices.Clone(webHosts), "static1") {
		if _, err := os.Stat(filepath.Join(fb.root, h, ".deploy", "lock")); err != nil {
			continue
		}
		if !slices.Contains(f.down, h) {
			bad = append(bad, fmt.Sprintf("3: a lock is left on %s, which was reachable", h))
		} else if !strings.Contains(stderr, "deploy unlock "+h) {
			bad = append(bad, fmt.Sprintf("3: a lock is left on the unreachable %s, and stderr does not say `deploy unlock %s`", h, h))
		}
	}
	// 4. Exit 0 only when every web host serves the new commit; SIGINT
	// gives 130, in bounded time.
	if p.code == 0 {
		all := func(m map[string]string) bool {
			return !slices.ContainsFunc(webHosts, func(h string) bool { return m[h] != sha })
		}
		if got := fb.servedAll(all); !all(got) {
			bad = append(bad, fmt.Sprintf("4: exit 0, but the web hosts serve %v, not all %s", shortAll(got), short7(sha)))
		}
	}
	if !f.sigint.IsZero() {
		switch {
		case p.code != 130 && p.code != 0:
			bad = append(bad, fmt.Sprintf("4: SIGINT: exit %d, want 130", p.code))
		case p.end.Sub(f.sigint) > 20*time.Second:
			bad = append(bad, fmt.Sprintf("4: SIGINT: exited %.1fs after it, want at most 20s", p.end.Sub(f.sigint).Seconds()))
		}
	}
	// 5. The summary says what `deploy status` reads afterwards.
	if summary := summaryStates(stderr); summary != nil {
		status := fb.statusJSON(t)
		for _, h := range up {
			said, ok := summary[h]
			st, read := status[h]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("5: the summary does not say what %s is", h))
			case !read || st.Error != "":
				bad = append(bad, fmt.Sprintf("5: deploy status could not read %s: %s", h, st.Error))
			case said.unknown:
				// The run could not read it; status can now. Not a lie.
				fb.tally("note: summary said unknown for a reachable host")
			case said.phase != string(st.Phase) || said.current != st.Current:
				bad = append(bad, fmt.Sprintf("5: %s: the summary says %q %q, deploy status says %q %q (%s)",
					h, said.phase, said.current, st.Phase, st.Current, said.line))
			}
		}
	}

	// The outcome, for the tally.
	var kind string
	onNew, onOld := 0, 0
	for _, h := range up {
		switch served[h] {
		case sha:
			onNew++
		case old:
			onOld++
		}
	}
	switch {
	case strings.Contains(stderr, "rolling back") && strings.Contains(stderr, "Every host this run had switched was switched back"):
		kind = "rolled back"
	case strings.Contains(stderr, "rolling back"):
		kind = "rollback incomplete"
	case onOld == len(up):
		kind = "nothing switched"
	case onNew == len(up):
		kind = "all on the new commit"
	default:
		kind = "mixed"
	}
	outcome := fmt.Sprintf("exit %d, %s", p.code, kind)
	if len(f.down) > 0 {
		for _, h := range f.down {
			switch served[h] {
			case sha:
				outcome += ", " + h + " (down) serves new"
			case old:
				outcome += ", " + h + " (down) serves old"
			}
		}
	}
	if !f.injected {
		outcome = "fault not injected (the run was past the point): " + outcome
	}
	return outcome, bad
}

func shortAll(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = short7(v)
	}
	return out
}

// hostSaid is a line of the summary's "What each host is now".
type hostSaid struct {
	phase, current string
	unknown        bool
	line           string
}

// summaryStates reads the lines after "What each host is now, read back
// from it:"; nil when the summary has none.
func summaryStates(stderr string) map[string]hostSaid {
	_, rest, ok := strings.Cut(stderr, "What each host is now, read back from it:\n")
	if !ok {
		return nil
	}
	out := map[string]hostSaid{}
	for _, line := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(line, "    ") {
			break
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		s := hostSaid{line: strings.TrimSpace(line)}
		switch {
		case f[1] == "unknown:":
			s.unknown = true
		case f[1] == "no" && len(f) > 2 && f[2] == "release":
		case f[1] == "current" && len(f) > 2:
			// "current X (no state recorded)", "current X, but the state says …"
			s.current = strings.TrimSuffix(f[2], ",")
		case len(f) > 2:
			s.phase, s.current = f[1], f[2]
		}
		out[f[0]] = s
	}
	return out
}

// hostJSON is a line of `deploy status --json`.
type hostJSON struct {
	Host    string `json:"host"`
	Error   string `json:"error"`
	Current string `json:"current"`
	Commit  string `json:"commit"`
	Phase   string `json:"phase"`
	Served  string `json:"served"`
}

func (fb *faultbook) statusJSON(t *testing.T) map[string]hostJSON {
	out, err := exec.Command(fb.bin, append(slices.Clone(fb.flags), "status", "web", "--json")...).Output()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Errorf("deploy status: %v", err)
	}
	m := map[string]hostJSON{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var hj hostJSON
		if json.Unmarshal([]byte(line), &hj) == nil {
			m[hj.Host] = hj
		}
	}
	return m
}

func (fb *faultbook) tally(outcome string) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.outcomes[outcome]++
}

func (fb *faultbook) report(t *testing.T, scenario string, runs int) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(fb.outcomes)) {
		lines = append(lines, fmt.Sprintf("  %3d  %s", fb.outcomes[k], k))
	}
	t.Logf("OUTCOMES %s (%d runs):\n%s", scenario, runs, strings.Join(lines, "\n"))
}

// recoverAll is guarantee 6: with every host reachable again, the next
// deploy of the same commit exits 0, every web host serves it, and
// `deploy status web` exits 0.
func (fb *faultbook) recoverAll(t *testing.T, run int, sha string) bool {
	p := fb.start()
	if !p.wait(120*time.Second) || p.code != 0 {
		t.Errorf("run %d: 6: the next deploy exited %d\n%s", run, p.code, tail(p.stderr.String(), 40))
		return false
	}
	all := func(m map[string]string) bool {
		return !slices.ContainsFunc(webHosts, func(h string) bool { return m[h] != sha })
	}
	if got := fb.servedAll(all); !all(got) {
		t.Errorf("run %d: 6: after the next deploy the web hosts serve %v, want %s", run, shortAll(got), short7(sha))
		return false
	}
	out, err := exec.Command(fb.bin, append(slices.Clone(fb.flags), "status", "web")...).CombinedOutput()
	t.Logf("run %d: the next deploy took %.1fs", run, p.dur.Seconds())
	if err != nil {
		t.Errorf("run %d: 6: deploy status web after the next deploy: %v\n%s", run, err, out)
		return false
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// scenario runs the randomized runs of one fault: inject runs beside
// each deploy process, heal after the checks (restart what it killed).
func (fb *faultbook) scenario(t *testing.T, name string, inject func(p *proc) runFault, heal func(f runFault)) {
	runs := faultRuns(t)
	violations := 0
	for i := 1; i <= runs; i++ {
		old := fb.currentServed(t)
		sha := fb.commitNext(t, nil)
		fb.clearMarkers()
		p := fb.start()
		faulted := make(chan runFault, 1)
		go func() { faulted <- inject(p) }()
		finished := p.wait(120 * time.Second)
		f := <-faulted
		if !finished {
			t.Errorf("run %d: deploy did not end within 120s: killed\n%s", i, tail(p.stderr.String(), 40))
		}
		outcome, bad := fb.verdict(t, p, f, old, sha)
		fb.tally(outcome)
		t.Logf("run %d: %s (%.1fs)%s", i, outcome, p.dur.Seconds(), f.note)
		all := len(bad)
		bad = fb.known(t, i, bad, p.stderr.String())
		for _, b := range bad {
			t.Errorf("run %d: violated %s", i, b)
		}
		if all > 0 {
			if len(bad) > 0 {
				violations++
			}
			t.Logf("run %d stderr:\n%s", i, tail(p.stderr.String(), 60))
		}
		if heal != nil {
			heal(f)
		}
		if !fb.recoverAll(t, i, sha) {
			violations++
		}
	}
	fb.report(t, name, runs)
	if violations > 0 {
		t.Logf("%s: %d of %d runs violated a guarantee", name, violations, runs)
	}
}

// known is what a run's violations leave to fail the test: all of them.
// (It once set aside those explained by the ssh pool keeping a dead
// connection — fixed: a connection that ends leaves the pool, and the
// cleanup dials again past a stalled one.)
func (fb *faultbook) known(t *testing.T, run int, bad []string, stderr string) []string {
	return bad
}

// currentServed is what web1 serves before a run.
func (fb *faultbook) currentServed(t *testing.T) string {
	sha, err := fb.served("web1")
	if err != nil {
		t.Fatalf("web1 before a run: %v", err)
	}
	return sha
}

func (fb *faultbook) delay(max time.Duration) time.Duration {
	return time.Duration(fb.rng.Int64N(int64(max) + 1))
}

// killAfterMarker kills web3's sshd a random delay (up to window) after
// its marker of phase appears.
func (fb *faultbook) killAfterMarker(phase string, window time.Duration) func(p *proc) runFault {
	return func(p *proc) runFault {
		if _, ok := fb.waitFile(fb.marker("web3", phase), p); !ok {
			return runFault{}
		}
		d := fb.delay(window)
		time.Sleep(d)
		link := filepath.Join(fb.root, "web3", "current")
		before, _ := os.Readlink(link)
		fb.env.Servers()["web3"].Stop()
		note := fmt.Sprintf(" [killed %.0fms after the %s marker]", d.Seconds()*1000, phase)
		if phase == "preswitch" {
			if strings.Contains(before, "-"+short7(fb.headSHA())) {
				note += " (after web3's switch)"
			} else {
				note += " (before web3's switch)"
			}
		}
		return runFault{injected: true, down: []string{"web3"}, note: note}
	}
}

func (fb *faultbook) headSHA() string {
	out, _ := exec.Command("git", "-C", fb.work, "rev-parse", "HEAD").Output()
	return strings.TrimSpace(string(out))
}

func (fb *faultbook) restartWeb3(t *testing.T) func(runFault) {
	return func(f runFault) {
		if f.injected {
			fb.env.Servers()["web3"].Restart(t)
		}
	}
}

// (a) web3's sshd killed while it prepares its release.
func TestFaultKillPreparing(t *testing.T) {
	fb := newFaultbook(t, false)
	fb.scenario(t, "sshd of web3 killed while preparing", fb.killAfterMarker("prepare", 350*time.Millisecond), fb.restartWeb3(t))
}

// (b) web3's sshd killed around the switch of `current`.
func TestFaultKillAroundSwitch(t *testing.T) {
	fb := newFaultbook(t, false)
	window := 2 * fb.switchGap
	t.Logf("kill window: 0–%.0fms after web3's preswitch marker", window.Seconds()*1000)
	fb.scenario(t, "sshd of web3 killed around the switch", fb.killAfterMarker("preswitch", window), fb.restartWeb3(t))
}

// (c) web3's sshd killed while it reloads.
func TestFaultKillReloading(t *testing.T) {
	fb := newFaultbook(t, false)
	fb.scenario(t, "sshd of web3 killed while reloading", fb.killAfterMarker("reload", 250*time.Millisecond), fb.restartWeb3(t))
}

// (d) the reply to web3's switch never arrives: the proxy delays web3's
// answers by 100ms and cuts every connection the moment `current`
// changes on disk.
func TestFaultSwitchReplyDropped(t *testing.T) {
	fb := newFaultbook(t, true)
	fb.scenario(t, "reply to web3's switch dropped", func(p *proc) runFault {
		stop := make(chan struct{})
		go func() { <-p.done; close(stop) }()
		at := <-fb.watchCurrent("web3", stop)
		if at.IsZero() {
			return runFault{}
		}
		n := fb.proxy.Cut()
		return runFault{injected: true, note: fmt.Sprintf(" [cut %d connection(s) %.1fms after web3's current changed]", n, time.Since(at).Seconds()*1000)}
	}, nil)
}

// (e) web3's connection stalls while its reload runs: nothing is
// forwarded any more, nothing is closed. The reload step's timeout (3s)
// must fail the run in bounded time.
func TestFaultStalledReload(t *testing.T) {
	fb := newFaultbook(t, true)
	fb.scenario(t, "web3's connection frozen while reloading", func(p *proc) runFault {
		at, ok := fb.waitFile(fb.marker("web3", "reload"), p)
		if !ok {
			return runFault{}
		}
		n := fb.proxy.Freeze()
		<-p.done
		return runFault{injected: true, note: fmt.Sprintf(" [froze %d connection(s); the run ended %.1fs later]", n, p.end.Sub(at).Seconds())}
	}, func(runFault) { fb.proxy.Cut() })
}

// (h) web3's sshd killed the moment its lock directory appears: the lock
// is taken there, and the reply is lost.
func TestFaultKillWhileLocking(t *testing.T) {
	fb := newFaultbook(t, false)
	fb.scenario(t, "sshd of web3 killed as its lock is taken", func(p *proc) runFault {
		lock := filepath.Join(fb.root, "web3", ".deploy", "lock")
		if _, ok := fb.waitFile(lock, p); !ok {
			return runFault{}
		}
		d := fb.delay(5 * time.Millisecond)
		time.Sleep(d)
		fb.env.Servers()["web3"].Stop()
		return runFault{injected: true, down: []string{"web3"}, note: fmt.Sprintf(" [killed %.1fms after web3's lock appeared]", d.Seconds()*1000)}
	}, fb.restartWeb3(t))
}

// (e2) web3's requests stall the moment its `current` changes: the
// switch's answer still arrives, the reload that follows never reaches
// web3, while web1 and web2 reload the new commit.
func TestFaultStalledAfterSwitch(t *testing.T) {
	fb := newFaultbook(t, true)
	fb.scenario(t, "web3's requests frozen after its switch", func(p *proc) runFault {
		stop := make(chan struct{})
		go func() { <-p.done; close(stop) }()
		at := <-fb.watchCurrent("web3", stop)
		if at.IsZero() {
			return runFault{}
		}
		n := fb.proxy.FreezeUp()
		<-p.done
		return runFault{injected: true, note: fmt.Sprintf(" [froze what deploy sends on %d connection(s); the run ended %.1fs later]", n, p.end.Sub(at).Seconds())}
	}, func(runFault) { fb.proxy.Cut() })
}

// (f) SIGINT at a random point of the run.
func TestFaultSIGINT(t *testing.T) {
	fb := newFaultbook(t, false)
	window := fb.runTime
	t.Logf("SIGINT window: 0–%.2fs after the start", window.Seconds())
	fb.scenario(t, "SIGINT at a random point", func(p *proc) runFault {
		d := fb.delay(window)
		select {
		case <-p.done:
			return runFault{note: fmt.Sprintf(" [the run ended before %.2fs]", d.Seconds())}
		case <-time.After(time.Until(p.start.Add(d))):
		}
		sent := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			return runFault{note: " [the run ended first]"}
		}
		return runFault{injected: true, sigint: sent, note: fmt.Sprintf(" [SIGINT at %.2fs]", d.Seconds())}
	}, nil)
}

// (g) five deploys of the same new commit at once: one proceeds, the
// others are refused (exit 3) or, with --lock-wait, find it done.
func TestFaultConcurrentDeploys(t *testing.T) {
	fb := newFaultbook(t, false)
	runs := faultRuns(t)
	for i := 1; i <= runs; i++ {
		sha := fb.commitNext(t, nil)
		var extra []string
		if i%2 == 0 {
			extra = []string{"--lock-wait", "60s"}
		}
		procs := make([]*proc, 5)
		for j := range procs {
			procs[j] = fb.start(extra...)
		}
		codes := make([]int, 5)
		var stderr strings.Builder
		for j, p := range procs {
			if !p.wait(180 * time.Second) {
				t.Errorf("run %d: deploy %d did not end within 180s", i, j)
			}
			codes[j] = p.code
			stderr.WriteString(p.stderr.String())
		}
		ok, held := 0, 0
		for _, c := range codes {
			switch c {
			case 0:
				ok++
			case 3:
				held++
			}
		}
		var bad []string
		if ok == 0 || ok+held != 5 || (extra != nil && ok != 5) {
			bad = append(bad, fmt.Sprintf("exit codes %v (lock-wait: %v)", codes, extra != nil))
		}
		// Guarantees 1–4 over the five: every host reachable.
		all := &proc{code: 0, end: time.Now()}
		all.stderr.WriteString(stderr.String())
		if ok == 0 {
			all.code = 1
		}
		_, more := fb.verdict(t, all, runFault{injected: true}, "", sha)
		bad = append(bad, more...)
		outcome := fmt.Sprintf("%d ok, %d refused (lock held)", ok, held)
		if extra != nil {
			outcome += " with --lock-wait"
		}
		fb.tally(outcome)
		t.Logf("run %d: %s %v", i, outcome, codes)
		for _, b := range bad {
			t.Errorf("run %d: violated %s", i, b)
		}
		if len(bad) > 0 {
			t.Logf("run %d stderr:\n%s", i, tail(stderr.String(), 80))
		}
		fb.recoverAll(t, i, sha)
	}
	fb.report(t, "5 concurrent deploys of one commit", runs)
}

func short7(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
