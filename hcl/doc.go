// Package hcl is Handrail's DSL front end: it compiles a `.hcl` runbook into
// the same [runbook.Plan] a Go program builds with [runbook.NewBuilder].
//
// Loading goes through fixed phases: parse, declarations (runbook,
// variable, locals, provider, phase, step, gate, output), variables (with
// Terraform's precedence: default < HANDRAIL_VAR_<name> < *.auto.hclvars <
// -var-file < -var), locals in topological order, provider configuration,
// references (each one a graph edge, checked to point backwards), the plan
// graph, and a plan-time check that evaluates every body with typed unknowns
// for outputs of steps that have not run. Nothing touches the world while
// loading: provider instances are configured, never connected.
//
// At run time each node is evaluated lazily: its body is decoded when the
// executor calls Do (or Compensate, Sample, Holds), with the outputs of the
// steps that finished before it. Sensitive values carry a cty mark from the
// moment they enter, stay marked through functions and templates, and are
// unmarked only at the provider boundary, where every sensitive string is
// registered with the run's redactor.
//
// Every error is an [hhcl.Diagnostics] with source ranges; print them with
// [Runbook.WriteDiagnostics], which never shows a sensitive value.
//
// The package never imports a concrete provider: the caller passes a
// [Registry] (a *provider.Registry satisfies it).
package hcl
