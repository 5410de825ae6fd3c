package slack_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A message to the deployment channel; the fake records it.
func ExampleNewMessage() {
	world := slackfake.New()
	hook, _ := world.Provider().(*slack.Provider).NewInstance("deploy", slack.Config{WebhookURL: "https://hooks.slack.com/services/T/B/X", Channel: "#deployment-release-2"})
	msg, _ := slack.NewMessage(hook, slack.Message{Text: "Release 2 (v0.3.0): maintenance mode on"})
	out, _ := msg.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	fmt.Println(out["delivered"], world.Messages()[0].Channel, world.Texts())
	// Output: true #deployment-release-2 [Release 2 (v0.3.0): maintenance mode on]
}
