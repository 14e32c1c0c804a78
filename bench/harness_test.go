//go:build unix

package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/deploy-tool/deploy/internal/tcpproxy"
	"github.com/deploy-tool/deploy/remote/sshtest"
)

// TestHarness is the benchmark harness that bench/run.sh runs (it skips
// unless BENCH_HARNESS=1): real sshd hosts on 127.0.0.1, each reachable
// directly (0 ms) or through a latency proxy (tcpproxy.RTT), and deploy side by side with
// its peers. Settings come from the environment (run.sh sets them):
//
//	BENCH_COUNT     repetitions of each measurement; the median is reported (5)
//	BENCH_HOSTS     host counts of the exec table (1,10,50)
//	BENCH_RTTS      round-trip times of the exec table, in ms (0,20)
//	BENCH_PEERS     contenders of the exec table (all of them)
//	BENCH_TASK_HOSTS, BENCH_TASK_RTTS, BENCH_TASK_PEERS   the task8 table (10; 0,50; deploy,fabric)
//	BENCH_RT_RTT    the round-trip count's RTT in ms (100)
//	BENCH_RSS_HOSTS hosts of the peak-RSS row (200; 0 skips it)
//	BENCH_SCALE_HOSTS  hosts of the scale section, in-process servers of bench/fleet (1000)
//	BENCH_SECTIONS  which sections run (startup,roundtrips,exec,task8,superbook,rss,scale)
//	BENCH_SUPERBOOK_RTT  the full deploy's RTT in ms (50)
//	BENCH_TRACE     a directory where each full deploy run of deploy keeps its --json events
//	BENCH_OUT       where the Markdown tables are written (out/results.md)
//
// Every process, server and proxy it starts is stopped at the end.
func TestHarness(t *testing.T) {
	if os.Getenv("BENCH_HARNESS") != "1" {
		t.Skip("the benchmark harness: run bench/run.sh")
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatal("the OpenSSH client is needed: apt-get install openssh-client")
	}
	h := newHarness(t)
	sections := envList("BENCH_SECTIONS", "startup,roundtrips,exec,task8,superbook,rss,scale")
	for _, s := range sections {
		switch s {
		case "startup":
			h.startup()
		case "roundtrips":
			h.roundTrips()
		case "exec":
			h.execTable()
		case "task8":
			h.task8Table()
		case "rss":
			h.rss()
		case "superbook":
			h.superbook()
		case "scale":
			h.scale()
		default:
			t.Fatalf("unknown section %q", s)
		}
		h.flush()
	}
}

type harness struct {
	t       *testing.T
	env     *sshtest.Env
	servers []*sshtest.Server
	bin     string
	count   int
	dir     string // the login user's scratch directory
	nets    map[int]*network
	out     bytes.Buffer
	outFile string
	seq     int
}

// network is one way to reach the hosts: directly (rtt 0) or through a
// latency proxy per host, with its own ssh_config and known_hosts.
type network struct {
	rtt        int // ms
	sshConfig  string
	knownHosts string
	proxies    []*tcpproxy.Proxy
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, nets: map[int]*network{}}
	h.count = envInt("BENCH_COUNT", 5)
	h.outFile = os.Getenv("BENCH_OUT")
	if h.outFile == "" {
		h.outFile = "out/results.md"
	}
	h.bin = filepath.Join(t.TempDir(), "deploy")
	if out, err := exec.Command("go", "build", "-o", h.bin, "..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	h.env = sshtest.New(t)
	h.dir = h.env.UserDir(t)
	h.nets[0] = &network{sshConfig: h.env.SSHConfig, knownHosts: h.env.KnownHosts}
	return h
}

// hosts starts sshd hosts h1…hn as needed and names them.
func (h *harness) hosts(n int) []string {
	for len(h.servers) < n {
		h.servers = append(h.servers, h.env.Start(h.t, "h"+strconv.Itoa(len(h.servers)+1)))
	}
	names := make([]string, n)
	for i := range names {
		names[i] = h.servers[i].Name
	}
	return names
}

// net reaches hosts h1…hn with rtt ms added to each round trip: a proxy
// per host, an ssh_config whose aliases h1…hn name the proxies' ports and
// a known_hosts with [127.0.0.1]:port entries.
func (h *harness) net(rtt, n int) *network {
	h.hosts(n)
	nw := h.nets[rtt]
	if nw == nil {
		d := filepath.Join(h.env.Dir, fmt.Sprintf("net-%dms", rtt))
		if err := os.MkdirAll(d, 0o755); err != nil {
			h.t.Fatal(err)
		}
		nw = &network{rtt: rtt, sshConfig: filepath.Join(d, "ssh_config"), knownHosts: filepath.Join(d, "known_hosts")}
		h.nets[rtt] = nw
	}
	for len(nw.proxies) < n {
		s := h.servers[len(nw.proxies)]
		p, err := tcpproxy.New(s.Addr(), tcpproxy.RTT(time.Duration(rtt)*time.Millisecond))
		if err != nil {
			h.t.Fatal(err)
		}
		h.t.Cleanup(p.Close)
		nw.proxies = append(nw.proxies, p)
		appendTo(h.t, nw.knownHosts, fmt.Sprintf("[127.0.0.1]:%d %s", p.Port(), marshalKey(s)))
		appendTo(h.t, nw.sshConfig, fmt.Sprintf("Host %s\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s\n  UserKnownHostsFile %s\n",
			s.Name, p.Port(), s.User, h.env.ClientKey, nw.knownHosts))
	}
	return nw
}

// scratch makes a new directory every user may write (the hosts log in
// as the plain test user; the harness may run as root).
func (h *harness) scratch(prefix string) string {
	h.seq++
	d := filepath.Join(h.dir, fmt.Sprintf("%s-%d", prefix, h.seq))
	if err := os.MkdirAll(d, 0o777); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// contender is one way of doing the work of a row. run is timed; the
// other functions are not.
type contender struct {
	name     string
	setup    func() error // once, before the repetitions
	prep     func() error // before each repetition
	run      func() error
	after    func() // after each repetition
	teardown func()
}

// measure runs the contenders in turn, count times (round robin, so a
// busy moment of the machine is shared out), and returns each one's
// median wall time; a contender that fails is reported as an error.
func (h *harness) measure(cs []contender) map[string]result {
	res := map[string]result{}
	times := map[string][]time.Duration{}
	failed := map[string]error{}
	for _, c := range cs {
		if c.setup != nil {
			if err := c.setup(); err != nil {
				failed[c.name] = err
			}
		}
	}
	for i := 0; i < h.count; i++ {
		for _, c := range cs {
			if failed[c.name] != nil {
				continue
			}
			if c.prep != nil {
				if err := c.prep(); err != nil {
					failed[c.name] = err
					continue
				}
			}
			start := time.Now()
			err := c.run()
			d := time.Since(start)
			if c.after != nil {
				c.after()
			}
			if err != nil {
				failed[c.name] = err
				continue
			}
			times[c.name] = append(times[c.name], d)
		}
	}
	for _, c := range cs {
		if c.teardown != nil {
			c.teardown()
		}
		if err := failed[c.name]; err != nil {
			h.t.Logf("%s failed: %v", c.name, err)
			res[c.name] = result{err: err}
			continue
		}
		res[c.name] = result{median: median(times[c.name]), n: len(times[c.name])}
	}
	return res
}

type result struct {
	median time.Duration
	n      int
	err    error
}

func (r result) String() string {
	if r.err != nil {
		return "failed"
	}
	if r.n == 0 {
		return "—"
	}
	return ms(r.median)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// command runs a program to completion; its output is kept for the error.
func command(env []string, stdin string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), append([]string{"SSH_AUTH_SOCK="}, env...)...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, lastLines(string(out), 60))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// deployfile writes a Deployfile with group all = hosts, and more.
func (h *harness) deployfile(hosts []string, more string) string {
	quoted := make([]string, len(hosts))
	for i, x := range hosts {
		quoted[i] = strconv.Quote(x)
	}
	f := filepath.Join(h.scratch("df"), "Deployfile")
	if err := os.WriteFile(f, []byte(more+"\n[hosts]\nall = ["+strings.Join(quoted, ", ")+"]\n"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return f
}

// ---- the exec table ----------------------------------------------------

var execPeers = []string{"deploy", "openssh-xargs", "openssh-xargs-curve25519", "openssh-controlmaster", "pssh", "fabric", "ansible"}

var peerTitles = map[string]string{
	"deploy":                   "deploy",
	"openssh-xargs":            "xargs ssh",
	"openssh-xargs-curve25519": "xargs ssh (curve25519)",
	"openssh-controlmaster":    "ssh, warm ControlMaster",
	"pssh":                     "parallel-ssh",
	"fabric":                   "Fabric ThreadingGroup",
	"ansible":                  "ansible -m command",
}

func (h *harness) execContenders(nw *network, hosts []string, peers []string) []contender {
	n := len(hosts)
	list := strings.Join(hosts, "\n") + "\n"
	df := h.deployfile(hosts, "")
	var cs []contender
	for _, p := range peers {
		switch p {
		case "deploy":
			cs = append(cs, contender{name: p, run: func() error {
				return command(nil, "", h.bin, "-f", df, "--ssh-config", nw.sshConfig, "exec", "all", "--", "true")
			}})
		case "openssh-xargs", "openssh-xargs-curve25519":
			args := []string{"-P", strconv.Itoa(n), "-I{}", "ssh", "-F", nw.sshConfig, "-o", "BatchMode=yes"}
			if p == "openssh-xargs-curve25519" {
				args = append(args, "-o", "KexAlgorithms=curve25519-sha256")
			}
			args = append(args, "{}", "true")
			cs = append(cs, contender{name: p, run: func() error { return command(nil, list, "xargs", args...) }})
		case "openssh-controlmaster":
			cm := h.scratch("cm")
			path := filepath.Join(cm, "%n")
			cs = append(cs, contender{name: p,
				setup: func() error {
					for _, x := range hosts {
						cmd := exec.Command("ssh", "-F", nw.sshConfig, "-o", "BatchMode=yes", "-o", "ControlMaster=yes",
							"-o", "ControlPath="+path, "-o", "ControlPersist=yes", "-f", "-N", x)
						cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
						if err := cmd.Run(); err != nil {
							return fmt.Errorf("ssh -M %s: %v", x, err)
						}
					}
					return nil
				},
				run: func() error {
					return command(nil, list, "xargs", "-P", strconv.Itoa(n), "-I{}", "ssh", "-F", nw.sshConfig, "-o", "BatchMode=yes",
						"-o", "ControlMaster=no", "-o", "ControlPath="+path, "{}", "true")
				},
				teardown: func() { exitMasters(nw.sshConfig, cm) },
			})
		case "pssh":
			if _, err := exec.LookPath("parallel-ssh"); err != nil {
				cs = append(cs, missing(p, "parallel-ssh (Debian pssh)"))
				continue
			}
			hf := filepath.Join(h.scratch("pssh"), "hosts")
			os.WriteFile(hf, []byte(list), 0o644)
			cs = append(cs, contender{name: p, run: func() error {
				return command(nil, "", "parallel-ssh", "-h", hf, "-p", strconv.Itoa(n), "-x", "-F "+nw.sshConfig, "-O", "BatchMode=yes", "true")
			}})
		case "fabric":
			if !hasFabric() {
				cs = append(cs, missing(p, "Fabric (Debian python3-fabric)"))
				continue
			}
			cs = append(cs, contender{name: p, run: func() error {
				return command(nil, "", "/usr/bin/python3", "fab_exec.py", nw.sshConfig, nw.knownHosts, strings.Join(hosts, " "))
			}})
		case "ansible":
			if _, err := exec.LookPath("ansible"); err != nil {
				cs = append(cs, missing(p, "ansible (Debian ansible-core)"))
				continue
			}
			d := h.scratch("ansible")
			inv := filepath.Join(d, "inventory")
			os.WriteFile(inv, []byte("[all]\n"+list+"\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n"), 0o644)
			var cp string
			cs = append(cs, contender{name: p,
				// A new ControlPath directory each time: every run starts
				// cold, as the first run of the day does, and its masters
				// are closed after it.
				prep: func() error {
					cp = h.scratch("acp")
					return nil
				},
				run: func() error {
					return command([]string{
						"ANSIBLE_SSH_ARGS=-C -o ControlMaster=auto -o ControlPersist=60s -F " + nw.sshConfig,
						"ANSIBLE_SSH_CONTROL_PATH_DIR=" + cp,
						"ANSIBLE_LOCAL_TEMP=" + d,
						"ANSIBLE_NOCOLOR=1",
					}, "", "ansible", "all", "-i", inv, "-m", "command", "-a", "true", "-f", strconv.Itoa(n))
				},
				after: func() { exitMasters(nw.sshConfig, cp) },
			})
		default:
			h.t.Fatalf("unknown peer %q", p)
		}
	}
	return cs
}

func missing(name, what string) contender {
	return contender{name: name, setup: func() error { return fmt.Errorf("%s is not installed", what) }}
}

func hasFabric() bool {
	return exec.Command("/usr/bin/python3", "-c", "import fabric").Run() == nil
}

// exitMasters stops the ControlMaster of every socket in dir.
func exitMasters(sshConfig, dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		exec.Command("ssh", "-F", sshConfig, "-o", "ControlPath="+filepath.Join(dir, e.Name()), "-O", "exit", "x").Run()
	}
}

func (h *harness) execTable() {
	ns := envInts("BENCH_HOSTS", "1,10,50")
	rtts := envInts("BENCH_RTTS", "0,20")
	peers := envList("BENCH_PEERS", strings.Join(execPeers, ","))
	h.printf("\n## `exec true`: deploy and its peers (median of %d, wall time)\n\n", h.count)
	h.printf("| RTT | hosts |")
	for _, p := range peers {
		h.printf(" %s |", peerTitles[p])
	}
	h.printf(" deploy vs fastest cold peer |\n| ---: | ---: |%s ---: |\n", strings.Repeat(" ---: |", len(peers)))
	for _, rtt := range rtts {
		for _, n := range ns {
			nw := h.net(rtt, n)
			hosts := h.hosts(n)
			res := h.measure(h.execContenders(nw, hosts, peers))
			h.printf("| %d ms | %d |", rtt, n)
			best := time.Duration(0)
			for _, p := range peers {
				h.printf(" %s |", res[p])
				if p != "deploy" && p != "openssh-controlmaster" && res[p].err == nil && res[p].n > 0 && (best == 0 || res[p].median < best) {
					best = res[p].median
				}
			}
			h.printf(" %s |\n", ratio(res["deploy"], best))
			h.t.Logf("exec rtt=%d n=%d: %v", rtt, n, res)
		}
	}
}

// ratio says how deploy compares with the fastest peer.
func ratio(d result, best time.Duration) string {
	if d.err != nil || d.n == 0 || best == 0 {
		return "—"
	}
	r := float64(best) / float64(d.median)
	if r >= 1 {
		return fmt.Sprintf("%.2f× faster", r)
	}
	return fmt.Sprintf("%.2f× slower", 1/r)
}

// ---- the 8 guarded steps ------------------------------------------------

// task8 is task8.toml with its hosts and deploy root replaced: the steps
// are the workload, untouched.
func (h *harness) task8(hosts []string, root string) string {
	data, err := os.ReadFile("task8.toml")
	if err != nil {
		h.t.Fatal(err)
	}
	quoted := make([]string, len(hosts))
	for i, x := range hosts {
		quoted[i] = strconv.Quote(x)
	}
	s := regexp.MustCompile(`(?m)^all = \[.*\]$`).ReplaceAllString(string(data), "all = ["+strings.Join(quoted, ",")+"]")
	s = regexp.MustCompile(`(?m)^path = ".*"$`).ReplaceAllString(s, fmt.Sprintf("path = %q", root+"/app-{{host}}"))
	f := filepath.Join(root, "Deployfile")
	if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return f
}

// task8Contenders: each tool's first run (fresh hosts) and no-op rerun
// (the same again) as two contenders.
func (h *harness) task8Contenders(nw *network, hosts []string, peers []string) []contender {
	var cs []contender
	for _, p := range peers {
		switch p {
		case "deploy":
			var df, w string
			run := func() error {
				return command(nil, "", h.bin, "-f", df, "--ssh-config", nw.sshConfig, "run", "all", "task8", "--var", "w="+w)
			}
			cs = append(cs,
				contender{name: "deploy first", prep: func() error {
					root := h.scratch("task8")
					df, w = h.task8(hosts, root), root+"/w"
					return mkdirOpen(w)
				}, run: run},
				contender{name: "deploy no-op", run: run})
		case "fabric-idiom", "fabric-batched":
			if !hasFabric() {
				cs = append(cs, missing(p+" first", "Fabric (Debian python3-fabric)"), missing(p+" no-op", "Fabric"))
				continue
			}
			style := strings.TrimPrefix(p, "fabric-")
			var w string
			run := func() error {
				return command(nil, "", "/usr/bin/python3", "task8.py", nw.sshConfig, w, strings.Join(hosts, " "), style)
			}
			cs = append(cs,
				contender{name: p + " first", prep: func() error {
					w = h.scratch("fab8") + "/w"
					return mkdirOpen(w)
				}, run: run},
				contender{name: p + " no-op", run: run})
		default:
			h.t.Fatalf("unknown task8 peer %q", p)
		}
	}
	return cs
}

func (h *harness) task8Table() {
	ns := envInts("BENCH_TASK_HOSTS", "10")
	rtts := envInts("BENCH_TASK_RTTS", "0,50")
	peers := envList("BENCH_TASK_PEERS", "deploy,fabric-idiom,fabric-batched")
	h.printf("\n## 8 guarded steps (task8): first run and no-op rerun (median of %d)\n\n", h.count)
	h.printf("| RTT | hosts | tool | first run | no-op rerun |\n| ---: | ---: | --- | ---: | ---: |\n")
	for _, rtt := range rtts {
		for _, n := range ns {
			nw := h.net(rtt, n)
			res := h.measure(h.task8Contenders(nw, h.hosts(n), peers))
			for _, p := range peers {
				h.printf("| %d ms | %d | %s | %s | %s |\n", rtt, n, p, res[p+" first"], res[p+" no-op"])
			}
			h.t.Logf("task8 rtt=%d n=%d: %v", rtt, n, res)
		}
	}
}

// ---- round trips ---------------------------------------------------------

type event struct {
	Time    time.Time     `json:"time"`
	Event   string        `json:"event"`
	Connect time.Duration `json:"connect_ns"`
	RTT     time.Duration `json:"rtt_ns"`
}

func (h *harness) jsonRun(args ...string) (time.Time, time.Time, []event, error) {
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	end := time.Now()
	if err != nil {
		return start, end, nil, fmt.Errorf("deploy %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	var evs []event
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Event != "" {
			evs = append(evs, e)
		}
	}
	return start, end, evs, nil
}

// phases of one run, by the events of --json.
type phases struct {
	connect, command time.Duration // deploy check: handshake; running true
	total            time.Duration // wall time, process start to exit
	pre, steps, post time.Duration // to the first step_start; steps; after the last step_end
}

func (h *harness) phaseRun(nw *network, rep func() []string) (phases, error) {
	var ph phases
	start, end, evs, err := h.jsonRun(rep()...)
	if err != nil {
		return ph, err
	}
	ph.total = end.Sub(start)
	if os.Getenv("BENCH_EVENTS") == "1" {
		for _, e := range evs {
			h.t.Logf("  +%7.1f ms %s", float64(e.Time.Sub(start))/1e6, e.Event)
		}
		h.t.Logf("  +%7.1f ms exit", float64(ph.total)/1e6)
	}
	var first, last time.Time
	for _, e := range evs {
		switch e.Event {
		case "step_start":
			if first.IsZero() || e.Time.Before(first) {
				first = e.Time
			}
		case "step_end":
			if e.Time.After(last) {
				last = e.Time
			}
		}
	}
	if !first.IsZero() {
		ph.pre, ph.steps, ph.post = first.Sub(start), last.Sub(first), end.Sub(last)
	}
	return ph, nil
}

func medianPhases(ps []phases) phases {
	get := func(f func(phases) time.Duration) time.Duration {
		var ds []time.Duration
		for _, p := range ps {
			ds = append(ds, f(p))
		}
		return median(ds)
	}
	return phases{
		connect: get(func(p phases) time.Duration { return p.connect }),
		command: get(func(p phases) time.Duration { return p.command }),
		total:   get(func(p phases) time.Duration { return p.total }),
		pre:     get(func(p phases) time.Duration { return p.pre }),
		steps:   get(func(p phases) time.Duration { return p.steps }),
		post:    get(func(p phases) time.Duration { return p.post }),
	}
}

// roundTrips times exec and task8 on one host at 0 ms and at
// BENCH_RT_RTT, and counts round trips per phase as the difference of the
// two divided by the RTT (so the CPU time of both ends drops out).
func (h *harness) roundTrips() {
	rttMs := envInt("BENCH_RT_RTT", 100)
	rtt := time.Duration(rttMs) * time.Millisecond
	hosts := h.hosts(1)
	type meas struct{ check, exec, first, noop phases }
	at := map[int]*meas{}
	for _, r := range []int{0, rttMs} {
		nw := h.net(r, 1)
		df := h.deployfile(hosts, "")
		m := &meas{}
		var checks, execs, firsts, noops []phases
		for i := 0; i < h.count; i++ {
			_, _, evs, err := h.jsonRun("-f", df, "--ssh-config", nw.sshConfig, "--json", "check", "all")
			if err != nil {
				h.t.Fatal(err)
			}
			for _, e := range evs {
				if e.Event == "host_check" {
					checks = append(checks, phases{connect: e.Connect, command: e.RTT})
				}
			}
			p, err := h.phaseRun(nw, func() []string {
				return []string{"-f", df, "--ssh-config", nw.sshConfig, "exec", "all", "--", "true"}
			})
			if err != nil {
				h.t.Fatal(err)
			}
			execs = append(execs, p)
			root := h.scratch("rt8")
			w := root + "/w"
			mkdirOpen(w)
			tdf := h.task8(hosts, root)
			args := func() []string {
				return []string{"-f", tdf, "--ssh-config", nw.sshConfig, "--json", "run", "all", "task8", "--var", "w=" + w}
			}
			if p, err = h.phaseRun(nw, args); err != nil {
				h.t.Fatal(err)
			}
			firsts = append(firsts, p)
			if p, err = h.phaseRun(nw, args); err != nil {
				h.t.Fatal(err)
			}
			noops = append(noops, p)
		}
		m.check, m.exec, m.first, m.noop = medianPhases(checks), medianPhases(execs), medianPhases(firsts), medianPhases(noops)
		at[r] = m
	}
	z, f := at[0], at[rttMs]
	n := func(get func(phases) time.Duration, a, b phases) string {
		d := get(b) - get(a)
		return fmt.Sprintf("%.1f", float64(d)/float64(rtt))
	}
	total := func(p phases) time.Duration { return p.total }
	pre := func(p phases) time.Duration { return p.pre }
	steps := func(p phases) time.Duration { return p.steps }
	post := func(p phases) time.Duration { return p.post }
	connect := func(p phases) time.Duration { return p.connect }
	command := func(p phases) time.Duration { return p.command }
	conn := float64(f.check.connect-z.check.connect) / float64(rtt)
	lock := func(a, b phases) string {
		return fmt.Sprintf("%.1f", float64(b.pre-a.pre)/float64(rtt)-conn)
	}
	h.printf("\n## Round trips, one host at %d ms RTT (median of %d; (time at %d ms − time at 0 ms) ÷ RTT)\n\n", rttMs, h.count, rttMs)
	h.printf("| work | wall at 0 ms | wall at %d ms | round trips | connect | lock (+ start-up) | steps | journal + unlock (+ exit) | issue's floor | issue's \"today\" |\n", rttMs)
	h.printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	h.printf("| `deploy check` (connect; `true`) | | | %s | %s | | %s | | | |\n", n(func(p phases) time.Duration { return p.connect + p.command }, z.check, f.check), n(connect, z.check, f.check), n(command, z.check, f.check))
	h.printf("| `exec -- true` | %s | %s | %s | %.1f | | %.1f (rest) | | 5–6 | 9 |\n", ms(z.exec.total), ms(f.exec.total), n(total, z.exec, f.exec), conn,
		float64(f.exec.total-z.exec.total)/float64(rtt)-conn)
	h.printf("| task8 first run | %s | %s | %s | %.1f | %s | %s | %s | 15–18 | 64 |\n", ms(z.first.total), ms(f.first.total), n(total, z.first, f.first), conn, lock(z.first, f.first), n(steps, z.first, f.first), n(post, z.first, f.first))
	h.printf("| task8 no-op rerun | %s | %s | %s | %.1f | %s | %s | %s | 7–10 | 40 |\n", ms(z.noop.total), ms(f.noop.total), n(total, z.noop, f.noop), conn, lock(z.noop, f.noop), n(steps, z.noop, f.noop), n(post, z.noop, f.noop))
	_ = pre
}

// ---- start-up and memory --------------------------------------------------

func (h *harness) startup() {
	h.printf("\n## Start-up: `deploy version`\n\n")
	if _, err := exec.LookPath("hyperfine"); err == nil {
		j := filepath.Join(h.scratch("hf"), "hf.json")
		out, err := exec.Command("hyperfine", "-N", "--warmup", "5", "--runs", strconv.Itoa(max(10, 6*h.count)), "--export-json", j, h.bin+" version").CombinedOutput()
		if err == nil {
			var r struct {
				Results []struct{ Mean, Stddev, Median, Min float64 } `json:"results"`
			}
			data, _ := os.ReadFile(j)
			if json.Unmarshal(data, &r) == nil && len(r.Results) == 1 {
				x := r.Results[0]
				h.printf("hyperfine -N: median %.1f ms, mean %.1f ± %.1f ms, min %.1f ms\n", x.Median*1e3, x.Mean*1e3, x.Stddev*1e3, x.Min*1e3)
				return
			}
		}
		h.t.Logf("hyperfine: %v\n%s", err, out)
	}
	var ds []time.Duration
	for i := 0; i < max(10, 6*h.count); i++ {
		start := time.Now()
		if err := exec.Command(h.bin, "version").Run(); err != nil {
			h.t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	h.printf("(hyperfine not installed) median of %d runs: %s\n", len(ds), ms(median(ds)))
}

var maxRSS = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

func (h *harness) rss() {
	n := envInt("BENCH_RSS_HOSTS", 200)
	if n == 0 {
		return
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		h.printf("\n(peak RSS skipped: /usr/bin/time is missing; apt-get install time)\n")
		return
	}
	hosts := h.hosts(n)
	df := h.deployfile(hosts, "")
	var walls, rsss []time.Duration
	for i := 0; i < h.count; i++ {
		cmd := exec.Command("/usr/bin/time", "-v", h.bin, "-f", df, "--ssh-config", h.env.SSHConfig, "exec", "all", "--", "true")
		cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		start := time.Now()
		err := cmd.Run()
		walls = append(walls, time.Since(start))
		m := maxRSS.FindStringSubmatch(stderr.String())
		if err != nil || m == nil {
			h.t.Fatalf("deploy exec on %d hosts: %v\n%s", n, err, lastLines(stderr.String(), 20))
		}
		kb, _ := strconv.Atoi(m[1])
		rsss = append(rsss, time.Duration(kb)) // median of kB, in a Duration
	}
	h.printf("\n## %d hosts, 0 ms: `deploy exec all -- true` (median of %d)\n\n", n, h.count)
	h.printf("| hosts | wall | peak RSS (/usr/bin/time -v) |\n| ---: | ---: | ---: |\n")
	h.printf("| %d | %s | %.1f MB |\n", n, ms(median(walls)), float64(median(rsss))/1024)
}

// ---- plumbing --------------------------------------------------------------

func (h *harness) printf(format string, args ...any) {
	fmt.Fprintf(&h.out, format, args...)
}

// flush writes the tables so far, so an interrupted run keeps them.
func (h *harness) flush() {
	if err := os.MkdirAll(filepath.Dir(h.outFile), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(h.outFile, h.out.Bytes(), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// mkdirOpen makes a directory every user may write, whatever the umask.
func mkdirOpen(d string) error {
	if err := os.Mkdir(d, 0o777); err != nil {
		return err
	}
	return os.Chmod(d, 0o777)
}

func marshalKey(s *sshtest.Server) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))
}

func appendTo(t *testing.T, file, text string) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envList(name, def string) []string {
	v := os.Getenv(name)
	if v == "" {
		v = def
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func envInts(name, def string) []int {
	var out []int
	for _, s := range envList(name, def) {
		n, err := strconv.Atoi(s)
		if err != nil {
			panic(fmt.Sprintf("%s: %q is not a number", name, s))
		}
		out = append(out, n)
	}
	return out
}
