package deploy

import (
	"bytes"
	"encoding/json"
	"testing"
)

// A host's journal is written by the host: whatever it holds, reading it
// never panics, and what is merged can be printed as JSON.
func FuzzJournal(f *testing.F) {
	f.Add([]byte(`{"id":"a","time":"2026-11-30T10:00:00Z","host":"web1","result":"ok","duration_s":1.5,"steps":[]}` + "\n" +
		`{"id":"a","time":"2026-11-30T10:00:00Z","host":"web2","result":"failed"}` + "\n"))
	f.Add([]byte("not json\n{\"id\":\n\x00\xff{}\n"))
	f.Add([]byte(`{"id":"b","time":"9999-12-31T23:59:59Z","duration_s":1e308,"steps":[{"step":"x","outcome":"changed"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		byID := map[string]*HistoryEntry{}
		_ = mergeJournal(byID, bytes.NewReader(data))
		_ = mergeJournal(byID, bytes.NewReader(data)) // a second host with the same lines
		for _, e := range newestFirst(byID, 3) {
			if _, err := json.Marshal(e); err != nil {
				t.Fatalf("a merged run cannot be printed: %v", err)
			}
		}
	})
}
