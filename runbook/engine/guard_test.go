package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/runbook/engine"
)

var errPanicked = errors.New("panicked")

func guarded(stack bool) (err error) {
	defer engine.Recover(&err, errPanicked, stack)
	panic("kaboom")
}

func TestRecover(t *testing.T) {
	err := guarded(false)
	if !errors.Is(err, errPanicked) || err.Error() != "panicked: kaboom" {
		t.Fatalf("%v", err)
	}
	err = guarded(true)
	if !errors.Is(err, errPanicked) || !strings.HasPrefix(err.Error(), "panicked: kaboom\ngoroutine ") || strings.Count(err.Error(), "\n") > 12 {
		t.Fatalf("%q", err)
	}
	calm := func() (err error) {
		defer engine.Recover(&err, errPanicked, true)
		return nil
	}
	if err := calm(); err != nil {
		t.Fatal(err)
	}
}

func TestDenialReason(t *testing.T) {
	for _, tc := range []struct {
		by       string
		timedOut bool
		comment  string
		want     string
	}{
		{"alice", false, "", "denied by alice"},
		{"", false, "not today", "denied by the approver: not today"},
		{"timeout", true, "", "no answer within 1h0m0s"},
	} {
		if got := engine.DenialReason(tc.by, tc.timedOut, time.Hour, tc.comment); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestRollbackDefaults(t *testing.T) {
	if got := engine.RollbackTimeout(0, 0); got != 10*time.Minute {
		t.Fatal(got)
	}
	if got := engine.RollbackTimeout(time.Minute, 0); got != time.Minute {
		t.Fatal(got)
	}
	if got := engine.RollbackTimeout(time.Minute, time.Second); got != time.Second {
		t.Fatal(got)
	}
	runner, step := 5, 7
	if got := engine.Override(1, nil, nil); got != 1 {
		t.Fatal(got)
	}
	if got := engine.Override(1, &runner, nil); got != 5 {
		t.Fatal(got)
	}
	if got := engine.Override(1, &runner, &step); got != 7 {
		t.Fatal(got)
	}
}
