//go:build !faults

package main

// slowSuite: the default suite skips the slow tests.
const slowSuite = false
