package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// every error it returns must point inside the file.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "deployfiles", dir, "*.toml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// decodeTree, the loader's linear decoder, accepts only what
		// go-toml accepts, and reads it the same.
		if tree, ok := decodeTree(data); ok {
			var want map[string]any
			if err := toml.Unmarshal(data, &want); err != nil {
				t.Fatalf("decodeTree accepts what go-toml refuses (%v): %q", err, data)
			}
			if !bytes.Contains(bytes.ToLower(data), []byte("nan")) && !reflect.DeepEqual(tree, want) {
				t.Fatalf("decodeTree reads %#v, go-toml %#v", tree, want)
			}
		}
		df, err := Parse("Deployfile", data, LoadOptions{})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
			}
			lines := bytes.Count(data, []byte("\n")) + 1
			for _, e := range list {
				if e.File != "Deployfile" || e.Message == "" {
					t.Fatalf("error without file or message: %+v", e)
				}
				if e.Pos.Line < 1 || e.Pos.Line > lines || e.Pos.Column < 1 {
					t.Fatalf("error outside the file (%d lines): %v", lines, e)
				}
			}
			return
		}
		// A file that loads resolves every group and names only known
		// groups and tasks.
		for _, g := range df.GroupOrder {
			_ = df.GroupHosts(g)
			if len(df.GroupHosts(g)) > 0 {
				if _, err := df.Resolve(g); err != nil {
					t.Fatalf("group %s does not resolve: %v", g, err)
				}
			}
		}
		for _, name := range df.TaskOrder {
			for _, s := range df.Tasks[name].Steps {
				if s.On != "" && df.Groups[s.On] == nil {
					t.Fatalf("step on unknown group %q loaded", s.On)
				}
				if s.Kind == StepTask && df.Tasks[s.Arg] == nil {
					t.Fatalf("call of unknown task %q loaded", s.Arg)
				}
				_ = s.Title()
				_ = s.Modifiers()
			}
		}
		for _, h := range df.Hosts() {
			if strings.HasPrefix(h.Host, "-") || strings.HasPrefix(h.User, "-") {
				t.Fatalf("host spec that reads as an option loaded: %+v", h.HostSpec)
			}
			_ = df.VarsFor(h)
		}
	})
}

// FuzzParseHostSpec: no panic, nothing that reads as an option or holds
// shell metacharacters, and what parses prints back to the same spec.
func FuzzParseHostSpec(f *testing.F) {
	for _, s := range []string{"web1", "deploy@web1.example.com:2222", "[::1]:22", "2001:db8::1",
		"user@[fe80::1%eth0]:22", "-oProxyCommand=x", "a:b", "@x", "h:65535", "$(x)@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		spec, err := ParseHostSpec(in)
		if err != nil {
			return
		}
		if strings.HasPrefix(spec.Host, "-") || strings.HasPrefix(spec.User, "-") {
			t.Fatalf("%q parsed to an option-like spec %+v", in, spec)
		}
		if strings.ContainsAny(spec.User+spec.Host, " \t\n'\"`;|&<>()\\") {
			t.Fatalf("%q parsed to a spec with shell metacharacters %+v", in, spec)
		}
		if spec.Port < 0 || spec.Port > 65535 {
			t.Fatalf("%q: port %d", in, spec.Port)
		}
		again, err := ParseHostSpec(spec.String())
		if err != nil || again != spec {
			t.Fatalf("%q → %+v → %q → %+v, %v", in, spec, spec.String(), again, err)
		}
	})
}
