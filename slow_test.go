package main

import "testing"

// slow marks an end-to-end test that repeats, at length, what faster tests
// of the default suite already prove (real Django and gunicorn behind each
// deploy): the default suite skips it, to stay under a minute on 2 cores;
// the build tag faults runs it, as CI does (go test -tags faults -run
// 'Fault|Slow' .). Its name starts with TestSlow.
func slow(t *testing.T) {
	t.Helper()
	if !slowSuite {
		t.Skip("slow end-to-end test: go test -tags faults -run Slow . runs it")
	}
}
