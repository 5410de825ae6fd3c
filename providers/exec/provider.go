package exec

import (
	"context"
	"fmt"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Provider is the "exec" provider type. The zero value is ready to use:
// &exec.Provider{}.
type Provider struct{}

var _ provider.Provider = (*Provider)(nil)

// Type returns "exec".
func (*Provider) Type() string { return "exec" }

// ConfigSchema returns the schema of a `provider "exec"` block.
func (*Provider) ConfigSchema() provider.Schema { return ConfigSchema() }

// ConfigSchema is the schema of a `provider "exec"` block; execfake uses
// it too.
func ConfigSchema() provider.Schema {
	return provider.Schema{
		"dir":        {Type: cty.String, LocalPath: true, DefaultsToRunbookDir: true, Description: "Default working directory of the commands (relative: to the runbook file's directory). Left out: the runbook file's directory; a plan built in Go runs in Handrail's working directory."},
		"env":        {Type: cty.Map(cty.String), Description: "Variables added to every command."},
		"clean_env":  {Type: cty.Bool, Description: "Start commands with only env, PATH and HOME."},
		"kill_grace": {Type: cty.String, Description: "Time between SIGTERM and SIGKILL when a command is stopped (default 5s)."},
	}
}

// DecodeConfig turns a provider block's value into a [Config].
func DecodeConfig(name string, v cty.Value) (Config, error) {
	a := ctyargs.Attrs{V: v, Where: "exec." + name, Invalid: ErrInvalid}
	cfg := Config{Dir: a.Str("dir"), Env: a.StrMap("env"), CleanEnv: a.Bool("clean_env"), KillGrace: a.Duration("kill_grace")}
	return cfg, a.Err()
}

// Configure implements provider.Provider.
func (*Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	cfg, err := DecodeConfig(name, config)
	if err != nil {
		return nil, err
	}
	return New(name, cfg)
}

// Actions returns local_exec and k6_run.
func (*Provider) Actions() map[string]provider.ActionType { return Actions() }

// Actions returns the action types of the provider; execfake offers the
// same ones.
func Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{"local_exec": runType(), "k6_run": k6Type()}
}

func runnerOf(inst provider.Instance, action string) (Runner, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: %s needs provider = exec.<name>", ErrInvalid, action)
	}
	r, ok := inst.(Runner)
	if !ok {
		return nil, fmt.Errorf("%w: %s needs an exec provider instance, got %s", ErrInvalid, action, inst.Name())
	}
	return r, nil
}

var commonOutputs = map[string]provider.Output{
	"stdout":       {Type: cty.String, Description: "Standard output (capped)."},
	"stderr":       {Type: cty.String, Description: "Standard error (capped)."},
	"exit_code":    {Type: cty.Number, Description: "Exit status."},
	"stdout_lines": {Type: cty.List(cty.String), Description: "stdout split into lines."},
	"duration_ms":  {Type: cty.Number, Description: "How long the command ran."},
	"truncated":    {Type: cty.Bool, Description: "Set when an output passed output_limit."},
}

func runType() provider.ActionType {
	outs := map[string]provider.Output{"json": {Type: cty.DynamicPseudoType, Description: "stdout parsed as JSON (parse_json = true)."}}
	for k, v := range commonOutputs {
		outs[k] = v
	}
	return provider.ActionType{
		Description: "Run a local program (argv, no shell).",
		Args: provider.Schema{
			"command":             {Type: cty.List(cty.String), Required: true, Description: "argv."},
			"env":                 {Type: cty.Map(cty.String), Description: "Environment variables."},
			"dir":                 {Type: cty.String, LocalPath: true, Description: "Working directory (relative: to the runbook file's directory). Left out: the provider's dir, whose default is the runbook file's directory."},
			"stdin":               {Type: cty.String, Description: "Standard input."},
			"timeout":             {Type: cty.String, Description: "Timeout (\"5m\"): the process group is killed when it passes."},
			"expected_exit_codes": {Type: cty.List(cty.Number), Description: "Statuses that count as success (default [0])."},
			"output_limit":        {Type: cty.Number, Description: "Cap of each captured stream in bytes (default 1 MiB)."},
			"parse_json":          {Type: cty.Bool, Description: "Parse stdout as JSON into the json output."},
			"read_only":           {Type: cty.Bool, Description: "The command changes nothing: no rollback needed."},
			"rollback_command":    {Type: cty.List(cty.String), Description: "argv undoing the command (natural rollback)."},
		},
		Outputs:         outs,
		NaturalRollback: true,
		New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			r, err := runnerOf(inst, "local_exec")
			if err != nil {
				return nil, err
			}
			a := ctyargs.Attrs{V: args, Where: inst.Name() + " local_exec", Invalid: ErrInvalid}
			o := RunOptions{
				Command:           a.Strs("command"),
				Env:               a.StrMap("env"),
				Dir:               a.Str("dir"),
				Stdin:             a.Str("stdin"),
				Timeout:           a.Duration("timeout"),
				ExpectedExitCodes: a.Ints("expected_exit_codes"),
				OutputLimit:       a.Int("output_limit"),
				ParseJSON:         a.Bool("parse_json"),
				ReadOnly:          a.Bool("read_only"),
				RollbackCommand:   a.Strs("rollback_command"),
			}
			if a.Err() != nil {
				return nil, a.Err()
			}
			return NewRun(r, o)
		},
	}
}

func k6Type() provider.ActionType {
	outs := map[string]provider.Output{
		"metrics":               {Type: cty.DynamicPseudoType, Description: "Per metric, its values (avg, p(95), rate, count...)."},
		"thresholds":            {Type: cty.DynamicPseudoType, Description: "Per metric, per threshold expression: true when it passed."},
		"thresholds_failed":     {Type: cty.List(cty.String), Description: "Failed thresholds as \"metric: expression\"."},
		"thresholds_passed":     {Type: cty.Bool, Description: "Every threshold passed."},
		"http_req_duration_p95": {Type: cty.Number, Description: "p(95) of http_req_duration, in ms."},
		"http_req_failed_rate":  {Type: cty.Number, Description: "Rate of failed requests (0-1)."},
		"checks_rate":           {Type: cty.Number, Description: "Rate of passed checks (0-1)."},
		"http_reqs":             {Type: cty.Number, Description: "Number of requests."},
	}
	for k, v := range commonOutputs {
		outs[k] = v
	}
	return provider.ActionType{
		Description: "Run a k6 script (the k6 binary, never linked) and expose its thresholds and metrics; a failed threshold fails the step.",
		Args: provider.Schema{
			"script":       {Type: cty.String, Required: true, Description: "The k6 script."},
			"binary":       {Type: cty.String, Description: "k6 program (default \"k6\" on PATH)."},
			"args":         {Type: cty.List(cty.String), Description: "Extra arguments of k6 run."},
			"env":          {Type: cty.Map(cty.String), Description: "Environment variables (k6 reads __ENV)."},
			"dir":          {Type: cty.String, LocalPath: true, Description: "Working directory (relative: to the runbook file's directory). Left out: the provider's dir, whose default is the runbook file's directory."},
			"timeout":      {Type: cty.String, Description: "Timeout of the run."},
			"output_limit": {Type: cty.Number, Description: "Cap of each captured stream in bytes."},
		},
		Outputs:  outs,
		ReadOnly: true,
		New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			r, err := runnerOf(inst, "k6_run")
			if err != nil {
				return nil, err
			}
			a := ctyargs.Attrs{V: args, Where: inst.Name() + " k6_run", Invalid: ErrInvalid}
			o := K6Options{
				Script:      a.Str("script"),
				Binary:      a.Str("binary"),
				Args:        a.Strs("args"),
				Env:         a.StrMap("env"),
				Dir:         a.Str("dir"),
				Timeout:     a.Duration("timeout"),
				OutputLimit: a.Int("output_limit"),
			}
			if a.Err() != nil {
				return nil, a.Err()
			}
			return NewK6(r, o)
		},
	}
}
