// Package ui is what people (and machines) see: the printers of a run's
// events (text, live status lines, JSON), colours, and every table and
// summary — tasks, hosts, host checks, exec and run summaries, history,
// releases, and a Deployfile's errors.
//
// It reads the engine (package deploy) and the Deployfile (package
// config); neither may import it.
package ui
