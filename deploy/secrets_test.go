package deploy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/deploy-tool/deploy/deploy/config"
	"github.com/deploy-tool/deploy/remote/sshtest"
	"github.com/deploy-tool/deploy/tasks"
)

// A long line is cut into pieces, never inside a secret.
func TestLineWriterNeverCutsASecret(t *testing.T) {
	secret := "s3cret-value-that-is-long"
	for _, at := range []int{maxLine - 1, maxLine - 10, maxLine - len(secret) + 1, maxLine} {
		var pieces []string
		w := &lineWriter{secrets: []string{secret}, emit: func(l string) { pieces = append(pieces, l) }}
		line := strings.Repeat("x", at) + secret + strings.Repeat("y", maxLine)
		// Written in small reads, as a command's output arrives.
		for i := 0; i < len(line); i += 1000 {
			w.Write([]byte(line[i:min(i+1000, len(line))]))
		}
		w.Flush()
		if strings.Join(pieces, "") != line {
			t.Fatalf("at %d: the pieces do not make the line", at)
		}
		found := false
		for _, p := range pieces {
			found = found || strings.Contains(p, secret)
		}
		if !found {
			t.Errorf("secret at %d was cut across pieces: %d pieces", at, len(pieces))
		}
	}
}

// Every form a secret takes on its way to the output is masked: its lines,
// shell-quoted in a guard's reason, JSON-escaped, URL-encoded.
func TestSecretsMaskedInEveryForm(t *testing.T) {
	secret := "line one's key\nline-two-key"
	src := `[hosts]
web = ["web1"]
[vars]
token = { env = "DEPLOY_TEST_TOKEN", secret = true }
[tasks.show]
steps = [
  { run = "printf '%s\n' {{token}}; curl https://example.com/?t={{token}}", unless = "test {{token}} = x" },
]
`
	t.Setenv("DEPLOY_TEST_TOKEN", secret)
	df, err := config.Parse("Deployfile", []byte(src), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := df.Resolve("web")
	rec := &sshtest.Recorder{}
	rec.On("test ", sshtest.Reply{Status: 1})
	jsonSecret, _ := json.Marshal(secret)
	rec.On("printf", sshtest.Reply{Stdout: secret + "\n" + string(jsonSecret) + "\nt=line+one%27s+key%0Aline-two-key\n",
		Stderr: "failed: " + secret + "\n", Status: 1})
	events := &collect{}
	r := &Runner{DF: df, Conns: fakeHosts{"web1": rec}, Printer: events, Builtins: tasks.Builtins()}
	res, err := r.Run(context.Background(), "show", hosts)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, e := range events.events {
		b, _ := json.Marshal(e)
		all = append(all, string(b), e.Line, e.Error)
	}
	for _, sr := range res.Results {
		all = append(all, sr.Reason, sr.Command)
		all = append(all, sr.Stderr...)
	}
	for _, s := range all {
		for _, part := range []string{"line one", "line-two-key", "one%27s", `one's`} {
			if strings.Contains(s, part) {
				t.Errorf("%q shows part of the secret: %q", s, part)
			}
		}
	}
}
