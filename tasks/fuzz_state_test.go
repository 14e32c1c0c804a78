package tasks

import (
	"strings"
	"testing"
)

// A host's state file and log are the host's to write: whatever they
// hold, reading them and deciding from them never panics.
func FuzzParseState(f *testing.F) {
	f.Add("current 20261130T100000Z-abc1234\ncommit abc1234abc1234abc1234abc1234abc1234abcd\nstate {\"release\":\"20261130T100000Z-abc1234\",\"phase\":\"healthy\"}\nlog {\"release\":\"x\",\"phase\":\"healthy\"}\nrelease 20261130T100000Z-abc1234 abc1234\n")
	f.Add("state {not json\nlog \x00\nrelease\nrelease a\ncurrent\nlock {}\n")
	f.Add(strings.Repeat("log {\"release\":\"r\",\"phase\":\"failed\"}\n", 50))
	f.Fuzz(func(t *testing.T, out string) {
		st, err := parseState("/srv/app", out)
		if err != nil {
			return
		}
		_ = st.String()
		_ = st.Consistent()
		_, _ = st.LastGood()
		_, _ = RollbackTarget(st, "")
		_, _ = RollbackTarget(st, "abcd")
		_ = st.Serves("abc", PhaseHealthy)
	})
}
