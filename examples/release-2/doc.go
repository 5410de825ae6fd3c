// Package release2 is the seed runbook, dCMMS Release 2 (v0.3.0), written
// twice: release-2.hcl for people, and [Plan] with the Go API, compiling
// to the same plan. release-2.test.hcl holds its scenarios.
package release2
