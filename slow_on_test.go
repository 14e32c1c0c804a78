//go:build faults

package main

// slowSuite: built with the tag faults, the slow tests run.
const slowSuite = true
