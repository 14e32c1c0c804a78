package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// hostileValues are what a Deployfile or --var might carry to break out of
// a shell word, a path or a terminal.
var hostileValues = []string{
	"; rm -rf /", "$(touch /tmp/pwned)", "`id`", "a\nb", "a\r\nb", "tab\there",
	`'"\`, `\'`, "héllo ✓ 日本 🚀", "\x00", "a\x00b", "\x1b[2J\x1b]0;title\x07", "\u0085\u009b",
	"\u202eevil", "{{host}}{{host}}", "{{nope}}", "{{.Name}}", "-oProxyCommand=touch x", "--help",
	"../../etc/passwd", "~root/x", "", " ", strings.Repeat("x", 70_000), strings.Repeat("{{v}}", 100),
}

// tomlString writes s as a TOML basic string, control characters escaped.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hostileDeployfile puts v in every kind of field of a small Deployfile.
func hostileDeployfile(v string) string {
	q := tomlString(v)
	return fmt.Sprintf(`[app]
name = "app"
repo = "git@example.com:app.git"
path = "/srv/{{host}}/{{v}}"
[hosts]
web = ["w1", { name = "w2", host = "deploy@w2.example.com:2222", vars = { v = %[1]s } }]
all = { hosts = ["@web", "local"], description = %[1]s }
[vars]
v = %[1]s
s = { value = %[1]s, secret = true }
[tasks.deploy]
description = %[1]s
steps = [
  { run = %[1]s, name = %[1]s, dir = "{{path}}/{{v}}", env = { E = %[1]s }, unless = %[1]s, on = "web" },
  { local = "echo {{v}} {{s}}", only_if = "test {{v}}", creates = "/tmp/{{v}}", dir = %[1]s },
  { upload = %[1]s, to = "{{path}}/{{v}}", mode = "0644" },
  { builtin = "reload", on = "web", with = { method = "command", command = %[1]s, path = %[1]s, x = { y = [%[1]s] } } },
  { task = "inner", on = "all" },
]
[tasks.inner]
steps = [{ run = "echo {{v}}", sudo = "deploy" }, { builtin = "healthcheck", with = { url = %[1]s } }]
`, q)
}

// FuzzPlan goes from bytes to the engine's plan: load, resolve every
// group, and plan every task over every group without connecting. Nothing
// may panic, and a plan holds no NUL byte.
func FuzzPlan(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join("..", "testdata", "deployfiles", dir, "*.toml"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data, "")
		}
	}
	for _, v := range hostileValues {
		f.Add([]byte(hostileDeployfile(v)), "v="+v)
		f.Add([]byte(hostileDeployfile("ok")), "v="+v)
	}
	// A with value that JSON cannot hold (the loader refuses it now).
	f.Add([]byte("[hosts]\nweb = [\"w\"]\n[tasks.t]\nsteps = [{ builtin = \"reload\", with = { method = \"touch\", path = \"x\", n = nan } }]\n"), "")
	builtins := tasks.Builtins()
	f.Fuzz(func(t *testing.T, data []byte, override string) {
		opts := config.LoadOptions{}
		if name, value, ok := strings.Cut(override, "="); ok {
			opts.Vars = map[string]string{name: value}
		}
		df, err := config.Parse("Deployfile", data, opts)
		if err != nil {
			return
		}
		targets := []string{config.LocalHost}
		for _, g := range df.GroupOrder {
			if len(df.GroupHosts(g)) > 0 {
				targets = append(targets, g)
			}
			_ = df.Confirm(g)
			_ = df.HostSummaries(g)
		}
		r := &Runner{DF: df, Builtins: builtins}
		for _, target := range targets {
			hosts, err := df.Resolve(target)
			if err != nil {
				t.Fatalf("group %s does not resolve: %v", target, err)
			}
			for _, task := range df.TaskOrder {
				plan, err := r.Plan(task, hosts)
				if err != nil {
					continue
				}
				out, err := json.Marshal(plan)
				if err != nil {
					t.Fatalf("plan of %s on %s does not encode: %v", task, target, err)
				}
				if strings.Contains(string(out), `\u0000`) {
					t.Fatalf("plan of %s on %s holds a NUL byte: %s", task, target, out)
				}
			}
		}
	})
}
