//go:build unix && faults

package main

// canaryFull: every trick on its own, besides the omnibus value.
const canaryFull = true
