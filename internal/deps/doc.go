// Package deps holds the test that enforces Handrail's dependency rule
// (docs/design.md, "Packages and the dependency rule") with `go list -deps`:
//
//   - runbook/... reaches only the standard library;
//   - steps/... and gates/... reach only runbook/... and the standard library;
//   - provider/... reaches runbook/..., go-cty (and what go-cty needs) and the
//     standard library;
//   - providers/<x>/... never imports another providers/<y>, nor hcl/...;
//   - hcl/... never imports providers/....
//
// The rules are pure functions over a package graph ([Check]), so that they
// are tested on their own as well as on the repository.
package deps
