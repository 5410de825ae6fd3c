package http_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/handrail-dev/handrail/internal/testbackend"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/runbook"
)

// A health check as a step of a Go runbook: the status must be 2xx and the
// JSON body must say healthy, on the expected version.
func ExampleNewCheck() {
	srv := httptest.NewServer(testbackend.New(testbackend.Options{Version: "0.2.9"}))
	defer srv.Close()

	app, _ := (&httpprov.Provider{}).NewInstance("app", httpprov.Config{BaseURL: srv.URL})
	health, _ := httpprov.NewCheck(app, httpprov.Request{
		URL: "/api/v1/health",
		Expect: []httpprov.Expectation{
			httpprov.Equal("status", "healthy"),
			httpprov.Equal("version", "0.3.0"),
		},
	})
	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "health", Action: health})
	plan, _ := b.Build()
	_, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	var ee *httpprov.ExpectationError
	if errors.As(err, &ee) {
		fmt.Println(ee.Failures)
	}
	// Output: [version: want "0.3.0", got "0.2.9"]
}
