package docker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A Go runbook: deploy 0.3.0 of the backend, then a failing smoke test
// rolls it back to 0.2.9. The fake engine stands in for a real one
// (docker.NewInstance("app", docker.Config{Host: "unix:///var/run/docker.sock"}, nil)).
func ExampleNewServiceUpdate() {
	world := dockerfake.New()
	world.AddImages("dcmms/backend:0.2.9", "dcmms/backend:0.3.0")
	_, _ = world.RunContainer("dcmms-backend", "dcmms/backend:0.2.9", nil)
	app := world.Instance("app")

	deploy, err := docker.NewServiceUpdate(app, docker.ServiceUpdate{
		Target:        docker.Target{Container: "dcmms-backend"},
		Image:         "dcmms/backend:0.3.0",
		HealthTimeout: 2 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "deploy_backend", Action: deploy}).
		Step(runbook.Step{Name: "smoke_tests", Irreversible: true, Action: runbook.ActionFunc(
			func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				return nil, fmt.Errorf("login returned 500")
			})}).
		Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	c, _ := world.Container("dcmms-backend")
	fmt.Println(res.Status, res.Compensated)
	fmt.Println(c.Name, c.Image, c.Running, c.Health)
	// Output:
	// rolled_back [deploy_backend]
	// dcmms-backend dcmms/backend:0.2.9 true healthy
}
