package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/runbook"
)

// rewrite wraps a provider so that the arguments of some actions are
// adjusted before the action is built.
type rewrite struct {
	provider.Provider
	fix map[string]func(cty.Value) cty.Value
}

func (r rewrite) Actions() map[string]provider.ActionType {
	acts := r.Provider.Actions()
	for name, fix := range r.fix {
		at, ok := acts[name]
		if !ok || at.New == nil {
			continue
		}
		next, fix := at.New, fix
		at.New = func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			return next(inst, fix(args))
		}
		acts[name] = at
	}
	return acts
}

// relativeTo returns a fix that reads a relative path argument from the
// runbook's folder when it does not exist relative to the working
// directory (`handrail apply --sandbox examples/release-2/release-2.hcl`
// finds examples/release-2/migrations).
func (w *World) relativeTo(arg string) func(cty.Value) cty.Value {
	return func(args cty.Value) cty.Value {
		v, ok := attr(args, arg)
		if !ok || w.Dir == "" || !v.Type().Equals(cty.String) {
			return args
		}
		p := v.AsString()
		if p == "" || filepath.IsAbs(p) {
			return args
		}
		if _, err := os.Stat(p); err == nil {
			return args
		}
		return with(args, arg, cty.StringVal(filepath.Join(w.Dir, p)))
	}
}

// uploadFromDisk makes an ssh_upload whose source the rehearsal wrote on
// its disk (an s3_download, a fake pg_dump) upload that content: the
// ssh action reads its source from the machine's disk, where a rehearsal
// writes nothing. A source the rehearsal did not write is read from the
// machine's disk, as in a real run. Content that a cty string cannot
// carry unchanged (not UTF-8, or not in normal form C) is left to the
// source, which then is not found.
func (w *World) uploadFromDisk(args cty.Value) cty.Value {
	v, ok := attr(args, "source")
	if !ok || !v.Type().Equals(cty.String) {
		return args
	}
	data, ok := w.Disk.written(v.AsString())
	if !ok {
		return args
	}
	content := cty.StringVal(string(data))
	if content.AsString() != string(data) {
		return args
	}
	return with(with(args, "source", cty.NullVal(cty.String)), "content", content)
}

func attr(args cty.Value, name string) (cty.Value, bool) {
	if args.IsNull() || !args.IsWhollyKnown() || !args.Type().IsObjectType() || !args.Type().HasAttribute(name) {
		return cty.NilVal, false
	}
	v := args.GetAttr(name)
	if v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}

func with(args cty.Value, name string, v cty.Value) cty.Value {
	m := args.AsValueMap()
	m[name] = v
	return cty.ObjectVal(m)
}

// sshProvider wraps the ssh fake's provider: its instances run scripts
// command by command, emulate the aws CLI's S3 commands against the fake
// S3, and can be named by docker's `via` (they dial nothing: the fake
// engine needs no connection).
type sshProvider struct {
	provider.Provider
	w *World
}

func (p sshProvider) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	inst, err := p.Provider.Configure(ctx, name, config)
	if err != nil {
		return nil, err
	}
	fi, ok := inst.(*sshfake.Instance)
	if !ok {
		return inst, nil
	}
	cfg, err := ssh.DecodeConfig(name, config)
	if err != nil {
		return nil, err
	}
	return &sshInstance{Instance: fi, w: p.w, host: cfg.Host}, nil
}

type sshInstance struct {
	*sshfake.Instance
	w    *World
	host string
}

var (
	_ ssh.Client             = (*sshInstance)(nil)
	_ provider.Dialer        = (*sshInstance)(nil)
	_ provider.CommandRunner = (*sshInstance)(nil)
)

// DialContext refuses: the sandbox has no network. The fake docker engine
// never dials.
func (s *sshInstance) DialContext(_ context.Context, network, addr string) (net.Conn, error) {
	return nil, fmt.Errorf("sandbox: %s cannot dial %s %s: the sandbox has no network", s.Name(), network, addr)
}

// RunCommand implements provider.CommandRunner through Run.
func (s *sshInstance) RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return s.Run(ctx, "", ssh.Command{Argv: argv, Stdin: stdin}, stdout, stderr)
}

// Run runs a script as its `&&`, `;` or newline separated commands, each
// as argv, stopping at the first that fails; `aws s3 ...` commands then act
// on the fake S3.
func (s *sshInstance) Run(ctx context.Context, host string, cmd ssh.Command, stdout, stderr io.Writer) (int, error) {
	parts := [][]string{cmd.Argv}
	if cmd.Script != "" {
		parts = splitScript(cmd.Script)
	}
	for _, argv := range parts {
		c := cmd
		c.Script, c.Argv = "", argv
		exit, err := s.Instance.Run(ctx, host, c, stdout, stderr)
		if err != nil || exit != 0 {
			return exit, err
		}
		if len(argv) >= 2 && path.Base(argv[0]) == "aws" && argv[1] == "s3" {
			if err := s.awsS3(host, cmd.Dir, argv[2:]); err != nil {
				if stderr != nil {
					fmt.Fprintln(stderr, err)
				}
				return 1, nil
			}
		}
	}
	return 0, nil
}

func splitScript(script string) [][]string {
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		for _, seg := range strings.Split(line, ";") {
			for _, part := range strings.Split(seg, "&&") {
				if f := strings.Fields(part); len(f) > 0 {
					out = append(out, f)
				}
			}
		}
	}
	return out
}

// awsS3 applies `aws s3 cp FILE s3://b/prefix/`, `aws s3 sync DIR
// s3://b/prefix/` and `aws s3 rm [--recursive] s3://b/key` to the fake S3.
// A copied file's content is the host's file, or a placeholder.
func (s *sshInstance) awsS3(host, dir string, args []string) error {
	var plain []string
	recursive := false
	for _, a := range args {
		switch {
		case a == "--recursive":
			recursive = true
		case strings.HasPrefix(a, "--"):
		default:
			plain = append(plain, a)
		}
	}
	if len(plain) == 0 {
		return fmt.Errorf("aws s3: missing command")
	}
	now := s.w.clock.Now()
	switch plain[0] {
	case "cp", "sync":
		if len(plain) != 3 {
			return fmt.Errorf("aws s3 %s: want SOURCE s3://BUCKET/KEY", plain[0])
		}
		bucket, key, ok := s3URL(plain[2])
		if !ok {
			return fmt.Errorf("aws s3 %s: %s is not an s3:// URL", plain[0], plain[2])
		}
		src := plain[1]
		if !path.IsAbs(src) && dir != "" {
			src = path.Join(dir, src)
		}
		if plain[0] == "sync" {
			s.w.AWS.PutObject(bucket, strings.TrimSuffix(key, "/")+"/index.js", []byte("// "+src+" (sandbox)\n"), now)
			return nil
		}
		if key == "" || strings.HasSuffix(key, "/") {
			key += path.Base(src)
		}
		data := []byte("sandbox copy of " + src + "\n")
		if h := s.w.SSH.Host(s.target(host)); h != nil && h.Exists(src) {
			data = []byte(h.Content(src))
		}
		s.w.AWS.PutObject(bucket, key, data, now)
		return nil
	case "rm":
		if len(plain) != 2 {
			return fmt.Errorf("aws s3 rm: want s3://BUCKET/KEY")
		}
		bucket, key, ok := s3URL(plain[1])
		if !ok {
			return fmt.Errorf("aws s3 rm: %s is not an s3:// URL", plain[1])
		}
		if !recursive {
			for _, k := range s.w.AWS.Keys(bucket) {
				if k == key {
					s.w.AWS.DeleteAll(bucket, key)
				}
			}
			return nil
		}
		s.w.AWS.DeleteAll(bucket, key)
		return nil
	}
	return nil
}

// target returns the host a command of this instance runs on.
func (s *sshInstance) target(host string) string {
	if host != "" {
		return host
	}
	return s.host
}

func s3URL(u string) (bucket, key string, ok bool) {
	rest, ok := strings.CutPrefix(u, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, key, _ = strings.Cut(rest, "/")
	return bucket, key, bucket != ""
}
