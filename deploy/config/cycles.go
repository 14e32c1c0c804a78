package config

import "slices"

// findCycles walks a directed graph depth-first from each node in order
// and calls found once for each edge that closes a cycle, with the cycle
// (first node repeated last). Edges to nodes outside the graph are
// skipped: they are reported as unknown elsewhere.
func findCycles[E any](nodes []string, edges func(node string) []E, to func(E) (string, bool), found func(edge E, cycle []string)) {
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		state[n] = onStack
		stack = append(stack, n)
		for _, e := range edges(n) {
			next, ok := to(e)
			if !ok {
				continue
			}
			switch state[next] {
			case onStack:
				i := slices.Index(stack, next)
				found(e, append(slices.Clone(stack[i:]), next))
			case unvisited:
				visit(next)
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	for _, n := range nodes {
		if state[n] == unvisited {
			visit(n)
		}
	}
}
