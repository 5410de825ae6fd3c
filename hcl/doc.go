// Package hcl is Handrail's DSL front end: it compiles a `.hcl` runbook into
// the same [runbook.Plan] a Go program builds with [runbook.NewBuilder].
//
// # The language
//
//	runbook "release-2" { description, window, required_version, on_failure }
//	variable "name"     { type, default, description, sensitive, nullable, validation { condition, error_message } }
//	locals              { name = expr ... }                 # any order; cycles are errors
//	provider "ssh" "lb" { <the provider's configuration> }  # referenced as ssh.lb
//	phase "ramp"        { parallel, for_each, step..., gate... }
//	step "<action>" "<name>" {
//	  <the action's arguments>
//	  provider, depends_on, timeout, budget, when, idempotent, irreversible,
//	  point_of_no_return, rollback_on_failure, on_fail, description, rollback_timeout,
//	  rollback_idempotent, lasting (world paths its effect leaves behind after a rollback)
//	  retry { attempts, delay, backoff, max_delay, jitter }
//	  rollback "<action>" { provider, <arguments, with self = the step's arguments and outputs> }  # repeatable: fallbacks
//	}
//	gate "check|soak|guard|approval" "<name>" {
//	  every, initial_delay, duration, count, timeout, tolerate, from, until,   # by kind
//	  message, approvers (names or "group:NAME"), quorum,                      # approval
//	  separate_from = "starter", on_timeout = "approve"|"deny",
//	  on_fail, on_inconclusive, budget, depends_on, description
//	  check "<name>" {
//	    <the probe's arguments>, probe = "<action>", provider,
//	    condition (or success), failure, error_message, threshold, every, initial_delay,
//	    count, failure_limit, tolerate, inconclusive_limit, error_limit, no_data, dry_run
//	  }
//	}
//	output "name" { value, sensitive, description }
//
// References: var.<name>, local.<name>, step.<name>.<output>,
// gate.<name>.<value> (outcome, value, the checks' names; approved and by for
// approvals), each.key and each.value (inside a phase with for_each), self
// (in rollback blocks and check conditions: self.value is the sample), run.id
// and run.started_at, and <provider type>.<name>. A reference to a node adds
// a graph edge and must point backwards; depends_on adds ordering only.
//
// A phase with for_each makes one instance of its nodes per element, named
// "<name>[<key>]" (shift[10]); a list's instances run in order, keyed by the
// element's value (or index when the element is not a string, number or
// bool); a map's are keyed by its keys. Inside an instance, step.shift is
// that instance's step; elsewhere step.shift[10] picks one, and step.shift
// is an object of all of them by key.
//
// A step's provider instance is the one its provider argument names, else the
// only instance of the action's provider type, else (when the provider needs
// no configuration) an implicit "<type>.default". A check's probe is the one
// its probe argument names, else the only probe of the named provider, else
// the only configured probe whose arguments fit the check's. A meta-argument
// name the action also declares (exec's timeout) is given to the action,
// and to the step as well when it is known at load time.
//
// # How it evaluates
//
// Loading goes through fixed phases: parse, declarations, variables (with
// Terraform's precedence: default < HANDRAIL_VAR_<name> < *.auto.hclvars
// next to the runbook < -var-file < -var), locals in topological order,
// provider configuration, references, the plan graph, and a plan-time check
// that evaluates every body with typed unknowns for outputs of steps that
// have not run, so type errors surface before anything runs. When a step's
// arguments are all known at load time its action is built once
// (ActionType.New must not do I/O) to learn whether it is read-only and has
// a natural rollback, so the plan shows what a Go-built plan would. Nothing
// touches the world while loading: provider instances are configured, never
// connected.
//
// At run time each node is evaluated lazily: its body is decoded when the
// executor calls Do (or Compensate, Sample, Holds), with the outputs of the
// steps that finished before it (null for a step skipped by its when). Rollbacks rebuild the action from its
// arguments and read the step's outputs from [runbook.Env.Self], so they
// work in a later process from the journal alone. Sensitive values carry a
// cty mark from the moment they enter, stay marked through functions and
// templates, and are unmarked only at the provider boundary, where every
// sensitive string is registered with the run's redactor.
//
// Every error is an [hhcl.Diagnostics] with source ranges (run-time ones
// wrapped with [runbook.Permanent]); print them with
// [Runbook.WriteDiagnostics], which never shows a sensitive value.
//
// The package never imports a concrete provider: the caller passes a
// [Registry] (a *provider.Registry satisfies it).
package hcl
