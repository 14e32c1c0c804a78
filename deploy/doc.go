// Package deploy is the engine: it runs a task's steps over the hosts of a
// loaded Deployfile (package config) — plan, guards, serial batches,
// abort, the switch of releases and rollback, the lock and the journal —
// and runs exec and check. It reports what happens as Events to a
// Printer, and draws nothing.
//
// It must never import deploy/ui: the display depends on the engine, not
// the other way round.
package deploy
