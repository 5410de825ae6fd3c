package postgres_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/runbook"
)

// The seed's database phase in Go: check the schema is at 014, migrate,
// and roll back to 014 when a later step fails. The fake stands in for
// the server; with the real one, drop the option and give a real DSN.
func ExampleNewMigrate() {
	world := postgresfake.New().SetVersion(14)
	db, err := postgres.NewInstance("dcmms", postgres.Config{DSN: "postgres://dcmms@db:5432/dcmms"}, world.Option())
	if err != nil {
		panic(err)
	}
	verify, _ := postgres.NewQuery(db, postgres.QueryArgs{
		SQL:    "SELECT version FROM schema_migrations ORDER BY version DESC LIMIT 1",
		Expect: map[string]string{"version": "014"},
	})
	migrate, _ := postgres.NewMigrate(db, postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	plan, err := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "verify_schema", Action: verify}).
		Step(runbook.Step{Name: "migrate", Action: migrate, RollbackOnFailure: true}).
		Step(runbook.Step{Name: "deploy", Irreversible: true, Action: runbook.ActionFunc(
			func(context.Context, *runbook.Env) (runbook.Outputs, error) {
				fmt.Println("schema during deploy:", world.Version())
				return nil, fmt.Errorf("backend unhealthy")
			})}).
		Build()
	if err != nil {
		panic(err)
	}
	res, _ := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status, "- schema after rollback:", world.Version())
	// Output:
	// schema during deploy: 17
	// rolled_back - schema after rollback: 14
}
