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
//     step fans out over a fleet (max_parallel, max_fail_percentage) and,
//     when the batch fails, undoes it on every host that had succeeded
//     before reporting the failure.
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
// Each command of a fan-out sees its host entry in $HANDRAIL_HOST. The
// rollback command is both the step's natural rollback (run on the hosts in
// the step's hosts_succeeded output) and what a failing batch runs on its
// successful hosts before the step reports the failure.
//
// Actions reach hosts through the small [Client] interface; package sshfake
// implements it in memory for tests and the sandbox.
package ssh
