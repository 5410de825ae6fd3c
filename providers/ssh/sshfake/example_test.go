package sshfake_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A runbook step turns maintenance mode on; the test asserts on the fake
// host's files.
func Example() {
	w := sshfake.New()
	lb := w.Instance("lb", "production-lb-01")
	on, _ := ssh.NewExec(lb, ssh.ExecOptions{
		Command:         []string{"ln", "-sf", "/etc/nginx/sites-available/maintenance.conf", "/etc/nginx/sites-enabled/"},
		Sudo:            true,
		RollbackCommand: []string{"rm", "/etc/nginx/sites-enabled/maintenance.conf"},
	})
	if _, err := on.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{})); err != nil {
		fmt.Println(err)
	}
	target, ok := w.Host("production-lb-01").LinkTarget("/etc/nginx/sites-enabled/maintenance.conf")
	fmt.Println(ok, target)
	fmt.Println(w.Commands("production-lb-01"))
	// Output:
	// true /etc/nginx/sites-available/maintenance.conf
	// [sudo ln -sf /etc/nginx/sites-available/maintenance.conf /etc/nginx/sites-enabled/]
}
