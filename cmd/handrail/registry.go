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

// realRegistry returns the standard providers, acting on the real world;
// an override replaces the standard provider of its type. Providers connect
// lazily: loading, validating and planning touch nothing.
func realRegistry(overrides ...provider.Provider) (*provider.Registry, error) {
	ps := []provider.Provider{
		&ssh.Provider{},
		&exec.Provider{},
		&aws.Provider{},
		&httpprov.Provider{},
		&prometheus.Provider{},
		&slack.Provider{},
		&statuspage.Provider{},
		&email.Provider{},
		&docker.Provider{},
		&postgres.Provider{},
		&manual.Provider{},
	}
	for i, p := range ps {
		for _, o := range overrides {
			if o.Type() == p.Type() {
				ps[i] = o
			}
		}
	}
	return provider.NewRegistry(ps...)
}
