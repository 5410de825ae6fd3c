// Package exec is Handrail's local exec provider: it runs programs on the
// machine Handrail runs on (`npm run migrate:up`, `k6 run smoke-test.js`).
//
// Actions:
//   - local_exec ([Run]): argv (never a shell unless argv says so), env,
//     working directory, stdin, a timeout that kills the command's whole
//     process group, captured and streamed output, expected exit codes,
//     JSON parsing of stdout, an optional rollback command.
//   - k6_run ([K6]): runs the k6 binary if present (k6 is AGPL: Handrail
//     never links it) with --summary-export, and exposes its thresholds
//     (passed or failed, each) and metrics (http_req_duration p95,
//     http_req_failed rate...) as outputs; a failed threshold fails the
//     step.
//
// Working directory: a command runs in its step's dir, else in the
// provider's dir, else — for a runbook loaded from HCL — in the directory
// of the runbook file that declares the provider (the HCL front end gives
// the provider's dir that default, see provider.Attribute's
// DefaultsToRunbookDir), so `command = ["./scripts/check.sh"]` works from
// any working directory. Relative dirs are taken from the runbook file's
// directory too. A plan built in Go, with no file, runs its commands in
// the process's working directory unless [Config].Dir or
// [RunOptions].Dir says otherwise.
//
// An [Instance] implements provider.CommandRunner too. Actions reach the
// machine through the small [Runner] interface; package execfake
// implements it in memory.
package exec
