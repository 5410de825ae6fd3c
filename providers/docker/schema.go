package docker

import (
	"fmt"
	"maps"
	"time"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// instanceOf returns the docker instance behind a configured instance.
func instanceOf(inst provider.Instance, action string) (*Instance, error) {
	d, ok := inst.(*Instance)
	if !ok || d == nil {
		name := "<nil>"
		if inst != nil {
			name = inst.Name()
		}
		return nil, fmt.Errorf("%s: provider %s is not a docker provider: %w", action, name, errBadArgs)
	}
	return d, nil
}

var targetSchema = provider.Schema{
	"container": {Type: cty.String, Description: "Container name or ID (dcmms-backend)."},
	"service":   {Type: cty.String, Description: "Compose service (com.docker.compose.service label), instead of container."},
	"project":   {Type: cty.String, Description: "Compose project (com.docker.compose.project label), with service."},
}

var authSchema = provider.Schema{
	"username":      {Type: cty.String, Description: "Registry user (with password)."},
	"password":      {Type: cty.String, Sensitive: true, Description: "Registry password or token."},
	"registry":      {Type: cty.String, Description: "Registry address for the credentials (optional)."},
	"registry_auth": {Type: cty.String, Sensitive: true, Description: "A ready X-Registry-Auth value (base64 JSON auth config); wins over username/password."},
}

func with(schemas ...provider.Schema) provider.Schema {
	out := provider.Schema{}
	for _, s := range schemas {
		maps.Copy(out, s)
	}
	return out
}

func out(t cty.Type, desc string) provider.Output { return provider.Output{Type: t, Description: desc} }

// actionTypes returns the docker action types for HCL.
func actionTypes() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		"docker_pull": {
			Description: "Make an image present on the engine (pull = \"if_missing\" by default: a present image is a no-op), with progress as events.",
			ReadOnly:    true,
			Args: with(authSchema, provider.Schema{
				"image": {Type: cty.String, Required: true, Description: "Image reference (dcmms/backend:0.3.0)."},
				"pull":  {Type: cty.String, Description: "if_missing (default), always or never."},
			}),
			Outputs: map[string]provider.Output{
				"image":    out(cty.String, "The reference."),
				"image_id": out(cty.String, "The local image ID."),
				"pulled":   out(cty.Bool, "Whether a pull happened."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				inst, err := instanceOf(pi, "docker_pull")
				if err != nil {
					return nil, err
				}
				a := argsOf(v, inst.Name()+" docker_pull")
				p := Pull{Image: a.Str("image"), Policy: pullPolicyArg(a, "pull"), Auth: authArgs(a)}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewPull(inst, p)
			},
		},
		"docker_service_update": {
			Description:     "Replace a service's container by one running a new image with the same configuration, wait until healthy; keeps the previous container (<name>-handrail-old) for rollback.",
			NaturalRollback: true,
			Args: with(targetSchema, authSchema, provider.Schema{
				"image":           {Type: cty.String, Required: true, Description: "New image reference."},
				"pull":            {Type: cty.String, Description: "if_missing (default), always or never."},
				"health_timeout":  {Type: cty.String, Description: "How long to wait for health (default 60s)."},
				"health_url":      {Type: cty.String, Description: "An HTTP URL that must answer 2xx too (through via when set)."},
				"stop_timeout":    {Type: cty.String, Description: "Grace period when stopping the old container (default 10s)."},
				"remove_previous": {Type: cty.Bool, Description: "Remove the previous container once the new one is healthy (default false: keep it for rollback)."},
			}),
			Outputs: map[string]provider.Output{
				"container_name":        out(cty.String, "The service container's name."),
				"container_id":          out(cty.String, "The new container's ID."),
				"image":                 out(cty.String, "The new image reference."),
				"image_id":              out(cty.String, "The new image's ID."),
				"previous_image":        out(cty.String, "The image reference the service ran before."),
				"previous_image_id":     out(cty.String, "The image ID the service ran before."),
				"previous_container_id": out(cty.String, "The previous container's ID."),
				"kept_container":        out(cty.String, "Where the previous container is kept (empty when removed)."),
				"restart_policy":        out(cty.String, "The service's restart policy."),
				"health":                out(cty.String, "Health of the new container at the end of the step."),
				"changed":               out(cty.Bool, "Whether the container was replaced."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				inst, err := instanceOf(pi, "docker_service_update")
				if err != nil {
					return nil, err
				}
				a := argsOf(v, inst.Name()+" docker_service_update")
				s := ServiceUpdate{
					Target:         targetArgs(a),
					Image:          a.Str("image"),
					Pull:           pullPolicyArg(a, "pull"),
					Auth:           authArgs(a),
					HealthTimeout:  a.Duration("health_timeout"),
					StopTimeout:    a.Duration("stop_timeout"),
					HealthURL:      a.Str("health_url"),
					RemovePrevious: a.Bool("remove_previous"),
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewServiceUpdate(inst, s)
			},
		},
		"docker_exec": {
			Description: "Run a command (argv) inside a running container; fails on an unexpected exit code. As a probe, the value is the exit code.",
			Args: with(targetSchema, provider.Schema{
				"command":     {Type: cty.List(cty.String), Required: true, Description: "argv, e.g. [\"npm\", \"run\", \"db:ping\"]."},
				"user":        {Type: cty.String, Description: "User to run as."},
				"workdir":     {Type: cty.String, Description: "Working directory."},
				"env":         {Type: cty.Map(cty.String), Description: "Extra environment."},
				"expect_exit": {Type: cty.List(cty.Number), Description: "Exit codes that count as success (default [0])."},
				"read_only":   {Type: cty.Bool, Description: "The command changes nothing (a ping): the step needs no rollback."},
			}),
			Outputs: map[string]provider.Output{
				"exit_code":    out(cty.Number, "The exit code."),
				"stdout":       out(cty.String, "Standard output (last 64 KiB)."),
				"stderr":       out(cty.String, "Standard error (last 64 KiB)."),
				"container_id": out(cty.String, "The container's ID."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				return newExecFromArgs(pi, v)
			},
			NewProbe: func(pi provider.Instance, v cty.Value) (runbook.Probe, error) {
				a, err := newExecFromArgs(pi, v)
				if err != nil {
					return nil, err
				}
				return a.(*execAction), nil
			},
		},
		"docker_logs_check": {
			Description: "Fail when a container's last lines (tail, default 50) or lines since a time match a pattern (case-insensitive regexp), returning them. As a probe, the value is the number of matches.",
			ReadOnly:    true,
			Args: with(targetSchema, provider.Schema{
				"pattern":        {Type: cty.String, Required: true, Description: "Regular expression (RE2), case-insensitive unless case_sensitive."},
				"case_sensitive": {Type: cty.Bool, Description: "Match case (default false, like grep -i)."},
				"tail":           {Type: cty.Number, Description: "Number of last lines to read (default 50, or all lines since `since`)."},
				"since":          {Type: cty.String, Description: "\"run\" (since the run started), a duration (\"15m\") before the check, or an RFC 3339 time."},
				"max_matches":    {Type: cty.Number, Description: "Matching lines tolerated (default 0)."},
			}),
			Outputs: map[string]provider.Output{
				"matches":       out(cty.List(cty.String), "The matching lines (at most 100)."),
				"match_count":   out(cty.Number, "How many lines matched."),
				"lines_checked": out(cty.Number, "How many lines were read."),
				"container_id":  out(cty.String, "The container's ID."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				return newLogsFromArgs(pi, v)
			},
			NewProbe: func(pi provider.Instance, v cty.Value) (runbook.Probe, error) {
				a, err := newLogsFromArgs(pi, v)
				if err != nil {
					return nil, err
				}
				return a.(*logsAction), nil
			},
		},
		"docker_inspect": {
			Description: "A container's state (health, status, image...). As a probe, the value is `field` (default health: healthy, unhealthy, starting, none, or the status when not running; \"absent\" when there is no such container).",
			ReadOnly:    true,
			Args: with(targetSchema, provider.Schema{
				"field": {Type: cty.String, Description: "Probe value: health (default), status, running, image, image_id or exit_code."},
			}),
			Outputs: map[string]provider.Output{
				"container_id":   out(cty.String, "ID."),
				"container_name": out(cty.String, "Name."),
				"image":          out(cty.String, "Image reference."),
				"image_id":       out(cty.String, "Image ID."),
				"status":         out(cty.String, "running, exited, ..."),
				"running":        out(cty.Bool, "Whether it runs."),
				"health":         out(cty.String, "healthy, unhealthy, starting, none, or the status when not running."),
				"exit_code":      out(cty.Number, "Last exit code."),
				"restart_count":  out(cty.Number, "Restarts by the engine."),
				"ip_addresses":   out(cty.Map(cty.String), "IP address per network."),
				"exists":         out(cty.Bool, "Whether the container exists."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				return newInspectFromArgs(pi, v)
			},
			NewProbe: func(pi provider.Instance, v cty.Value) (runbook.Probe, error) {
				return newInspectFromArgs(pi, v)
			},
		},
		"docker_cleanup": {
			Description: "Remove the previous containers docker_service_update kept for rollback (<name>-handrail-old). Irreversible: put it after the last gate.",
			Args: provider.Schema{
				"containers": {Type: cty.List(cty.String), Description: "Service container names."},
				"services":   {Type: cty.List(cty.String), Description: "Compose services (with project)."},
				"project":    {Type: cty.String, Description: "Compose project of services."},
			},
			Outputs: map[string]provider.Output{
				"removed": out(cty.List(cty.String), "The containers removed."),
			},
			New: func(pi provider.Instance, v cty.Value) (runbook.Action, error) {
				inst, err := instanceOf(pi, "docker_cleanup")
				if err != nil {
					return nil, err
				}
				a := argsOf(v, inst.Name()+" docker_cleanup")
				names, svcs, project := a.Strs("containers"), a.Strs("services"), a.Str("project")
				if err := a.Err(); err != nil {
					return nil, err
				}
				var c Cleanup
				for _, n := range names {
					c.Targets = append(c.Targets, Target{Container: n})
				}
				for _, s := range svcs {
					c.Targets = append(c.Targets, Target{Project: project, Service: s})
				}
				return NewCleanup(inst, c)
			},
		},
	}
}

func newExecFromArgs(pi provider.Instance, v cty.Value) (runbook.Action, error) {
	inst, err := instanceOf(pi, "docker_exec")
	if err != nil {
		return nil, err
	}
	a := argsOf(v, inst.Name()+" docker_exec")
	e := Exec{
		Target:      targetArgs(a),
		Command:     a.Strs("command"),
		User:        a.Str("user"),
		WorkingDir:  a.Str("workdir"),
		Env:         a.StrMap("env"),
		ExpectExit:  a.Ints("expect_exit"),
		ReadOnlyCmd: a.Bool("read_only"),
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return NewExec(inst, e)
}

func newLogsFromArgs(pi provider.Instance, v cty.Value) (runbook.Action, error) {
	inst, err := instanceOf(pi, "docker_logs_check")
	if err != nil {
		return nil, err
	}
	a := argsOf(v, inst.Name()+" docker_logs_check")
	l := LogsCheck{
		Target:        targetArgs(a),
		Pattern:       a.Str("pattern"),
		CaseSensitive: a.Bool("case_sensitive"),
		Tail:          a.Int("tail"),
		MaxMatches:    a.Int("max_matches"),
	}
	switch since := a.Str("since"); since {
	case "run":
		l.SinceRunStart = true
	case "":
	default:
		if ts, terr := time.Parse(time.RFC3339, since); terr == nil {
			l.SinceTime = ts
		} else if d, derr := time.ParseDuration(since); derr == nil && d >= 0 {
			l.Since = d
		} else {
			a.Fail("since", fmt.Sprintf("want \"run\", a duration such as \"15m\" or an RFC 3339 time, got %q", since))
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return NewLogsCheck(inst, l)
}

func newInspectFromArgs(pi provider.Instance, v cty.Value) (*InspectAction, error) {
	inst, err := instanceOf(pi, "docker_inspect")
	if err != nil {
		return nil, err
	}
	a := argsOf(v, inst.Name()+" docker_inspect")
	i := Inspect{Target: targetArgs(a), Field: a.Str("field")}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return NewInspect(inst, i)
}
