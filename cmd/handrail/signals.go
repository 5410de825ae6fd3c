package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"
)

// exitInterrupted is the exit code of a command stopped by Ctrl-C or
// SIGTERM (128 + SIGINT, as shells report it), except for apply, resume and
// rollback, whose exit code says how the run ended.
const exitInterrupted = 130

// flagExit is the exit code after a flag error: 0 for -h (the usage was
// asked for and printed), 1 otherwise.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitInvalid
}

// runsItsOwnSignals reports the commands that read a.signals themselves
// (a run stops and rolls back on the first, stops the rollback on the
// second).
func runsItsOwnSignals(cmd string) bool {
	switch cmd {
	case "apply", "resume", "rollback":
		return true
	}
	return false
}

// hardStopAfter is how long a command other than a run gets to return
// after Ctrl-C or SIGTERM cancelled its context before the process exits
// anyway (a second signal exits at once).
const hardStopAfter = 2 * time.Second

// withSignals runs fn with a context cancelled by the first Ctrl-C or
// SIGTERM. A command that does not return within hardStopAfter (work that
// cannot be interrupted, such as compiling one huge runbook), or a second
// signal, ends the process through a.exit.
func (a *app) withSignals(ctx context.Context, fn func(ctx context.Context) int) int {
	if a.signals == nil {
		return fn(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-a.signals:
		}
		fmt.Fprintln(a.stderr, "\nInterrupted.")
		cancel()
		select {
		case <-done:
			return
		case <-a.signals:
			fmt.Fprintln(a.stderr, "Interrupted again: exiting now.")
		case <-time.After(hardStopAfter):
			fmt.Fprintf(a.stderr, "Still busy %s after the interrupt: exiting now.\n", hardStopAfter)
		}
		if a.exit != nil {
			a.exit(exitInterrupted)
		}
	}()
	code := fn(ctx)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	return code
}
