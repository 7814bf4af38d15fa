package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong in a config file: which field, what value it
// had and what is allowed.
type Problem struct {
	// Field is the dotted path of the field, e.g. "devices[0].pins.reset".
	Field string
	// Value is the offending value as written (empty when missing).
	Value string
	// Want says what is allowed.
	Want string
	// Line is the line in the file, 0 when unknown.
	Line int
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Field)
	if p.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", p.Line)
	}
	if p.Value != "" {
		fmt.Fprintf(&b, ": %q", p.Value)
	}
	if p.Want != "" {
		b.WriteString(": ")
		b.WriteString(p.Want)
	}
	return b.String()
}

// Error is returned by Parse and Load when the file is not a valid config.
// It lists every problem found, not only the first.
type Error struct {
	// File is the path of the config file, empty for in-memory data.
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Has reports whether one of the problems is about field (exact path) or a
// field under it.
func (e *Error) Has(field string) bool {
	for _, p := range e.Problems {
		if p.Field == field || strings.HasPrefix(p.Field, field+".") || strings.HasPrefix(p.Field, field+"[") {
			return true
		}
	}
	return false
}

// problems collects Problems during validation.
type problems struct {
	list  []Problem
	lines map[string]int
}

func (ps *problems) add(field, value, want string) {
	ps.list = append(ps.list, Problem{Field: field, Value: value, Want: want, Line: ps.lines[field]})
}

func (ps *problems) addf(field, value, format string, args ...any) {
	ps.add(field, value, fmt.Sprintf(format, args...))
}
