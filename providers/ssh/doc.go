// Package ssh is Handrail's SSH provider: it runs commands and uploads files
// on remote hosts over golang.org/x/crypto/ssh.
//
// A configured instance ([Instance], from `provider "ssh" "lb" { ... }` or
// [New]) keeps one connection per host, opened lazily on first use, shared
// by every step (a new session per command), kept alive and re-opened when
// the server drops it. Host keys are checked against a known_hosts file; an
// unknown or changed key is refused with its fingerprint in the error
// ([ErrHostKey]) unless trust on first use was asked for explicitly.
//
// Actions:
//   - ssh_exec ([Exec]): a command in argv form (each argument quoted by the
//     provider, so hostile arguments arrive literally) or a deliberate shell
//     script; sudo, stdin, environment, working directory, a per-command
//     timeout that kills the remote process group, captured and streamed
//     output, expected exit codes, JSON parsing of stdout. With `hosts`, the
//     step fans out over a fleet (max_parallel, max_fail_percentage),
//     records each host's result in the run's journal, and on a retry or a
//     resumed run runs only on the hosts that did not succeed.
//   - ssh_upload ([Upload]): writes a file (content, mode, owner), keeping
//     its previous content so that a rollback can restore it.
//
// In HCL:
//
//	provider "ssh" "web" {
//	  host             = "web-1.internal"
//	  user             = "deploy"
//	  private_key_file = "~/.ssh/deploy_ed25519"
//	  known_hosts      = "~/.ssh/known_hosts"   # the default
//	  jump_host        = "bastion.example.com"  # optional
//	}
//
//	step "ssh_exec" "reload" {
//	  provider            = ssh.web
//	  hosts               = ["web-1.internal", "web-2.internal", "web-3.internal"]
//	  max_parallel        = 2
//	  max_fail_percentage = 0
//	  sudo                = true
//	  command             = ["ln", "-sf", "/etc/nginx/sites-available/v2.conf", "/etc/nginx/sites-enabled/app.conf"]
//	  rollback_command    = ["ln", "-sf", "/etc/nginx/sites-available/v1.conf", "/etc/nginx/sites-enabled/app.conf"]
//	  timeout             = "30s"
//	}
//
// Each command of a fan-out sees its host entry in $HANDRAIL_HOST. Hosts
// start in list order, at most max_parallel at once: the first max_parallel
// together, each later one when a slot frees, unless more hosts than
// max_fail_percentage allows have failed by then (with max_parallel = 1,
// exactly the hosts after that failure never start).
//
// A fan-out that changes the world (not read_only) records, in the step's
// progress (runbook.Env.RecordProgress), each host before the command
// starts there and when it ends. A retry of the step, or the same run
// resumed after a crash, a halt, an abort or an interruption — also with an
// edited runbook — runs only on the hosts where the same command (argv or
// script, sudo, env, dir, stdin, instance) has not succeeded yet: a host
// that failed, was never reached, was in flight when the process died, or
// ran another version of the command. The rollback command undoes exactly
// the hosts that may carry the change, across every attempt: where the
// command succeeded, failed after connecting, or was in flight (a host it
// could not reach is left alone, and a host left by an edit of the runbook
// is still undone). It is the step's natural rollback; when the batch
// fails and the step's own rollback will not undo the failure
// (runbook.Env.RollsBackFailure is false: an explicit rollback that is not
// idempotent, or on_fail = continue or pause), the batch runs it itself
// before reporting the failure, and a retry then starts afresh. Rollback
// commands must be idempotent.
//
// Actions reach hosts through the small [Client] interface; package sshfake
// implements it in memory for tests and the sandbox.
package ssh
