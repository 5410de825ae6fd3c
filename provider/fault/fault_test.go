package fault_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/runbook"
)

func TestInjectorKinds(t *testing.T) {
	ctx := context.Background()
	var in fault.Injector
	applied := 0
	effect := func() error { applied++; return nil }

	if err := in.Do(ctx, "Set", effect); err != nil || applied != 1 {
		t.Fatalf("unarmed call: err %v, applied %d", err, applied)
	}
	var fired []bool
	in.Arm("Set", fault.Fault{Kind: fault.Before, OnFire: func(a bool) { fired = append(fired, a) }})
	err := in.Do(ctx, "Set", effect)
	if !errors.Is(err, fault.ErrInjected) || !errors.Is(err, syscall.ECONNREFUSED) || applied != 1 {
		t.Fatalf("before: err %v, applied %d", err, applied)
	}
	in.Arm("Set", fault.Fault{Kind: fault.After, Times: 2, OnFire: func(a bool) { fired = append(fired, a) }})
	for i := 0; i < 2; i++ {
		err = in.Do(ctx, "Set", effect)
		if !errors.Is(err, syscall.ECONNRESET) || !errors.Is(err, fault.ErrInjected) {
			t.Fatalf("after #%d: %v", i, err)
		}
	}
	if applied != 3 {
		t.Fatalf("after: the effect ran %d times in all, want 3", applied)
	}
	if err := in.Do(ctx, "Set", effect); err != nil {
		t.Fatalf("the fault should be spent after Times calls: %v", err)
	}
	if in.Do(ctx, "Other", effect) != nil || in.Calls("Set") != 5 || in.Fired("Set") != 3 {
		t.Fatalf("calls %d fired %d", in.Calls("Set"), in.Fired("Set"))
	}
	if fmt.Sprint(fired) != "[false true true]" {
		t.Fatalf("OnFire saw %v", fired)
	}
	boom := errors.New("quota exceeded")
	in.Arm("Set", fault.Fault{Kind: fault.Before, Err: boom, Times: -1})
	for i := 0; i < 3; i++ {
		if err := in.Do(ctx, "Set", effect); !errors.Is(err, boom) {
			t.Fatalf("forever #%d: %v", i, err)
		}
	}
	in.Clear("Set")
	if err := in.Do(ctx, "Set", effect); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
	// A failing effect is returned as it is.
	in.Arm("Set", fault.Fault{Kind: fault.After})
	if err := in.Do(ctx, "Set", func() error { return boom }); err != boom {
		t.Fatalf("failing effect: %v", err)
	}
}

func TestLatencyOnTheSimulatedClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := runbook.NewSimClock(t0)
	var in fault.Injector
	applied := 0
	in.Arm("Set", fault.Fault{Kind: fault.Latency, Delay: 5 * time.Minute, Clock: clock})
	done := make(chan error)
	go func() { done <- in.Do(context.Background(), "Set", func() error { applied++; return nil }) }()
	// Outside an executor the clock moves by hand.
	for {
		select {
		case err := <-done:
			if err != nil || applied != 1 {
				t.Fatalf("err %v applied %d", err, applied)
			}
			if clock.Now().Sub(t0) < 5*time.Minute {
				t.Fatalf("returned at %s, before the latency passed", clock.Now())
			}
			goto timeout
		case <-time.After(time.Millisecond):
			clock.Advance(time.Minute)
		}
	}
timeout:
	// A caller that gives up first gets its context's error, after the effect.
	in.Arm("Set", fault.Fault{Kind: fault.Latency, Delay: time.Hour, Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := in.Do(ctx, "Set", func() error { applied++; return nil })
	if !errors.Is(err, context.Canceled) || applied != 2 {
		t.Fatalf("err %v applied %d", err, applied)
	}
}

func TestTransportLetsTheRequestThroughAndDropsTheAnswer(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "done")
	}))
	defer srv.Close()
	var in fault.Injector
	c := &http.Client{Transport: &fault.Transport{Faults: &in, Call: func(r *http.Request) string {
		if r.Method == http.MethodPut {
			return "Put"
		}
		return ""
	}}}
	in.Arm("Put", fault.Fault{Kind: fault.After})
	req, _ := http.NewRequest(http.MethodPut, srv.URL, nil)
	_, err := c.Do(req)
	if !errors.Is(err, syscall.ECONNRESET) || hits.Load() != 1 {
		t.Fatalf("after: err %v, server hits %d", err, hits.Load())
	}
	in.Arm("Put", fault.Fault{Kind: fault.Before})
	_, err = c.Do(req)
	if !errors.Is(err, syscall.ECONNREFUSED) || hits.Load() != 1 {
		t.Fatalf("before: err %v, server hits %d", err, hits.Load())
	}
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != "done" || hits.Load() != 2 {
		t.Fatalf("a request not armed: %q, hits %d", b, hits.Load())
	}
	in.Arm("Put", fault.Fault{Kind: fault.Latency, Delay: time.Millisecond})
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	if string(b) != "done" || hits.Load() != 3 {
		t.Fatalf("latency: %q, hits %d", b, hits.Load())
	}
}

// A fake runs each call that changes its world through an Injector; a test
// arms a lost answer on the next call.
func ExampleInjector() {
	var in fault.Injector
	weights := "100/0"
	modifyRule := func(ctx context.Context, to string) error {
		return in.Do(ctx, "ModifyRule", func() error { weights = to; return nil })
	}
	in.Arm("ModifyRule", fault.Fault{Kind: fault.After})
	err := modifyRule(context.Background(), "90/10")
	fmt.Println(errors.Is(err, fault.ErrInjected), errors.Is(err, syscall.ECONNRESET))
	fmt.Println("weights:", weights)
	fmt.Println(modifyRule(context.Background(), "50/50"), weights)
	// Output:
	// true true
	// weights: 90/10
	// <nil> 50/50
}
