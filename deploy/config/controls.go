package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
)

// Control characters have no business in a Deployfile: a NUL cannot travel
// in a shell word, an ESC rewrites the terminal that shows an error, a CR
// hides what comes before it. The loader refuses them in every key and
// every string, anywhere in the file — even under keys it does not know —
// so that nothing later (the engine, a printer, the journal) meets one.
// Commands and descriptions may hold tabs and newlines: they are scripts
// and multi-line text.

// textFields are the keys whose strings may span lines: a step's commands
// and guards, a built-in's with.command, [app] build run, descriptions.
func textField(path []string) bool {
	n := len(path)
	switch {
	case n == 3 && (path[0] == "tasks" || path[0] == "hosts") && path[2] == "description":
		return true
	case n == 5 && path[0] == "tasks" && path[2] == "steps":
		switch path[4] {
		case "run", "local", "unless", "only_if":
			return true
		}
	case n == 6 && path[0] == "tasks" && path[2] == "steps" && path[4] == "with" && path[5] == "command":
		return true
	case n == 4 && path[0] == "app" && path[1] == "build" && path[3] == "run":
		return true
	}
	return false
}

// controlChar returns the byte index and the first control character of
// s: C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F). Tab and newline are
// allowed when text is true.
func controlChar(s string, text bool) (int, rune, bool) {
	for i, c := range s {
		if c >= 0x20 && c < 0x7f || c > 0x9f {
			continue
		}
		if text && (c == '\t' || c == '\n') {
			continue
		}
		return i, c, true
	}
	return 0, 0, false
}

// controlName names a control character for a message: "NUL (U+0000)".
func controlName(c rune) string {
	names := map[rune]string{0: "NUL", '\t': "tab", '\n': "newline", '\r': "carriage return", 0x1b: "ESC", 0x7f: "DEL"}
	code := fmt.Sprintf("U+%04X", c)
	if n, ok := names[c]; ok {
		return n + " (" + code + ")"
	}
	return code
}

// controlFix says how to get rid of c.
func controlFix(c rune) string {
	switch {
	case c == '\r':
		return `save the file with LF line ends, or remove the \r`
	case c == '\t' || c == '\n':
		return "write it on one line without tabs: only commands (run, local, unless, only_if, with.command, [app] build run) and descriptions may hold tabs and newlines"
	}
	return "remove it: a Deployfile may hold no control characters"
}

// checkControls walks the decoded document and reports every key and
// string that holds a control character, and every nan or inf.
func (d *decoder) checkControls(path []string, v any) {
	switch x := v.(type) {
	case string:
		if i, c, bad := controlChar(x, textField(path)); bad {
			d.errorAt(d.idx.inString(path, x, i), controlFix(c),
				"%s holds the control character %s", dotted(path), controlName(c))
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := child(path, k)
			if _, c, bad := controlChar(k, false); bad {
				d.keyError(p, "rename the key: a Deployfile may hold no control characters",
					"key %s holds the control character %s", strconv.Quote(k), controlName(c))
			}
			d.checkControls(p, x[k])
		}
	case []any:
		for i, e := range x {
			d.checkControls(child(path, strconv.Itoa(i)), e)
		}
	case float64:
		// nan and inf mean nothing to deploy, and `deploy plan --json`
		// could not write them.
		if math.IsNaN(x) || math.IsInf(x, 0) {
			d.valueError(path, "write a finite number", "%s is %v, not a number deploy can use", dotted(path), x)
		}
	}
}

// checkOverrideValue refuses a --var value that holds a control character
// or is longer than a variable may be.
func checkOverrideValue(name, value string) *Error {
	if _, c, bad := controlChar(value, false); bad {
		return &Error{File: "--var " + name, Message: "the value holds the control character " + controlName(c),
			Fix: "remove it: a variable's value may hold no control characters"}
	}
	if len(value) > MaxValueBytes {
		return &Error{File: "--var " + name, Message: fmt.Sprintf("the value is longer than %s", sizeName(MaxValueBytes)),
			Fix: "pass a shorter value"}
	}
	return nil
}
