// Package docker is Handrail's Docker provider: it drives a Docker engine
// through its HTTP API with github.com/moby/moby/client — on the local
// socket, at DOCKER_HOST, or through another provider instance that can
// open connections (an SSH provider: `via = ssh.app` reaches the far host's
// /var/run/docker.sock). No docker CLI is needed.
//
// Actions (step and, where noted, gate probe):
//
//   - docker_pull: make an image present (pull = "if_missing" by default),
//     progress as events, registry credentials from sensitive arguments.
//   - docker_service_update: the "stop backend, set image 0.3.0, up -d" of a
//     runbook, done properly: the service's container (by name or compose
//     labels) is cloned with the new image (same config, host config and
//     networks; values inherited from the old image dropped so the new
//     image's apply), the old one is stopped and parked as
//     <name>-handrail-old, the new one takes the name, starts, and must
//     become healthy (HEALTHCHECK and/or health_url) before the step
//     succeeds. If it does not, the old container is put back and started
//     before the step fails. Natural rollback: the parked container comes
//     back, or, if it is gone, the service is recreated from previous_image.
//     The parked container is removed by docker_cleanup, or by the next
//     update of the same container.
//   - docker_exec: a command inside a container; exit code and output
//     (probe: the exit code).
//   - docker_logs_check: fail when recent log lines match a pattern (probe:
//     the number of matches).
//   - docker_inspect: a container's state (probe: health, status, ...).
//   - docker_cleanup: remove the parked previous containers (irreversible).
//
// Go programs build actions with [NewPull], [NewServiceUpdate], [NewExec],
// [NewLogsCheck], [NewInspect] and [NewCleanup] on an [Instance]; front ends
// use [New] as a provider.Provider. Package dockerfake is a stateful
// in-memory engine for tests and the sandbox.
package docker
