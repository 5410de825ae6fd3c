package ssh

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Provider is the "ssh" provider type. The zero value is ready to use:
// &ssh.Provider{}.
type Provider struct {
	// Logger receives the instances' connection diagnostics (default:
	// discard).
	Logger *slog.Logger
}

var _ provider.Provider = (*Provider)(nil)

// Type returns "ssh".
func (*Provider) Type() string { return "ssh" }

// ConfigSchema returns the schema of a `provider "ssh"` block.
func (*Provider) ConfigSchema() provider.Schema { return ConfigSchema() }

// ConfigSchema is the schema of a `provider "ssh"` block; sshfake uses it
// too.
func ConfigSchema() provider.Schema {
	str := func(d string) provider.Attribute { return provider.Attribute{Type: cty.String, Description: d} }
	local := func(d string) provider.Attribute {
		return provider.Attribute{Type: cty.String, LocalPath: true, Description: d + " Relative: to the runbook file's directory."}
	}
	return provider.Schema{
		"host":                  {Type: cty.String, Required: true, Description: "Host name or address of the instance's host."},
		"port":                  {Type: cty.Number, Description: "SSH port (default 22)."},
		"user":                  str("Login user (default $USER)."),
		"private_key_file":      local("Private key file."),
		"private_key_files":     {Type: cty.List(cty.String), LocalPath: true, Description: "Private key files (relative: to the runbook file's directory)."},
		"passphrase":            {Type: cty.String, Sensitive: true, Description: "Passphrase of encrypted private keys."},
		"use_agent":             {Type: cty.Bool, Description: "Authenticate with the agent at SSH_AUTH_SOCK."},
		"known_hosts":           local("known_hosts file (default ~/.ssh/known_hosts)."),
		"known_hosts_files":     {Type: cty.List(cty.String), LocalPath: true, Description: "known_hosts files (relative: to the runbook file's directory)."},
		"trust_on_first_use":    {Type: cty.Bool, Description: "Accept and record the key of a host not in known_hosts (never a changed key). Default false."},
		"jump_host":             str("Bastion host every connection goes through."),
		"jump_port":             {Type: cty.Number, Description: "Bastion port (default 22)."},
		"jump_user":             str("Bastion user (default: user)."),
		"jump_private_key_file": local("Bastion private key (default: the instance's keys)."),
		"keepalive":             str("Keep-alive interval, e.g. \"15s\" (default 15s, \"0\" disables)."),
		"connect_timeout":       str("Dial and handshake timeout (default 10s)."),
	}
}

// Configure implements provider.Provider. It does not connect.
func (p *Provider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	cfg, err := DecodeConfig(name, config)
	if err != nil {
		return nil, err
	}
	cfg.Logger = p.Logger
	return New(name, cfg)
}

// DecodeConfig turns a provider block's value into a [Config].
func DecodeConfig(name string, v cty.Value) (Config, error) {
	a := ctyargs.Attrs{V: v, Where: "ssh." + name, Invalid: ErrInvalidConfig}
	cfg := Config{
		Host:            a.Str("host"),
		Port:            a.Int("port"),
		User:            a.Str("user"),
		PrivateKeyFiles: append(a.Strs("private_key_files"), nonEmpty(a.Str("private_key_file"))...),
		Passphrase:      a.Str("passphrase"),
		UseAgent:        a.Bool("use_agent"),
		KnownHostsFiles: append(nonEmpty(a.Str("known_hosts")), a.Strs("known_hosts_files")...),
		TrustOnFirstUse: a.Bool("trust_on_first_use"),
		KeepAlive:       a.Duration("keepalive"),
		ConnectTimeout:  a.Duration("connect_timeout"),
	}
	if a.IsSet("keepalive") && cfg.KeepAlive == 0 {
		cfg.KeepAlive = -1
	}
	if jh := a.Str("jump_host"); jh != "" {
		cfg.Jump = &JumpConfig{Host: jh, Port: a.Int("jump_port"), User: a.Str("jump_user"), PrivateKeyFiles: nonEmpty(a.Str("jump_private_key_file"))}
	}
	return cfg, a.Err()
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Actions returns ssh_exec and ssh_upload.
func (*Provider) Actions() map[string]provider.ActionType { return Actions() }

// Actions returns the action types of the provider; sshfake offers the
// same ones over its in-memory hosts.
func Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{"ssh_exec": execType(), "ssh_upload": uploadType()}
}

func execType() provider.ActionType {
	result := map[string]provider.Output{
		"stdout":          {Type: cty.String, Description: "Standard output (capped)."},
		"stderr":          {Type: cty.String, Description: "Standard error (capped)."},
		"exit_code":       {Type: cty.Number, Description: "Exit status."},
		"stdout_lines":    {Type: cty.List(cty.String), Description: "stdout split into lines."},
		"json":            {Type: cty.DynamicPseudoType, Description: "stdout parsed as JSON (parse_json = true)."},
		"truncated":       {Type: cty.Bool, Description: "Set when an output passed output_limit."},
		"hosts":           {Type: cty.DynamicPseudoType, Description: "Fan-out: per host, its outputs, status and the attempt that ran it."},
		"hosts_succeeded": {Type: cty.List(cty.String), Description: "Fan-out: hosts where the command succeeded, in this attempt or an earlier one."},
		"hosts_ran":       {Type: cty.List(cty.String), Description: "Fan-out: hosts that may carry the change: the command succeeded there or failed after connecting, in any attempt, and no compensation undid it (what the rollback undoes)."},
		"hosts_failed":    {Type: cty.List(cty.String), Description: "Fan-out: hosts where it failed in this attempt."},
		"hosts_skipped":   {Type: cty.List(cty.String), Description: "Fan-out: hosts not started after the batch failed."},
	}
	return provider.ActionType{
		Description: "Run a command (argv, quoted by the provider) or a script on the instance's host, or fanned out over hosts.",
		Args: provider.Schema{
			"command":             {Type: cty.List(cty.String), Description: "argv: program and arguments, each passed literally."},
			"script":              {Type: cty.String, Description: "Shell script (deliberate shell syntax)."},
			"sudo":                {Type: cty.Bool, Description: "Run through sudo -n."},
			"stdin":               {Type: cty.String, Description: "Standard input."},
			"env":                 {Type: cty.Map(cty.String), Description: "Environment variables."},
			"dir":                 {Type: cty.String, Description: "Working directory."},
			"timeout":             {Type: cty.String, Description: "Per-host timeout (\"30s\"): the remote command is killed when it passes."},
			"expected_exit_codes": {Type: cty.List(cty.Number), Description: "Statuses that count as success (default [0])."},
			"output_limit":        {Type: cty.Number, Description: "Cap of each captured stream in bytes (default 1 MiB)."},
			"parse_json":          {Type: cty.Bool, Description: "Parse stdout as JSON into the json output."},
			"read_only":           {Type: cty.Bool, Description: "The command changes nothing (a check): no rollback needed."},
			"hosts":               {Type: cty.List(cty.String), Description: "Fan out over these hosts with the instance's credentials."},
			"max_parallel":        {Type: cty.Number, Description: "Hosts at once (default 10); the first max_parallel start together."},
			"max_fail_percentage": {Type: cty.Number, Description: "Share of hosts allowed to fail (0-100, default 0)."},
			"rollback_command":    {Type: cty.List(cty.String), Description: "argv undoing the command on a host: natural rollback, run on every host that may carry the change (across attempts)."},
			"rollback_script":     {Type: cty.String, Description: "Script undoing the command on a host."},
		},
		Outputs:         result,
		NaturalRollback: true,
		New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			c, err := clientOf(inst, "ssh_exec")
			if err != nil {
				return nil, err
			}
			o, err := DecodeExecOptions(args)
			if err != nil {
				return nil, fmt.Errorf("%s ssh_exec: %w", inst.Name(), err)
			}
			return NewExec(c, o)
		},
		NewProbe: func(inst provider.Instance, args cty.Value) (runbook.Probe, error) {
			c, err := clientOf(inst, "ssh_exec")
			if err != nil {
				return nil, err
			}
			o, err := DecodeExecOptions(args)
			if err != nil {
				return nil, fmt.Errorf("%s ssh_exec: %w", inst.Name(), err)
			}
			if len(o.Hosts) > 0 {
				return nil, fmt.Errorf("%w: %s ssh_exec: a check runs on one host: use provider = ssh.<name> of that host instead of hosts", ErrInvalidConfig, inst.Name())
			}
			e, err := NewExec(c, o)
			if err != nil {
				return nil, err
			}
			return e.Probe(), nil
		},
	}
}

// Probe returns the command as a gate probe, on the instance's host: the
// sample's value is the exit status; stdout, stderr, stdout_lines (and
// json) are its outputs.
// A non-zero status is not an error: the check's condition decides.
func (e *Exec) Probe() runbook.Probe {
	return runbook.ProbeFunc(func(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
		o := *e
		o.opts.ExpectedExitCodes = nil
		for i := 0; i < 256; i++ {
			o.opts.ExpectedExitCodes = append(o.opts.ExpectedExitCodes, i)
		}
		out, err := o.runOne(ctx, env, "", false)
		if err != nil {
			return runbook.Sample{}, err
		}
		return runbook.Sample{Value: out["exit_code"], Outputs: out}, nil
	})
}

func uploadType() provider.ActionType {
	return provider.ActionType{
		Description: "Write a file on the host (content or a local source), keeping the previous content for restore_on_rollback.",
		Args: provider.Schema{
			"path":                {Type: cty.String, Required: true, Description: "Remote path."},
			"content":             {Type: cty.String, Description: "New content."},
			"source":              {Type: cty.String, LocalPath: true, Description: "Local file to upload (relative: to the runbook file's directory)."},
			"mode":                {Type: cty.String, Description: "Octal mode, e.g. \"0644\"."},
			"owner":               {Type: cty.String, Description: "user or user:group."},
			"sudo":                {Type: cty.Bool, Description: "Write through sudo -n."},
			"host":                {Type: cty.String, Description: "Another host than the instance's."},
			"sensitive":           {Type: cty.Bool, Description: "The content is secret (the previous content output becomes sensitive)."},
			"restore_on_rollback": {Type: cty.Bool, Description: "Rollback restores the previous content (or removes a new file)."},
		},
		Outputs: map[string]provider.Output{
			"path":             {Type: cty.String},
			"previous_exists":  {Type: cty.Bool},
			"previous_content": {Type: cty.String, Sensitive: false, Description: "Previous content, base64 (sensitive when sensitive = true)."},
			"previous_mode":    {Type: cty.String},
			"previous_owner":   {Type: cty.String, Description: "Previous user:group, restored by the rollback."},
			"size":             {Type: cty.Number},
			"sha256":           {Type: cty.String},
			"changed":          {Type: cty.Bool},
		},
		NaturalRollback: true,
		New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			c, err := clientOf(inst, "ssh_upload")
			if err != nil {
				return nil, err
			}
			o, err := DecodeUploadOptions(args)
			if err != nil {
				return nil, fmt.Errorf("%s ssh_upload: %w", inst.Name(), err)
			}
			return NewUpload(c, o)
		},
	}
}

func clientOf(inst provider.Instance, action string) (Client, error) {
	if inst == nil {
		return nil, fmt.Errorf("%w: %s needs provider = ssh.<name>", ErrInvalidConfig, action)
	}
	c, ok := inst.(Client)
	if !ok {
		return nil, fmt.Errorf("%w: %s needs an ssh provider instance, got %s", ErrInvalidConfig, action, inst.Name())
	}
	return c, nil
}

// DecodeExecOptions turns ssh_exec arguments into [ExecOptions].
func DecodeExecOptions(v cty.Value) (ExecOptions, error) {
	a := ctyargs.Attrs{V: v, Where: "ssh_exec", Invalid: ErrInvalidConfig}
	o := ExecOptions{
		Command:           a.Strs("command"),
		Script:            a.Str("script"),
		Sudo:              a.Bool("sudo"),
		Stdin:             a.Str("stdin"),
		Env:               a.StrMap("env"),
		Dir:               a.Str("dir"),
		Timeout:           a.Duration("timeout"),
		ExpectedExitCodes: a.Ints("expected_exit_codes"),
		OutputLimit:       a.Int("output_limit"),
		ParseJSON:         a.Bool("parse_json"),
		ReadOnly:          a.Bool("read_only"),
		Hosts:             a.Strs("hosts"),
		MaxParallel:       a.Int("max_parallel"),
		MaxFailPercentage: a.Float("max_fail_percentage"),
		RollbackCommand:   a.Strs("rollback_command"),
		RollbackScript:    a.Str("rollback_script"),
	}
	return o, a.Err()
}

// DecodeUploadOptions turns ssh_upload arguments into [UploadOptions].
func DecodeUploadOptions(v cty.Value) (UploadOptions, error) {
	a := ctyargs.Attrs{V: v, Where: "ssh_upload", Invalid: ErrInvalidConfig}
	o := UploadOptions{
		Path:              a.Str("path"),
		Content:           a.Str("content"),
		Source:            a.Str("source"),
		Owner:             a.Str("owner"),
		Sudo:              a.Bool("sudo"),
		Host:              a.Str("host"),
		Sensitive:         a.Bool("sensitive"),
		RestoreOnRollback: a.Bool("restore_on_rollback"),
	}
	if ms := a.Str("mode"); ms != "" {
		m, err := strconv.ParseUint(ms, 8, 32)
		if err != nil || m > 0o7777 {
			a.Fail("mode", fmt.Sprintf("%q is not an octal mode such as \"0644\"", ms))
		}
		o.Mode = fs.FileMode(m) & fs.ModePerm
	}
	return o, a.Err()
}
