package email_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/email/emailfake"
	"github.com/handrail-dev/handrail/runbook"
)

// The seed's post-deployment notice from the built-in template.
func ExampleNewEmail() {
	world := emailfake.New()
	smtp, _ := world.Provider().(*email.Provider).NewInstance("ops", email.Config{Host: "smtp.dcmms.com", From: "DevOps <devops@dcmms.com>"})
	notice, err := email.NewEmail(smtp, email.Message{To: []string{"stakeholders@dcmms.com"}, Template: "deployment_complete", Data: map[string]any{
		"product": "dCMMS", "release": "Release 2", "version": "0.3.0", "duration": "3 hours 41 minutes", "issues": "None",
		"status": "All systems operational", "features": []string{"Compliance report automation"}, "support": "support@dcmms.com",
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _ = notice.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	fmt.Println(world.Subjects())
	// Output: [[dCMMS] Release 2 Deployment Complete]
}
