package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// examplePaths rewrites the absolute paths of an example config into dir
// and creates the files they name, so the example validates anywhere.
func examplePaths(t *testing.T, data []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	re := regexp.MustCompile(`(?m)^(\s*(?:[a-z_]+:|-)\s*[a-z_]*:?\s*)(/(?:etc|var)/[^\s"]+)`)
	out := re.ReplaceAllStringFunc(string(data), func(m string) string {
		sub := re.FindStringSubmatch(m)
		path := filepath.Join(dir, sub[2])
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sub[1], "_file") || strings.Contains(sub[1], "file") || strings.Contains(sub[1], "key") || strings.Contains(sub[1], "registry") {
			if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return sub[1] + path
	})
	return []byte(out)
}

func TestExampleConfigsValidate(t *testing.T) {
	data, err := os.ReadFile("../../firmware/kioskd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKiosk(examplePaths(t, data)); err != nil {
		t.Errorf("firmware/kioskd.yaml does not validate:\n%v", err)
	}
	data, err = os.ReadFile("../../firmware/rbdes-node.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseNode(examplePaths(t, data)); err != nil {
		t.Errorf("firmware/rbdes-node.yaml does not validate:\n%v", err)
	}
}

// TestExampleDocumentsEveryField fails when a config field is added
// without showing it in the documented example.
func TestExampleDocumentsEveryField(t *testing.T) {
	for file, typ := range map[string]reflect.Type{
		"../../firmware/kioskd.yaml":     reflect.TypeOf(Kiosk{}),
		"../../firmware/rbdes-node.yaml": reflect.TypeOf(Node{}),
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		var missing []string
		var check func(n *yaml.Node, t reflect.Type, path string)
		check = func(n *yaml.Node, t reflect.Type, path string) {
			switch t.Kind() {
			case reflect.Struct:
				if t == reflect.TypeOf(ByteSize(0)) {
					return
				}
				have := map[string]*yaml.Node{}
				if n != nil && n.Kind == yaml.MappingNode {
					for i := 0; i+1 < len(n.Content); i += 2 {
						have[n.Content[i].Value] = n.Content[i+1]
					}
				}
				for name, f := range structFields(t) {
					v, ok := have[name]
					if !ok {
						// A commented-out example line also documents it.
						if !regexp.MustCompile(`(?m)^\s*#\s*-?\s*` + name + `:`).Match(data) {
							missing = append(missing, join(path, name))
						}
						continue
					}
					check(v, f.Type, join(path, name))
				}
			case reflect.Slice:
				if n != nil && n.Kind == yaml.SequenceNode && len(n.Content) > 0 {
					check(n.Content[0], t.Elem(), path+"[0]")
				}
			}
		}
		check(doc.Content[0], typ, "")
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s does not show these fields: %s", file, strings.Join(missing, ", "))
		}
	}
}
