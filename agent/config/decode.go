package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// decodeStrict decodes YAML data into out (a pointer to a struct) and
// reports, as Problems naming the field path, every unknown field, every
// value of the wrong type and any syntax error. It returns the line of each
// field path it saw so that later validation can point at lines too.
func decodeStrict(data []byte, out any) (map[string]int, []Problem) {
	lines := map[string]int{}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return lines, []Problem{{Field: "(file)", Value: "", Want: "valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return lines, nil // empty file: every field takes its default
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return lines, []Problem{{Field: "(file)", Line: root.Line, Want: "a YAML mapping of sections at the top level"}}
	}
	var probs []Problem
	walk(root, reflect.TypeOf(out).Elem(), "", 0, lines, &probs)
	if err := root.Decode(out); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			probs = append(probs, Problem{Field: "(file)", Want: err.Error()})
		} else {
			for _, msg := range te.Errors {
				probs = append(probs, typeProblem(msg, lines))
			}
		}
	}
	return lines, probs
}

func walk(n *yaml.Node, t reflect.Type, path string, depth int, lines map[string]int, probs *[]Problem) {
	if depth > 32 { // configs are shallow; this only stops alias loops
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		lines[path] = n.Line
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode reports the type mismatch
		}
		fields := structFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // merge key
				continue
			}
			sub := join(path, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				*probs = append(*probs, Problem{Field: sub, Line: k.Line, Value: k.Value,
					Want: "unknown field; known fields here: " + strings.Join(sortedKeys(fields), ", ")})
				continue
			}
			walk(v, f.Type, sub, depth+1, lines, probs)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, v := range n.Content {
			walk(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1, lines, probs)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), depth+1, lines, probs)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func structFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var typeErrLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// typeProblem turns one of yaml's type-error messages into a Problem that
// names the field, by finding the deepest field path seen on that line.
func typeProblem(msg string, lines map[string]int) Problem {
	m := typeErrLine.FindStringSubmatch(msg)
	if m == nil {
		return Problem{Field: "(file)", Want: msg}
	}
	line, _ := strconv.Atoi(m[1])
	field := ""
	for path, l := range lines {
		if l == line && len(path) > len(field) {
			field = path
		}
	}
	if field == "" {
		field = "(file)"
	}
	return Problem{Field: field, Line: line, Want: m[2]}
}
