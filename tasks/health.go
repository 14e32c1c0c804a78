package tasks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// healthcheckStep fetches a URL on each host (or runs a command) until it
// succeeds or time runs out, polling on the host itself: one command
// however many tries. A failure after the switch makes the engine roll
// every host back.
//
// An answer is healthy when its status is one of with.status (default:
// any 2xx or 3xx; redirects are not followed), its body contains
// with.expect and its headers include with.header, if given. An answer
// with another status (the app is up and says no: a 500, or a 400 from
// ALLOWED_HOSTS) fails the check after with.fail_after of them in a row
// (default 3, 0.1 s apart); no answer (the server restarting) is waited
// for until with.timeout. The Host header is with.host, else the first
// name of Django's ALLOWED_HOSTS that the release's pre-switch check
// noted (.allowed-host in the release), else the URL's own.
type healthcheckStep struct{}

func (healthcheckStep) AfterSwitch() {}

func (healthcheckStep) Check(ctx context.Context, env *Env) (Verdict, error) {
	return appliedAlready(env, PhaseHealthy)
}

func (healthcheckStep) Run(ctx context.Context, env *Env, found Verdict) error {
	script, err := healthScript(env)
	if err != nil {
		return err
	}
	return applyStep(ctx, env, script, PhaseHealthy)
}

// Prober is a step that can ask a host's app what it serves: deploy
// status uses the answer to tell the commit served.
type Prober interface {
	Step
	// Probe is a script that prints the app's answer once; "" when the
	// step has nothing to ask.
	Probe(env *Env) string
}

// Probe asks as the health check does: the Host header is with.host,
// else the name the release in use noted from ALLOWED_HOSTS.
func (healthcheckStep) Probe(env *Env) string {
	url, _ := env.With["url"].(string)
	if url == "" || env.App == nil {
		return ""
	}
	noted := "/dev/null" // no deploy root: no release noted a name
	if env.App.Path != "" {
		noted = strings.TrimSuffix(env.App.Path, "/") + "/current/" + allowedHostFile
	}
	return fmt.Sprintf(`url=%s
host=%s
[ -n "$host" ] || host=$(cat %s 2>/dev/null || true)
%s
hdr=$(mktemp) body=$(mktemp) err=$(mktemp)
trap 'rm -f "$hdr" "$body" "$err"' EXIT
code=$(fetch)
[ "$code" != 000 ] || { cat "$err" >&2; exit 1; }
case "$code" in [23]??) cat "$body" ;; *) echo "HTTP $code: $(head -c 200 "$body")" >&2; exit 1 ;; esac`,
		q(url), q(withString(env, "host")), q(noted),
		fetchFunc(env.App.Python))
}

// allowedHostFile, in a release, is the first name of its ALLOWED_HOSTS,
// noted by the pre-switch check for the health check's Host header.
const allowedHostFile = ".allowed-host"

// fetchFunc is the shell function fetch: one HTTP GET of $url, with the
// Host header $host if set, redirects not followed; the status code on
// stdout (000 when nothing answered: the reason in $err), the headers in
// $hdr and the body in $body. Hosts have sh, not always curl: it takes
// curl, else the app's Python, else wget (which follows redirects).
func fetchFunc(python string) string {
	return `fetch() {
  : > "$hdr"; : > "$body"; : > "$err"
  if command -v curl >/dev/null 2>&1; then
    if c=$(curl -sS --max-time 5 -o "$body" -D "$hdr" -w '%{http_code}' ${host:+-H "Host: $host"} "$url" 2>"$err"); then echo "$c"; else echo 000; fi
  elif command -v ` + q(python) + ` >/dev/null 2>&1; then
    ` + q(python) + ` -c 'import sys, urllib.request as u, urllib.error as e
class Stay(u.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
url, host, hf, bf = sys.argv[1:5]
try:
    r = u.build_opener(Stay).open(u.Request(url, headers={"Host": host} if host else {}), timeout=5)
except e.HTTPError as x:
    r = x
except Exception as x:
    sys.stderr.write("%s\n" % x); print("000"); sys.exit(0)
open(hf, "w").write("".join("%s: %s\n" % kv for kv in r.headers.items()))
open(bf, "wb").write(r.read())
print(r.status if hasattr(r, "status") else r.code)' "$url" "$host" "$hdr" "$body" 2>"$err" || echo 000
  else
    wget -q -S -T 5 ${host:+--header="Host: $host"} -O "$body" "$url" 2>"$hdr" || true
    c=$(awk '$1 ~ /^HTTP\// { c = $2 } END { print c }' "$hdr")
    [ -n "$c" ] || { cp "$hdr" "$err"; c=000; }
    echo "$c"
  fi
}`
}

// healthInterval is how long the health check waits between tries.
const healthInterval = "0.1"

func healthScript(env *Env) (string, error) {
	h, err := healthSettingsOf(env.With)
	if err != nil {
		return "", err
	}
	secs := int((h.timeout + time.Second - 1) / time.Second)
	if command := withString(env, "command"); command != "" {
		return commandHealthScript(env, command, h, secs), nil
	}
	url := withString(env, "url")
	if url == "" {
		return "", errors.New("healthcheck needs with.url (fetched on the host) or with.command")
	}
	header, value, _ := strings.Cut(h.header, ":")
	return fmt.Sprintf(`url=%[1]s
host=%[2]s
[ -n "$host" ] || host=$(cat %[11]s 2>/dev/null || true)
expect=%[3]s
hname=%[4]s
hvalue=%[5]s
%[6]s
deadline=$(( $(date +%%s) + %[7]d ))
n=0
bad=0
hdr=$(mktemp) body=$(mktemp) err=$(mktemp)
trap 'rm -f "$hdr" "$body" "$err"' EXIT
first() { head -n 1 "$body" | tr -d '\r' | cut -c1-120; }
while :; do
  n=$((n + 1))
  code=$(fetch)
  case "$code" in
    000)
      bad=0
      last=$(tail -n 1 "$err")
      [ -n "$last" ] || last="no answer" ;;
    %[8]s)
      bad=0
      if [ -n "$expect" ] && ! grep -qF -- "$expect" "$body"; then
        last="HTTP $code, but the answer \"$(first)\" does not contain \"$expect\""
      elif [ -n "$hname" ] && ! tr -d '\r' < "$hdr" | sed 's/^ *//' | grep -i "^$hname:" | grep -qF -- "$hvalue"; then
        last="HTTP $code, but no header \"$hname: $hvalue\""
      else
        printf 'healthy after %%s attempt(s): HTTP %%s %%s\n' "$n" "$code" "$(first)"
        exit 0
      fi ;;
    *)
      bad=$((bad + 1))
      last="HTTP $code${host:+ (Host: $host)}: $(first)"
      if [ "$bad" -ge %[9]d ]; then
        echo "unhealthy: $bad error answers in a row ($n attempts): $last" >&2
        exit 1
      fi ;;
  esac
  if [ "$(date +%%s)" -ge "$deadline" ]; then
    echo "unhealthy after %[10]s ($n attempts): $last" >&2
    exit 1
  fi
  sleep %[12]s 2>/dev/null || sleep 1
done`, q(url), q(withString(env, "host")), q(withString(env, "expect")), q(strings.TrimSpace(header)),
		q(strings.TrimSpace(value)), fetchFunc(env.App.Python), secs, h.statuses, h.failAfter, h.timeout,
		allowedHostFile, healthInterval), nil
}

// commandHealthScript polls a command until it succeeds, and contains
// with.expect if given.
func commandHealthScript(env *Env, command string, h healthSettings, secs int) string {
	return fmt.Sprintf(`expect=%[1]s
probe=%[2]s
deadline=$(( $(date +%%s) + %[3]d ))
n=0
err=$(mktemp)
trap 'rm -f "$err"' EXIT
while :; do
  n=$((n + 1))
  if out=$(sh -ec "$probe" 2>"$err"); then
    case "$out" in
      *"$expect"*) printf 'healthy after %%s attempt(s): %%s\n' "$n" "$(printf '%%s\n' "$out" | head -n 1 | cut -c1-120)"; exit 0 ;;
    esac
    last="the answer \"$(printf '%%s\n' "$out" | head -n 1 | cut -c1-120)\" does not contain \"$expect\""
  else
    last=$(tail -n 1 "$err")
    [ -n "$last" ] || last="the command failed"
  fi
  if [ "$(date +%%s)" -ge "$deadline" ]; then
    echo "unhealthy after %[4]s ($n attempts): $last" >&2
    exit 1
  fi
  sleep %[5]s 2>/dev/null || sleep 1
done`, q(withString(env, "expect")), q(command), secs, h.timeout, healthInterval)
}

func withString(env *Env, k string) string {
	s, _ := env.With[k].(string)
	return s
}

// healthSettings are the healthcheck's with values other than strings.
type healthSettings struct {
	timeout   time.Duration
	failAfter int
	statuses  string // a shell case pattern: 200|3??
	header    string // Name: value
}

// healthSettingsOf reads and checks the healthcheck's with values; deploy
// check calls it too (CheckWith), so a bad value stops the run before
// anything runs.
func healthSettingsOf(with map[string]any) (healthSettings, error) {
	h := healthSettings{timeout: 30 * time.Second, failAfter: 3, statuses: "[23]??"}
	if v, ok := with["timeout"]; ok {
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return h, fmt.Errorf("healthcheck: with.timeout %s is not a duration: write it as \"30s\" or \"2m\"", show(v))
		}
		h.timeout = d
	}
	if v, ok := with["fail_after"]; ok {
		n, ok := v.(int64)
		if !ok || n < 1 || n > 1000 {
			return h, fmt.Errorf("healthcheck: with.fail_after must be a whole number from 1 to 1000, not %v", v)
		}
		h.failAfter = int(n)
	}
	if v, ok := with["status"]; ok {
		pat, err := statusPattern(v)
		if err != nil {
			return h, err
		}
		h.statuses = pat
	}
	if v, ok := with["header"]; ok {
		s, _ := v.(string)
		name, _, found := strings.Cut(s, ":")
		if !found || !isHeaderName(strings.TrimSpace(name)) {
			return h, fmt.Errorf("healthcheck: with.header %q is not a header to match: write \"Name: value\" (e.g. \"Content-Type: text/html\"; \"X-Revision:\" for any value)", s)
		}
		h.header = s
	}
	return h, nil
}

// statusPattern turns with.status — a code (200), a class ("2xx"), or a
// list of them — into a shell case pattern of digits and '?'.
func statusPattern(v any) (string, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var pats []string
	for _, x := range list {
		s := fmt.Sprint(x)
		if n, ok := x.(int64); ok {
			s = strconv.FormatInt(n, 10)
		}
		s = strings.ToLower(s)
		valid := len(s) == 3 && s[0] >= '1' && s[0] <= '5'
		for i := 1; i < len(s) && valid; i++ {
			valid = s[i] >= '0' && s[i] <= '9' || s[i] == 'x' && (i == 2 || s[2] == 'x')
		}
		if !valid {
			return "", fmt.Errorf("healthcheck: with.status %s is not an HTTP status: write codes or classes, e.g. [200, 302] or \"2xx\"", show(x))
		}
		pats = append(pats, strings.ReplaceAll(s, "x", "?"))
	}
	if len(pats) == 0 {
		return "", errors.New("healthcheck: with.status is empty: name the statuses that mean healthy, e.g. [200] or \"2xx\"")
	}
	return strings.Join(pats, "|"), nil
}

// isHeaderName: an HTTP token (RFC 9110), which is also safe in a grep
// pattern.
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// show is a with value as the Deployfile writes it.
func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
