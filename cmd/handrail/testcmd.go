package main

import (
	"context"
)

// cmdTest runs *.test.hcl scenarios (see package sandbox), with output and
// exit code like go test.
func (a *app) cmdTest(ctx context.Context, args []string) int {
	_ = ctx
	_ = args
	a.errorf("handrail test is not wired yet")
	return exitInvalid
}
