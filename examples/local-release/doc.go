// Package localrelease runs the shape of the Release 2 runbook
// (../release-2) for real on one machine: local-release.hcl deploys the
// dcmms/backend test image 0.2.9 -> 0.3.0 on the local Docker engine,
// migrates a real PostgreSQL 014 -> 017, toggles maintenance with a file
// over SSH, watches the soaks in a real Prometheus that scrapes the
// container, and reaches S3, ELBv2, Slack and Statuspage as fakes over
// HTTP.
//
// The package holds no code: local_release_test.go starts the components,
// loads the runbook with a registry of the real providers and runs it on the
// real clock, once to a successful release and once with 0.3.0 failing
// during the 50% soak, which rolls everything back. See README.md.
package localrelease
