package deploy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/tasks"
)

// benchmarkPlan plans a task of five steps over a group of n hosts,
// without connecting: what `deploy plan` costs before the first guard.
func benchmarkPlan(b *testing.B, n int) {
	var src strings.Builder
	src.WriteString("[app]\nname = \"app\"\nrepo = \"git@example.com:app.git\"\npath = \"/srv/app\"\n[vars]\nroot = \"/srv\"\nmine = \"{{root}}/{{host}}\"\n[hosts]\nweb = [")
	for i := range n {
		fmt.Fprintf(&src, "\"h%d.example.com\", ", i)
	}
	src.WriteString("]\nall = [\"@web\"]\n[tasks.t]\nsteps = [\n")
	for range 5 {
		src.WriteString("  { run = \"echo {{mine}}\", on = \"web\" },\n")
	}
	src.WriteString("]\n")
	df, err := config.Parse("Deployfile", []byte(src.String()), config.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	hosts, err := df.Resolve("all")
	if err != nil {
		b.Fatal(err)
	}
	r := &Runner{DF: df, Builtins: tasks.Builtins()}
	b.ResetTimer()
	for b.Loop() {
		if _, err := r.Plan("t", hosts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPlan1kHosts(b *testing.B)  { benchmarkPlan(b, 1_000) }
func BenchmarkPlan10kHosts(b *testing.B) { benchmarkPlan(b, 10_000) }
