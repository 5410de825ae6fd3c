package main

import (
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/exec"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/sandbox/manual"
)

// realRegistry returns the standard providers, acting on the real world.
// Providers connect lazily: loading, validating and planning touch nothing.
func realRegistry() (*provider.Registry, error) {
	return provider.NewRegistry(
		ssh.Provider{},
		exec.Provider{},
		aws.NewProvider(),
		&httpprov.Provider{},
		&prometheus.Provider{},
		&slack.Provider{},
		&statuspage.Provider{},
		&email.Provider{},
		docker.New(),
		postgres.NewProvider(),
		manual.Provider{},
	)
}
