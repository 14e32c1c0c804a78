package config

import (
	"fmt"
	"strings"
	"testing"
)

// bigDeployfile writes a Deployfile with the given numbers of hosts (in
// groups of 1,000, every ten groups gathered by a rack group of includes),
// variables, and tasks (three steps each, calls chained ten deep).
func bigDeployfile(hosts, tasks int) []byte {
	var b strings.Builder
	b.WriteString("[app]\nname = \"big\"\nrepo = \"git@example.com:big.git\"\npath = \"/srv/big/{{host}}\"\n")
	b.WriteString("[vars]\nroot = \"/srv\"\n")
	for i := range 1000 {
		fmt.Fprintf(&b, "v%d = \"{{root}}/v%d\"\n", i, i)
	}
	b.WriteString("[hosts]\n")
	const perGroup = 1000
	groups := (hosts + perGroup - 1) / perGroup
	for g := range groups {
		fmt.Fprintf(&b, "g%d = [", g)
		for h := g * perGroup; h < min(hosts, (g+1)*perGroup); h++ {
			if h%100 == 0 {
				fmt.Fprintf(&b, "{ name = \"n%d\", host = \"deploy@h%d.example.com:2222\", vars = { v%d = \"x\" } }, ", h, h, h%1000)
				continue
			}
			fmt.Fprintf(&b, "\"h%d.example.com\", ", h)
		}
		b.WriteString("]\n")
	}
	for r := 0; r < groups; r += 10 {
		fmt.Fprintf(&b, "rack%d = { hosts = [", r/10)
		for g := r; g < min(groups, r+10); g++ {
			fmt.Fprintf(&b, "\"@g%d\", ", g)
		}
		b.WriteString("], confirm = true }\n")
	}
	for t := range tasks {
		fmt.Fprintf(&b, "[tasks.t%d]\ndescription = \"task %d\"\nsteps = [\n", t, t)
		fmt.Fprintf(&b, "  { run = \"echo {{v%d}} {{host}}\", on = \"g%d\", timeout = \"1m\" },\n", t%1000, t%max(groups, 1))
		b.WriteString("  { builtin = \"migrate\", once = true, env = { A = \"{{root}}\" } },\n")
		if t%10 != 0 {
			fmt.Fprintf(&b, "  { task = \"t%d\" },\n", t-1)
		} else {
			b.WriteString("  { local = \"true\" },\n")
		}
		b.WriteString("]\n")
	}
	return []byte(b.String())
}

func benchmarkParse(b *testing.B, hosts, tasks int) {
	data := bigDeployfile(hosts, tasks)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		if _, err := Parse("Deployfile", data, LoadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10kHosts(b *testing.B)          { benchmarkParse(b, 10_000, 10) }
func BenchmarkParse100kHosts(b *testing.B)         { benchmarkParse(b, 100_000, 10) }
func BenchmarkParse10kTasks(b *testing.B)          { benchmarkParse(b, 10, 10_000) }
func BenchmarkParse100kHosts10kTasks(b *testing.B) { benchmarkParse(b, 100_000, 10_000) }
