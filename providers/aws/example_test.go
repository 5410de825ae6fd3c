package aws_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	"github.com/handrail-dev/handrail/runbook"
)

// The seed's pre-check and traffic ramp in Go: verify today's backup,
// shift 10% then 50% of the traffic to the new target group, and roll the
// rule back to 100/0 when the smoke tests fail. The fake stands in for
// AWS; with real AWS, drop the option and configure a region (and a
// profile or role).
func ExampleNewWeights() {
	const (
		rule  = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/dcmms/1/2/3"
		oldTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-2-9/1"
		newTG = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dcmms-0-3-0/2"
	)
	now := time.Date(2026, 11, 26, 2, 35, 0, 0, time.UTC)
	world := awsfake.New().
		PutObject("dcmms-backups", "production/postgres_full_20261126_020000.sql.gz", []byte("dump"), now.Add(-time.Hour)).
		SetRule(rule, aws.TargetWeight{TargetGroupARN: oldTG, Weight: 100}, aws.TargetWeight{TargetGroupARN: newTG, Weight: 0})
	prod, err := aws.NewInstance("prod", aws.Config{Region: "eu-west-1"}, world.Option())
	if err != nil {
		panic(err)
	}
	backup, _ := aws.NewObjectExists(prod, aws.ObjectExistsArgs{Bucket: "dcmms-backups", Prefix: "production/", Date: "%Y%m%d"})
	b := runbook.NewBuilder("release-2").Step(runbook.Step{Name: "backup_exists", Action: backup})
	for _, pct := range []int{10, 50} {
		shift, _ := aws.NewWeights(prod, aws.WeightsArgs{RuleARN: rule, Weights: map[string]int{oldTG: 100 - pct, newTG: pct}})
		b.Step(runbook.Step{Name: fmt.Sprintf("shift_%d", pct), Action: shift})
	}
	plan, err := b.Step(runbook.Step{Name: "smoke_tests", Action: runbook.ActionFunc(
		func(context.Context, *runbook.Env) (runbook.Outputs, error) {
			w := world.Weights(rule)
			fmt.Printf("during smoke tests: %d/%d\n", w[oldTG], w[newTG])
			return nil, errors.New("smoke tests failed")
		}), Irreversible: true}).Build()
	if err != nil {
		panic(err)
	}
	res, _ := (&runbook.Executor{Clock: runbook.NewSimClock(now)}).Run(context.Background(), plan, runbook.RunOptions{})
	w := world.Weights(rule)
	fmt.Printf("%s: %d/%d\n", res.Status, w[oldTG], w[newTG])
	// Output:
	// during smoke tests: 50/50
	// rolled_back: 100/0
}
