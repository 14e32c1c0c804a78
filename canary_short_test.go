//go:build unix && !faults

package main

// canaryFull: the default suite gives each option the omnibus value only;
// -tags faults gives it every trick on its own too.
const canaryFull = false
