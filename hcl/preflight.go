package hcl

import (
	"context"
	"fmt"

	hhcl "github.com/hashicorp/hcl/v2"

	"github.com/handrail-dev/handrail/provider"
)

// Preflight asks every provider instance of the runbook that can check
// itself ([provider.Preflighter]: an SSH instance's keys and known_hosts)
// whether it is ready, without touching the world. It returns one error
// diagnostic per instance that is not, located at its provider block. A
// front end calls it before a real run takes its lock; rehearsals against
// fakes need not.
func (rb *Runbook) Preflight(ctx context.Context) hhcl.Diagnostics {
	var diags hhcl.Diagnostics
	for _, p := range rb.providers {
		pf, ok := p.inst.(provider.Preflighter)
		if !ok {
			continue
		}
		if err := pf.Preflight(ctx); err != nil {
			if ctx.Err() != nil {
				return append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Preflight interrupted", Detail: ctx.Err().Error()})
			}
			d := &hhcl.Diagnostic{
				Severity: hhcl.DiagError,
				Summary:  fmt.Sprintf("Provider %s is not ready", p.key()),
				Detail:   rb.red.Redact(err.Error()),
			}
			if p.block != nil {
				r := p.block.DefRange()
				d.Subject = &r
			}
			diags = append(diags, d)
		}
	}
	return ensureRanges(diags, rb.path)
}
