package statuspage_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
)

// The maintenance incident opened at the start of a release is resolved by
// the rollback when a later step fails.
func ExampleNewIncident() {
	world := statuspagefake.New("token")
	sp, _ := world.Provider().(*statuspage.Provider).NewInstance("public", statuspage.Config{APIKey: "token", PageID: "kctbh9vrtdwd"})
	open, _ := statuspage.NewIncident(sp, statuspage.OpenConfig{Incident: statuspage.Incident{
		Name: "Scheduled Maintenance - Release 2 Deployment", Status: "investigating", ImpactOverride: "maintenance"}})

	b := runbook.NewBuilder("release")
	b.Step(runbook.Step{Name: "maintenance_incident", Action: open})
	b.Step(runbook.Step{Name: "migrate", Irreversible: true, Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
		return nil, errors.New("migration 016 failed")
	})})
	plan, _ := b.Build()
	res, _ := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	for _, in := range world.Incidents() {
		fmt.Println(res.Status, in.Name, in.Status)
	}
	// Output: rolled_back Scheduled Maintenance - Release 2 Deployment resolved
}
