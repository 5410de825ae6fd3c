package runbook

// NoInline makes e hand every node to a worker, even a lone one, so that
// benchmarks can compare the walk with and without its inline path.
func NoInline(e *Executor) { e.noInline = true }

// NodeOrder returns the nodes of st in the order its journal first names
// them.
func NodeOrder(st *RunState) []string { return st.nodeOrder }
