package ssh_test

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
)

// A fleet step: reload nginx on three web hosts, two at a time. web-3 is
// down, so the batch fails and the two hosts that had reloaded are undone
// before the step reports the failure.
func ExampleNewExec_fanOut() {
	world := sshfake.New()
	world.Down("web-3", true)
	// With the real provider: ssh.New("web", ssh.Config{Host: "web-1",
	// User: "deploy", PrivateKeyFiles: []string{"~/.ssh/deploy"}}).
	var web ssh.Client = world.Instance("web", "web-1")

	step, err := ssh.NewExec(web, ssh.ExecOptions{
		Command:         []string{"ln", "-sf", "/etc/nginx/sites-available/v2.conf", "/etc/nginx/sites-enabled/app.conf"},
		Sudo:            true,
		Hosts:           []string{"web-1", "web-2", "web-3"},
		MaxParallel:     2,
		RollbackCommand: []string{"ln", "-sf", "/etc/nginx/sites-available/v1.conf", "/etc/nginx/sites-enabled/app.conf"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = step.Do(context.Background(), runbook.NewEnv(runbook.EnvConfig{}))
	fmt.Println(err != nil)
	for _, h := range []string{"web-1", "web-2"} {
		target, _ := world.Host(h).LinkTarget("/etc/nginx/sites-enabled/app.conf")
		fmt.Println(h, target)
	}
	// Output:
	// true
	// web-1 /etc/nginx/sites-available/v1.conf
	// web-2 /etc/nginx/sites-available/v1.conf
}

// Quote makes any string one literal shell word.
func ExampleQuote() {
	fmt.Println(ssh.Quote("; rm -rf / $(reboot) it's"))
	// Output: '; rm -rf / $(reboot) it'\''s'
}
