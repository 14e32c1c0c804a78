package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// levels writes n definitions, each using the one before twice (or k
// times): the shapes that expand to 2^n when expansion is not memoized.
func levels(n, k int, first string, level func(i int, prev string) string) string {
	var b strings.Builder
	b.WriteString(first)
	for i := 1; i <= n; i++ {
		b.WriteString(level(i, strings.Repeat(fmt.Sprint(i-1)+" ", k)))
	}
	return b.String()
}

func groupLevels(n int) string {
	return levels(n, 2, "[hosts]\ng0 = [\"a.example.com\", \"b.example.com\"]\n", func(i int, _ string) string {
		return fmt.Sprintf("g%d = [\"@g%d\", \"@g%d\"]\n", i, i-1, i-1)
	})
}

func varLevels(n int) string {
	return levels(n, 2, "[hosts]\nweb = [\"w1\"]\n[vars]\nv0 = \"xx\"\n", func(i int, _ string) string {
		return fmt.Sprintf("v%d = \"{{v%d}}{{v%d}}\"\n", i, i-1, i-1)
	}) + "[tasks.t]\nsteps = [{ run = \"echo {{v" + fmt.Sprint(n) + "}}\" }]\n"
}

func taskLevels(n, calls int) string {
	return levels(n, calls, "[tasks.t0]\nsteps = [{ run = \"true\" }]\n", func(i int, _ string) string {
		return fmt.Sprintf("[tasks.t%d]\nsteps = [%s]\n", i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("{ task = \"t%d\" }, ", i-1), calls), ", "))
	})
}

func manyHosts(groups, perGroup int) string {
	var b strings.Builder
	b.WriteString("[hosts]\n")
	var all []string
	for g := range groups {
		fmt.Fprintf(&b, "g%d = [", g)
		for h := range perGroup {
			fmt.Fprintf(&b, "\"h%d-%d\", ", g, h)
		}
		b.WriteString("]\n")
		all = append(all, fmt.Sprintf("\"@g%d\"", g))
	}
	fmt.Fprintf(&b, "all = [%s]\n", strings.Join(all, ", "))
	return b.String()
}

// Exponential shapes load in linear time: they finish at once, with the
// limit's error when they go over one.
func TestExpansionLimits(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the one error; "" loads
	}{
		{"30 levels of groups, each including the one before twice", groupLevels(30), ""},
		{"30 levels of variables, each using the one before twice", varLevels(30),
			"Deployfile:24:1: variable v20 is longer than 1 MiB once the variables it uses are put in — use the variables it holds fewer times"},
		{"19 levels of variables, 1 MiB", varLevels(19), ""},
		{"a command using a 1 MiB variable five times",
			varLevels(19) + "[tasks.u]\nsteps = [{ run = \"echo {{v19}}{{v19}}{{v19}}{{v19}}{{v19}}\" }]\n",
			"Deployfile:27:18: tasks.u.steps[1].run is longer than 4 MiB once its variables are put in — use its variables fewer times"},
		{"30 levels of tasks, each calling the one before twice", taskLevels(30, 2),
			"Deployfile:36:10: task t17 calls tasks more than 16 levels deep (through t16) — call the steps' tasks from fewer levels: merge some tasks"},
		{"15 levels of tasks, each calling the one before four times", taskLevels(15, 4),
			"Deployfile:19:8: task t9 runs more than 100,000 steps once its task calls are expanded — call fewer tasks, or call them fewer times"},
		{"16 levels of tasks, each calling the one before twice", taskLevels(16, 2), ""},
		{"10 groups of 1,000 hosts in one", manyHosts(10, 1000), ""},
		{"11 groups of 1,000 hosts in one", manyHosts(11, 1000),
			"Deployfile:13:1: group all holds more than 10,000 hosts once its includes are expanded — a group or target may hold at most 10,000 hosts: split it into smaller groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			df, err := Parse("Deployfile", []byte(tt.src), LoadOptions{})
			if tt.want != "" {
				if err == nil || err.Error() != tt.want {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// What deploy hosts, a run's confirmation and its scopes do.
			for _, g := range df.GroupOrder {
				_ = df.GroupHosts(g)
				_ = df.Confirm(g)
				_ = df.HostSummaries(g)
			}
			for _, h := range df.Hosts()[:min(len(df.Hosts()), 100)] {
				if _, err := df.Scope(h); err != nil {
					t.Fatal(err)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

func TestGroupsResolvedOnce(t *testing.T) {
	df, err := Parse("Deployfile", []byte(groupLevels(30)+"[hosts.top]\nhosts = [\"@g30\", \"c.example.com\"]\nconfirm = true\n"), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range df.GroupHosts("top") {
		names = append(names, h.Name)
	}
	if got := strings.Join(names, " "); got != "a.example.com b.example.com c.example.com" {
		t.Errorf("top = %s", got)
	}
	if !df.Confirm("g30,top") || df.Confirm("g30") {
		t.Error("confirm: top asks, g30 does not")
	}
	a, _ := df.Host("a.example.com")
	if got := df.HostSummaries("g0")[0].Groups; len(got) != 32 || got[0] != "g0" || got[30] != "g30" || got[31] != "top" {
		t.Errorf("groups of a: %v", got)
	}
	if !df.InGroup(a.Name, "g30") || !df.InGroup(a.Name, "top") || df.InGroup("c.example.com", "g0") {
		t.Error("InGroup")
	}
}

func TestTargetLimit(t *testing.T) {
	src := manyHosts(11, 1000)
	src = strings.Replace(src, "all = ", "some = ", 1)
	src = strings.Replace(src, "\"@g10\"", "", 1)
	src = strings.Replace(src, "some = [", "rest = [\"@g10\"]\nsome = [", 1)
	df, err := Parse("Deployfile", []byte(src), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = df.Resolve("some,rest")
	if err == nil || !strings.Contains(err.Error(), `target "some,rest" holds 11,000 hosts; a target may hold at most 10,000`) {
		t.Errorf("got %v", err)
	}
}

func TestScopeValueLimit(t *testing.T) {
	src := "[hosts]\nweb = [\"w1\"]\n[vars]\nbig = { env = \"DEPLOY_TEST_BIG\" }\nx2 = \"{{big}}{{big}}\"\n[tasks.t]\nsteps = [{ run = \"echo {{x2}}\" }]\n"
	df, err := Parse("Deployfile", []byte(src), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := df.Host("w1")
	tests := []struct {
		size int
		want string
	}{
		{MaxValueBytes / 2, ""},
		{MaxValueBytes/2 + 1, "variable x2 is longer than 1 MiB"},
		{MaxValueBytes + 1, "environment variable DEPLOY_TEST_BIG, which is longer than 1 MiB"},
	}
	for _, tt := range tests {
		t.Setenv("DEPLOY_TEST_BIG", strings.Repeat("x", tt.size))
		_, err := df.Scope(h)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%d bytes: %v, want %q", tt.size, err, tt.want)
		}
	}
}

// Many includes of the same big group: each adds nothing new, but the work
// of looking is bounded too.
func TestGroupWorkLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(manyHosts(10, 1000))
	b.WriteString("top = [")
	for range 101 {
		b.WriteString(`"@all", `)
	}
	b.WriteString("]\n")
	for i := range 101 {
		fmt.Fprintf(&b, "x%d = [\"@all\"]\n", i)
	}
	b.WriteString("top2 = [")
	for i := range 101 {
		fmt.Fprintf(&b, "\"@x%d\", ", i)
	}
	b.WriteString("]\n")
	start := time.Now()
	_, err := Parse("Deployfile", []byte(b.String()), LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "the groups list more than 1,000,000 hosts in all once their includes are expanded (at group") {
		t.Errorf("got %.300v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
