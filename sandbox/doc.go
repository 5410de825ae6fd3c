// Package sandbox wires every standard provider to its stateful in-memory
// fake on one simulated clock: the world `handrail apply --sandbox`
// rehearses runbooks in, and `handrail test` runs test files against. Go
// tests script and inspect it through the fakes ("image 0.3.0 is
// unhealthy", "after rollback the schema is at 014").
//
// # Rehearsals
//
// [ForRunbook] returns the default world of a runbook: the file-wide world
// blocks of its test file (NAME.test.hcl next to NAME.hcl). [Fail] makes
// named steps fail and gates breach; [FailApprovals] makes approval gates
// say no.
//
// # Test files
//
// A *.test.hcl file holds scenarios for a runbook, in the spirit of
// Terraform's .tftest.hcl with mock providers:
//
//	runbook = "release-2.hcl"          # default: NAME.hcl for NAME.test.hcl
//	start   = "2026-01-04T02:00:00Z"   # when the simulated clock starts
//
//	variables { version = "0.3.0" }    # -var values for every scenario
//
//	world {                            # the world every scenario starts from
//	  docker_container {
//	    name    = "dcmms-backend"
//	    image   = "dcmms/backend:0.2.9"
//	    project = "dcmms"
//	    service = "backend"
//	  }
//	  postgres { version = 14 }
//	  elbv2_rule {
//	    arn     = var.rule_arn
//	    weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
//	  }
//	  prometheus {
//	    query = var.error_rate_query
//	    value = 0.002
//	  }
//	}
//
//	scenario "soak_breach_at_50" {
//	  world {                          # added to the file's world
//	    prometheus {
//	      query = var.error_rate_query
//	      value = 0.002
//	      at {
//	        node  = "soak[50]"
//	        after = "9m"
//	        value = 0.06
//	      }
//	    }
//	  }
//	  fail        = ["step.x"]              # the step fails, a gate breaches at once
//	  deny        = ["gate.go_no_go_start"] # the approver says no
//	  silence     = ["gate.go_no_go_health"] # nobody answers: the gate times out
//	  crash_after = "step.traffic[50]"      # the process dies; a new one resumes
//	  resume {                              # or: fails at X, edited, resumed
//	    runbook      = "fixed.hcl"          # the edited runbook (default: the same)
//	    from         = "step.migrate"       # resume from a node; rerun = [...]
//	    force        = true                 # accept unsafe changes
//	    reason       = "016: VEIW -> VIEW"  # journaled with the new plan version
//	    first_status = "aborted"            # how the first run must have ended
//	    world { ... }                       # what the fix changed outside the runbook
//	  }                                     # expect is then about the resumed process
//	  expect {
//	    status       = "rolled_back"
//	    compensated  = ["traffic[50]", "traffic[10]", ["deploy_a", "deploy_b"], "migrate"]
//	    not_executed = ["traffic[100]"]
//	    world {
//	      postgres_version = 14
//	      elbv2_rule {
//	        arn     = var.rule_arn
//	        weights = { (var.old_tg_arn) = 100, (var.new_tg_arn) = 0 }
//	      }
//	    }
//	  }
//	}
//
// In a test file, var.* holds the runbook's *.auto.hclvars values, then the
// file's variables, then the scenario's; test.today is the start date as
// YYYYMMDD and test.start the start time; file(path) reads a file next to
// the test file. A nested list in executed, compensated or pending is a
// group whose members may come in any order (the branches of a parallel
// phase).
//
// A world block holds, all repeatable: docker_images, docker_unhealthy,
// docker_pull_fails, docker_container { name, image, project, service,
// logs }, docker_exec { container, command, exit_code, stdout, stderr },
// postgres { version, fail_migrations = { "16" = "message" },
// fail_migrations_down, fixed_migrations (their failure removed),
// unreachable, query { sql, columns, rows } },
// s3_bucket { name, versioned }, s3_object { bucket, key, content, age },
// elbv2_rule { arn, weights }, prometheus { query, value, no_data, at {
// node, after, value } }, http { host, method, path, status, json | body,
// latency, at { node, after, status, json | body, latency } }, ssh_host {
// host, files, dirs, symlinks, down }, ssh_reply { host, command | script,
// stdout, stderr, exit_code, times }, exec_reply { command, stdout, stderr,
// exit_code, times } and k6 { summary, exit_code }. An expect block's world
// holds docker_container { name, image, running, health },
// postgres_version, elbv2_rule { arn, weights }, s3_object { bucket, key |
// prefix, exists }, ssh_file { host, path, exists }, statuspage_open,
// statuspage_incidents, slack_messages and email_subjects.
//
// In the sandbox, an ssh host runs a script as its `&&`-separated commands
// (so that the fake's file commands apply), `aws s3 cp|sync|rm` run there
// act on the fake S3, and relative migration directories are read from the
// runbook's folder.
//
// [RunTestFile] runs a test file's scenarios; `handrail test [PATH]` prints
// them like go test. A crash_after scenario stops the first run dead (its
// goroutines stay blocked on the journal for the life of the process, as a
// killed process would never act again) and resumes it with a new executor
// on a new simulated clock from the journal records written so far.
//
// [Load] prepares the same world for Go tests: the runbook loaded against
// the fakes in one call, to run under runbook/runbooktest with its failure
// injection.
package sandbox
