package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// codeSpan is an inline `code` span of README prose and its line.
type codeSpan struct {
	text  string
	line  int
	depth int // parentheses open around it, outside code
}

// spansUntilStop are the code spans of lines from (line, col) up to the
// end of the sentence: a '.' outside code and parentheses, followed by a
// space or the end of a line (or the end of the paragraph).
func spansUntilStop(lines []string, line, col int) []codeSpan {
	var spans []codeSpan
	var code strings.Builder
	depth, inCode, startLine := 0, false, 0
	for l := line; l < len(lines); l++ {
		s := lines[l]
		if l > line && strings.TrimSpace(s) == "" {
			return spans
		}
		if inCode { // a span across lines
			code.WriteByte(' ')
		}
		for i := 0; i < len(s); i++ {
			if l == line && i < col {
				continue
			}
			switch c := s[i]; {
			case c == '`':
				if inCode {
					spans = append(spans, codeSpan{text: code.String(), line: startLine + 1, depth: depth})
				}
				inCode, startLine = !inCode, l
				code.Reset()
			case inCode:
				code.WriteByte(c)
			case c == '(':
				depth++
			case c == ')':
				depth--
			case c == '.' && depth == 0 && (i+1 == len(s) || s[i+1] == ' '):
				return spans
			}
		}
	}
	return spans
}

var varSpan = regexp.MustCompile(`^\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}$`)

// TestREADMEVariables: the built-in variables README lists ("Built in:
// `{{host}}`; …", up to the end of that sentence) are those the code
// knows, each listed once.
func TestREADMEVariables(t *testing.T) {
	t.Parallel()
	src, _ := readme(t)
	lines := proseLines(src)
	listed := map[string]int{} // name → line
	found := false
	for i, l := range lines {
		col := strings.Index(l, "Built in:")
		if col < 0 {
			continue
		}
		found = true
		for _, sp := range spansUntilStop(lines, i, col) {
			m := varSpan.FindStringSubmatch(sp.text)
			if m == nil || sp.depth > 0 {
				continue
			}
			if first, dup := listed[m[1]]; dup {
				t.Errorf("%s:%d: {{%s}} is listed twice among the built-in variables (also line %d)", readmeFile, sp.line, m[1], first)
				continue
			}
			listed[m[1]] = sp.line
		}
	}
	if !found {
		t.Fatalf("%s has no list of the built-in variables (a sentence \"Built in: `{{host}}`; …\")", readmeFile)
	}
	known := config.BuiltinVars()
	for name, line := range listed {
		if !slices.Contains(known, name) {
			t.Errorf("%s:%d: {{%s}} is listed as a built-in variable; the code knows %v (deploy/config BuiltinVars)", readmeFile, line, name, known)
		}
	}
	for _, name := range known {
		if _, ok := listed[name]; !ok {
			t.Errorf("%s: the built-in variable {{%s}} is not in README's list (\"Built in: …\")", readmeFile, name)
		}
	}
}

// stepBullet is a list item of a section about steps that opens with the
// bold name of a built-in step: "- **`pull`** (on the app hosts): …".
type stepBullet struct {
	name  string
	line  int // 0-based
	lines []string
}

var (
	stepBulletOpen = regexp.MustCompile("^- \\*\\*`([a-z-]+)`")
	heading        = regexp.MustCompile(`^#{1,6} `)
)

func stepBullets(lines []string) []stepBullet {
	var out []stepBullet
	inSteps := false
	for i := 0; i < len(lines); i++ {
		if heading.MatchString(lines[i]) {
			inSteps = strings.Contains(strings.ToLower(lines[i]), "steps")
		}
		m := stepBulletOpen.FindStringSubmatch(lines[i])
		if !inSteps || m == nil {
			continue
		}
		b := stepBullet{name: m[1], line: i, lines: []string{lines[i]}}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "  ") {
			i++
			b.lines = append(b.lines, lines[i])
		}
		out = append(out, b)
	}
	return out
}

// TestREADMEBuiltins: README's list of the built-in steps is the
// registry's; each has its paragraph in a section about steps, and the
// `with` keys a paragraph names — in `with = { … }`, `with.KEY`, "`with`:
// `a`, `b`" or `KEY = value` — are keys of that step (or, for
// `KEY = value`, a step or [app] key that deploy check takes).
func TestREADMEBuiltins(t *testing.T) {
	t.Parallel()
	src, _ := readme(t)
	lines := proseLines(src)
	checkBuiltinList(t, lines)
	checkStepParagraphs(t, lines)
}

// checkBuiltinList: "Every built-in step works: `test`, …" names the
// registry's built-ins.
func checkBuiltinList(t *testing.T, lines []string) {
	names := slices.Sorted(slices.Values(tasks.Names()))
	listed := false
	for i, l := range lines {
		col := strings.Index(l, "Every built-in step works:")
		if col < 0 {
			continue
		}
		listed = true
		var got []string
		for _, sp := range spansUntilStop(lines, i, col) {
			got = append(got, sp.text)
		}
		if slices.Sort(got); !slices.Equal(got, names) {
			t.Errorf("%s:%d: the built-in steps listed are %v; the registry's (tasks.Names) are %v", readmeFile, i+1, got, names)
		}
	}
	if !listed {
		t.Errorf("%s: no sentence \"Every built-in step works: `test`, …\" lists the built-in steps", readmeFile)
	}
}

// checkStepParagraphs: each built-in has a paragraph, and the keys the
// paragraphs name are the steps' keys.
func checkStepParagraphs(t *testing.T, lines []string) {
	names := tasks.Names()
	described := map[string]bool{}
	keys := 0
	for _, b := range stepBullets(lines) {
		if !slices.Contains(names, b.name) {
			t.Errorf("%s:%d: **`%s`** is described as a built-in step; the built-ins are %v", readmeFile, b.line+1, b.name, names)
			continue
		}
		described[b.name] = true
		for _, k := range withKeysNamed(t, b) {
			keys++
			if !slices.Contains(tasks.WithKeys(b.name), k.text) {
				t.Errorf("%s:%d: `%s` is named as a `with` key of %s; its keys are %v (tasks.WithKeys)", readmeFile, k.line, k.text, b.name, tasks.WithKeys(b.name))
			}
		}
		for _, kv := range assignmentsNamed(b) {
			keys++
			if err := checkAssignment(t, b.name, kv.text); err != nil {
				t.Errorf("%s:%d: `%s` in the paragraph of %s: %v", readmeFile, kv.line, kv.text, b.name, err)
			}
		}
	}
	for _, n := range names {
		if !described[n] {
			t.Errorf("%s: the built-in step %s has no paragraph (\"- **`%s`** …\" in a section about steps)", readmeFile, n, n)
		}
	}
	if keys < 10 {
		t.Errorf("the step paragraphs name %d keys, want 10 or more: is the extraction broken?", keys)
	}
}

var (
	withDotted = regexp.MustCompile(`^with\.([a-z_]+)$`)
	assignment = regexp.MustCompile(`^([a-z][a-z_]*) = (.+)$`)
)

// withKeysNamed are the `with` keys a step's paragraph names.
func withKeysNamed(t *testing.T, b stepBullet) []codeSpan {
	var keys []codeSpan
	for i, l := range b.lines {
		// "`with`: `a`, `b`": the spans up to the end of the sentence.
		if col := strings.Index(l, "`with`:"); col >= 0 {
			for _, sp := range spansUntilStop(b.lines, i, col+len("`with`:")) {
				if m := assignment.FindStringSubmatch(sp.text); m != nil {
					sp.text = m[1]
				}
				keys = append(keys, codeSpan{text: sp.text, line: b.line + sp.line})
			}
		}
	}
	for _, sp := range allSpans(b) {
		if m := withDotted.FindStringSubmatch(sp.text); m != nil {
			keys = append(keys, codeSpan{text: m[1], line: sp.line})
		}
		if strings.HasPrefix(sp.text, "with = {") {
			var step struct{ With map[string]any }
			if err := toml.Unmarshal([]byte(sp.text), &step); err != nil {
				t.Errorf("%s:%d: `%s` does not parse: %v", readmeFile, sp.line, sp.text, err)
			}
			for k := range step.With {
				keys = append(keys, codeSpan{text: k, line: sp.line})
			}
		}
	}
	return keys
}

// allSpans are the code spans of a paragraph, with README lines.
func allSpans(b stepBullet) []codeSpan {
	var out []codeSpan
	line := b.line + 1
	for i, part := range strings.Split(strings.Join(b.lines, "\n"), "`") {
		if i%2 == 1 {
			out = append(out, codeSpan{text: strings.ReplaceAll(part, "\n", " "), line: line})
		}
		line += strings.Count(part, "\n")
	}
	return out
}

// assignmentsNamed are the `KEY = value` spans of a paragraph, `with = {…}`
// aside.
func assignmentsNamed(b stepBullet) []codeSpan {
	var out []codeSpan
	for _, sp := range allSpans(b) {
		if m := assignment.FindStringSubmatch(sp.text); m != nil && m[1] != "with" {
			out = append(out, sp)
		}
	}
	return out
}

// checkAssignment: KEY = value is a `with` key of the step, or deploy
// check takes it as a key of the step, or of [app].
func checkAssignment(t *testing.T, builtin, kv string) error {
	key := assignment.FindStringSubmatch(kv)[1]
	if slices.Contains(tasks.WithKeys(builtin), key) {
		return nil
	}
	dir := t.TempDir()
	file := dir + "/Deployfile"
	tries := []string{
		fmt.Sprintf("[app]\npath = \"/srv/x\"\n[hosts]\nweb = [\"web1\"]\n[tasks.t]\nsteps = [{ builtin = %q, %s }]\n", builtin, kv),
		fmt.Sprintf("[app]\npath = \"/srv/x\"\n%s\n[hosts]\nweb = [\"web1\"]\n[tasks.t]\nsteps = [{ builtin = %q }]\n", kv, builtin),
	}
	var last string
	for _, df := range tries {
		if err := os.WriteFile(file, []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, "--no-color", "-f", file, "check")
		if code == 0 {
			return nil
		}
		last = strings.ReplaceAll(errOut, dir+"/", "")
	}
	return fmt.Errorf("not a `with` key of %s (%v), and deploy check takes it neither as a step key nor under [app]: %s", builtin, tasks.WithKeys(builtin), last)
}
