package mdimport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/hcl"
)

// ErrNoSteps is returned for a document in which nothing reads as a step.
var ErrNoSteps = errors.New("no steps found")

// Result is an imported runbook.
type Result struct {
	// HCL is the runbook, formatted.
	HCL []byte
	// Vars is the content of the .auto.hclvars file: the values of the
	// variables made from the document's literals (never a secret).
	Vars []byte
	// Stats counts what was generated.
	Stats Stats
}

// Stats counts what an import generated.
type Stats struct {
	Phases, Steps, Approvals int
	// Rollbacks is the number of steps given a rollback from the document.
	Rollbacks int
	// Placeholders is the number of steps left without a rollback: each is
	// one error of `handrail validate` until its author resolves it.
	Placeholders int
	// Unmatched is the number of rollback commands attached to no step.
	Unmatched int
	Variables int
}

// Import reads a Markdown runbook (CommonMark with GitHub tables and task
// lists) and returns a Handrail runbook. file names the document in the
// comments that point every generated block to its source line. A
// document in which nothing reads as a step is an error wrapping
// [ErrNoSteps].
func Import(file string, src []byte) (*Result, error) {
	// Invalid UTF-8 would reach comments and strings, which HCL refuses.
	src = []byte(strings.ToValidUTF8(string(src), "\uFFFD"))
	m := build(parseMarkdown(src), file)
	if len(m.nodes) == 0 {
		return nil, fmt.Errorf("%s: %w: no shell code blocks, task lists, numbered instructions or approval points; write the steps as ```bash blocks, \"- [ ]\" items or a numbered list", file, ErrNoSteps)
	}
	e := newEmitter(m)
	e.emitBody()
	var head strings.Builder
	e.emitHead(&head)
	out, diags := hcl.Format(file+".hcl", []byte(head.String()+e.body.String()))
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: generated runbook does not parse (a bug in the importer): %s", file, diags.Error())
	}
	vars, diags := hcl.Format(file+".auto.hclvars", []byte(e.hclvars()))
	if diags.HasErrors() {
		return nil, fmt.Errorf("%s: generated variables do not parse (a bug in the importer): %s", file, diags.Error())
	}
	r := &Result{HCL: out, Vars: vars}
	r.Stats.Phases = len(m.phases)
	for _, n := range m.nodes {
		switch {
		case n.gate:
			r.Stats.Approvals++
		default:
			r.Stats.Steps++
			if n.rollback != nil {
				r.Stats.Rollbacks++
			}
		}
	}
	r.Stats.Placeholders = e.todo
	for _, c := range m.cands {
		if !c.used {
			r.Stats.Unmatched++
		}
	}
	r.Stats.Variables = len(e.vars.order)
	return r, nil
}
