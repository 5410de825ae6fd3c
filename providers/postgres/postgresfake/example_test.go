package postgresfake_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/runbook"
)

// Script the world ("the schema is at 014, migration 016 fails"), run the
// migration step with rollback_on_failure, and inspect the final state.
func ExampleWorld() {
	world := postgresfake.New().SetVersion(14).FailMigration(16, `syntax error at or near "FORM"`)
	db, _ := postgres.NewInstance("dcmms", postgres.Config{DSN: "postgres://dcmms@db/dcmms"}, world.Option())
	migrate, _ := postgres.NewMigrate(db, postgres.MigrateArgs{Dir: "migrations", FS: postgresfake.SeedMigrations()})
	plan, _ := runbook.NewBuilder("release-2").
		Step(runbook.Step{Name: "migrate", Action: migrate, RollbackOnFailure: true}).
		Build()
	res, _ := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{})
	fmt.Println(res.Status)
	fmt.Println("schema:", world.Version())
	for _, f := range world.Applied() {
		fmt.Println("ran", f)
	}
	// Output:
	// rolled_back
	// schema: 14
	// ran 015_add_ml_features_table.up.sql
	// ran 015_add_ml_features_table.down.sql
}
