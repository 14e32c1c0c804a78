package config

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xrash/smetrics"
)

// decoder turns the generic tree go-toml decodes into the model, checking
// every key and type on the way and collecting every problem with its place
// in the file, so that one run reports them all.
type decoder struct {
	file string
	idx  *posIndex
	errs ErrorList
	refs []varRef // {{name}} uses, checked once every definition is known
	// texts are the strings (other than variables' values) that use
	// variables, measured once every variable is known.
	texts []templText
	// reserved are the names a group or host may not take (LoadOptions).
	reserved []string
	// suggested counts the comparisons suggestions have cost so far.
	suggested int
}

// varRef is one {{name}} in a string of the file.
type varRef struct {
	name string
	pos  Position
	// builtinsOnly lists the built-in variables the string may use; nil
	// means all of them.
	builtinsOnly []string
}

func (d *decoder) errorAt(pos Position, fix, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Pos: pos, Message: fmt.Sprintf(format, args...), Fix: fix})
}

func (d *decoder) keyError(path []string, fix, format string, args ...any) {
	d.errorAt(d.idx.keyAt(path), fix, format, args...)
}

func (d *decoder) valueError(path []string, fix, format string, args ...any) {
	d.errorAt(d.idx.valueAt(path), fix, format, args...)
}

// name of a path for messages: tasks.deploy.steps[2].on (1-based steps).
func dotted(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			n, _ := strconv.Atoi(p)
			fmt.Fprintf(&b, "[%d]", n+1)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if validName.MatchString(p) {
			b.WriteString(p)
		} else {
			b.WriteString(strconv.Quote(p))
		}
	}
	return b.String()
}

func child(path []string, k ...string) []string {
	return append(append(make([]string, 0, len(path)+len(k)), path...), k...)
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

// keysInOrder returns a table's keys in the order the file writes them.
func (d *decoder) keysInOrder(path []string, m map[string]any) []string {
	type keyPos struct {
		key string
		pos Position
	}
	kps := make([]keyPos, 0, len(m))
	for k := range m {
		kps = append(kps, keyPos{k, d.idx.keyAt(child(path, k))})
	}
	slices.SortFunc(kps, func(a, b keyPos) int {
		if a.pos.Line != b.pos.Line {
			return a.pos.Line - b.pos.Line
		}
		if a.pos.Column != b.pos.Column {
			return a.pos.Column - b.pos.Column
		}
		return strings.Compare(a.key, b.key)
	})
	keys := make([]string, len(kps))
	for i, kp := range kps {
		keys[i] = kp.key
	}
	return keys
}

// checkKeys reports every key of m that is not allowed, with the nearest
// allowed one as a suggestion.
func (d *decoder) checkKeys(path []string, m map[string]any, where string, allowed ...string) {
	for _, k := range d.keysInOrder(path, m) {
		if !slices.Contains(allowed, k) {
			d.unknownKey(path, k, where, allowed)
		}
	}
}

func (d *decoder) unknownKey(path []string, k, where string, allowed []string) {
	fix := "allowed keys are " + strings.Join(allowed, ", ")
	if s := suggest(k, allowed); s != "" {
		fix = fmt.Sprintf("did you mean %q? (%s)", s, fix)
	}
	d.keyError(child(path, k), fix, "unknown key %q %s", k, where)
}

// suggest returns the candidate closest to s when it is close enough to be
// a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	for _, c := range candidates {
		dist := smetrics.WagnerFischer(strings.ToLower(s), strings.ToLower(c), 1, 1, 2)
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if bestDist <= max(2, len(s)/3) {
		return best
	}
	return ""
}

func (d *decoder) table(path []string, v any, fix string) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.valueError(path, fix, "%s must be a table, not %s", dotted(path), typeName(v))
	}
	return m, ok
}

func (d *decoder) str(path []string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.valueError(path, fmt.Sprintf("write it in quotes: %s = \"…\"", path[len(path)-1]),
			"%s must be a string, not %s", dotted(path), typeName(v))
		return "", false
	}
	return s, true
}

func (d *decoder) boolean(path []string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		d.valueError(path, fmt.Sprintf("write %s = true or %s = false", path[len(path)-1], path[len(path)-1]),
			"%s must be true or false, not %s", dotted(path), typeName(v))
	}
	return b
}

func (d *decoder) intIn(path []string, v any, lo, hi int64) int {
	n, ok := v.(int64)
	if !ok || n < lo || n > hi {
		what := typeName(v)
		if ok {
			what = strconv.FormatInt(n, 10)
		}
		rng := fmt.Sprintf("from %d to %d", lo, hi)
		if hi == math.MaxInt32 {
			rng = fmt.Sprintf("of at least %d", lo)
		}
		d.valueError(path, fmt.Sprintf("write a whole number %s, without quotes", rng),
			"%s must be a whole number %s, not %s", dotted(path), rng, what)
		return 0
	}
	return int(n)
}

func (d *decoder) duration(path []string, v any) time.Duration {
	s, ok := v.(string)
	if !ok {
		d.valueError(path, `write a quoted duration such as "30s", "5m" or "1h30m"`,
			"%s must be a duration string, not %s", dotted(path), typeName(v))
		return 0
	}
	dur, err := time.ParseDuration(s)
	if err != nil || dur <= 0 {
		d.valueError(path, `write a positive duration with a unit, such as "30s", "5m" or "1h30m"`,
			"%s: %q is not a duration", dotted(path), s)
		return 0
	}
	return dur
}

func (d *decoder) strList(path []string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		d.valueError(path, fmt.Sprintf(`write a list: %s = ["…", "…"]`, path[len(path)-1]),
			"%s must be an array of strings, not %s", dotted(path), typeName(v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		if s, ok := d.str(child(path, strconv.Itoa(i)), e); ok {
			out = append(out, s)
		}
	}
	return out
}

// scalarString accepts a string, number or boolean and returns its text:
// `port = 8001` and `port = "8001"` mean the same in a shell command.
func (d *decoder) scalarString(path []string, v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	d.valueError(path, "write a string, a number or true/false",
		"%s must be a string, number or boolean, not %s", dotted(path), typeName(v))
	return "", false
}

var (
	validName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// templateRef matches {{name}} with optional spaces. Other {{…}} text —
	// a docker --format '{{.Name}}', say — is not ours and passes through.
	templateRef = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)
)

// templText is a string of the file that uses variables.
type templText struct {
	path []string
	pos  Position
	text string
}

// templated records the {{name}} uses of a string value found at path.
func (d *decoder) templated(path []string, s string, builtinsOnly ...string) {
	if d.refsIn(path, s, builtinsOnly) {
		d.texts = append(d.texts, templText{path: path, pos: d.idx.valueAt(path), text: s})
	}
}

// refsIn records the {{name}} uses of s and reports whether it has any.
func (d *decoder) refsIn(path []string, s string, builtinsOnly []string) bool {
	found := false
	for _, m := range templateRef.FindAllStringSubmatchIndex(s, -1) {
		found = true
		d.refs = append(d.refs, varRef{
			name:         s[m[2]:m[3]],
			pos:          d.idx.inString(path, s, m[0]),
			builtinsOnly: builtinsOnly,
		})
	}
	return found
}
