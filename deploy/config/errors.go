package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Position is a place in a Deployfile, 1-based. A zero Line means the
// problem has no single place in the file (a command-line --var, say).
type Position struct {
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Error is one problem found in a Deployfile: where, what is wrong, and how
// to fix it.
type Error struct {
	File    string   `json:"file"`
	Pos     Position `json:"position"`
	Message string   `json:"message"`
	Fix     string   `json:"fix,omitempty"`
}

// Error reads "Deployfile:LINE:COL: what is wrong — how to fix it".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Column)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString(" — ")
		b.WriteString(e.Fix)
	}
	return b.String()
}

// ErrorList is every problem found in one Deployfile, in file order. The
// loader returns all of them at once so a user fixes a file in one pass.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sorted orders the list by position (file-less errors last) and drops exact
// duplicates, which arise when one bad value is reached along two paths.
func (l ErrorList) sorted() ErrorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b *Error) int {
		la, lb := a.Pos.Line, b.Pos.Line
		if la == 0 {
			la = 1 << 30
		}
		if lb == 0 {
			lb = 1 << 30
		}
		return cmp.Or(cmp.Compare(la, lb), cmp.Compare(a.Pos.Column, b.Pos.Column))
	})
	return slices.CompactFunc(out, func(a, b *Error) bool { return *a == *b })
}
