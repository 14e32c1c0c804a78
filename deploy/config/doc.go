// Package config is the Deployfile: it loads and decodes the TOML, records
// where every key and value is written, validates the whole file (every
// problem at once, each with its place and a fix), and answers questions
// about it — hosts and groups, targets, variables and their scopes, tasks
// and steps. It also writes the starter Deployfile of `deploy init`.
//
// It knows nothing of running tasks or of the screen: it must never import
// package deploy (the engine), deploy/ui (the display) or remote (the
// transports). It imports tasks only for the names of the built-in steps.
package config
