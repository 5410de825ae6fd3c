package ssh

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/handrail-dev/handrail/runbook"
)

// MaxRestoreSize is the largest previous content an upload keeps for its
// rollback (4 MiB): the content travels in the step's outputs.
const MaxRestoreSize = 4 << 20

// UploadOptions are the arguments of an ssh_upload step.
type UploadOptions struct {
	// Path is the remote file to write.
	Path string
	// Content is the new content; Source, a local file to read it from.
	// Exactly one must be given.
	Content string
	Source  string
	// Mode is the file mode (0: keep the existing one, 0644 for a new
	// file).
	Mode fs.FileMode
	// Owner is "user" or "user:group" (needs sudo unless it is you).
	Owner string
	// Sudo writes through sudo.
	Sudo bool
	// Host picks one of the instance's hosts ("" for its own).
	Host string
	// Sensitive marks the content secret: the previous content output is
	// then sensitive too.
	Sensitive bool
	// RestoreOnRollback makes the step's natural rollback put the previous
	// content (and mode) back, or remove the file if there was none.
	RestoreOnRollback bool
}

// Upload is the ssh_upload action.
type Upload struct {
	c    Client
	opts UploadOptions
}

// NewUpload returns an ssh_upload action on c after checking opts.
func NewUpload(c Client, opts UploadOptions) (*Upload, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: ssh_upload needs a provider instance (provider = ssh.<name>)", ErrInvalidConfig)
	}
	if opts.Path == "" {
		return nil, fmt.Errorf("%w: %s ssh_upload: path is required", ErrInvalidConfig, c.Name())
	}
	if opts.Content != "" && opts.Source != "" {
		return nil, fmt.Errorf("%w: %s ssh_upload: give content or source, not both", ErrInvalidConfig, c.Name())
	}
	if opts.Mode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("%w: %s ssh_upload: mode %o has bits beyond permissions", ErrInvalidConfig, c.Name(), opts.Mode)
	}
	return &Upload{c: c, opts: opts}, nil
}

// Describe implements runbook.Describer.
func (u *Upload) Describe() runbook.Description {
	return runbook.Description{Provider: u.c.Name(), Action: "ssh_upload"}
}

// NaturalRollback implements runbook.NaturalRollback: with
// RestoreOnRollback, put the previous content back.
func (u *Upload) NaturalRollback() runbook.Rollback {
	if !u.opts.RestoreOnRollback {
		return nil
	}
	return runbook.RollbackFunc(u.restore)
}

// Do implements runbook.Action: capture the previous file, write the new
// one.
func (u *Upload) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	content := []byte(u.opts.Content)
	if u.opts.Source != "" {
		b, err := os.ReadFile(u.opts.Source)
		if err != nil {
			return nil, runbook.Permanent(fmt.Errorf("%s ssh_upload %s: source: %w", u.c.Name(), u.opts.Path, err))
		}
		content = b
	}
	// Content holding a registered secret (a sensitive variable) is
	// sensitive even without `sensitive = true`.
	sensitive := u.opts.Sensitive || (len(content) > 0 && env.Redact(string(content)) != string(content))
	if sensitive {
		env.AddSecret(string(content))
	}
	out := runbook.Outputs{
		"path":   u.opts.Path,
		"size":   len(content),
		"sha256": sha(content),
	}
	// An earlier attempt (or process) of this step that may have written
	// the file already checkpointed what was there before: that is the
	// previous file, not what the world shows now.
	if prior := env.Checkpointed(); u.opts.RestoreOnRollback && prior["previous_exists"] != nil {
		for _, k := range uploadCheckpointKeys {
			out[k] = prior[k]
		}
		prev, err := previousContent(prior)
		out["changed"] = err != nil || prior["previous_exists"] != true || string(prev) != string(content)
	} else {
		pf, err := u.c.ReadFile(ctx, u.opts.Host, u.opts.Path, u.opts.Sudo)
		prev, mode, existed := pf.Content, pf.Mode, pf.Exists
		if err != nil {
			return nil, fmt.Errorf("%s ssh_upload: reading the previous %s: %w", u.c.Name(), u.opts.Path, err)
		}
		if u.opts.RestoreOnRollback && len(prev) > MaxRestoreSize {
			return nil, runbook.Permanent(fmt.Errorf("%s ssh_upload: previous %s is %d bytes, more than the %d kept for restore_on_rollback", u.c.Name(), u.opts.Path, len(prev), MaxRestoreSize))
		}
		out["previous_exists"], out["previous_mode"], out["previous_owner"] = existed, "", pf.Owner
		out["changed"] = !existed || string(prev) != string(content)
		enc := base64.StdEncoding.EncodeToString(prev)
		if sensitive {
			out["previous_content"] = env.AddSecret(enc)
		} else {
			out["previous_content"] = enc
		}
		if existed {
			out["previous_mode"] = fmt.Sprintf("%04o", mode.Perm())
		}
		if u.opts.RestoreOnRollback {
			cp := runbook.Outputs{}
			for _, k := range uploadCheckpointKeys {
				cp[k] = out[k]
			}
			if err := env.Checkpoint(ctx, cp); err != nil {
				return nil, fmt.Errorf("%s ssh_upload %s: record the previous file before writing (nothing was changed): %w", u.c.Name(), u.opts.Path, err)
			}
		}
	}
	err := u.c.WriteFile(ctx, u.opts.Host, File{Path: u.opts.Path, Content: content, Mode: u.opts.Mode, Owner: u.opts.Owner, Sudo: u.opts.Sudo})
	if err != nil {
		return nil, fmt.Errorf("%s ssh_upload: %w", u.c.Name(), err)
	}
	return out, nil
}

// uploadCheckpointKeys are what ssh_upload checkpoints before writing:
// all its rollback needs.
var uploadCheckpointKeys = []string{"previous_exists", "previous_mode", "previous_owner", "previous_content"}

// previousContent decodes the previous_content output.
func previousContent(o runbook.Outputs) ([]byte, error) {
	var enc string
	switch v := o["previous_content"].(type) {
	case string:
		enc = v
	case runbook.Secret:
		enc = v.Reveal()
	default:
		return nil, fmt.Errorf("previous_content missing from the outputs (a journal that dropped a sensitive output cannot restore it)")
	}
	if enc == "(sensitive)" {
		return nil, fmt.Errorf("previous_content was sensitive and the journal does not keep it: restore the file by hand")
	}
	prev, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("previous_content: %w", err)
	}
	return prev, nil
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// restore puts the previous content back, from the step's outputs.
func (u *Upload) restore(ctx context.Context, env *runbook.Env) error {
	self := env.Self()
	if self == nil || self["previous_exists"] == nil {
		// No outputs and no checkpoint: the step failed before it could
		// record the previous file, so before it wrote anything.
		env.Emit("ssh_upload: nothing to restore", map[string]string{"path": u.opts.Path, "reason": "the step recorded no previous file, so it wrote nothing"})
		return nil
	}
	existed, _ := self["previous_exists"].(bool)
	if !existed {
		return u.c.RemoveFile(ctx, u.opts.Host, u.opts.Path, u.opts.Sudo)
	}
	prev, err := previousContent(self)
	if err != nil {
		return fmt.Errorf("%s ssh_upload %s: %w", u.c.Name(), u.opts.Path, err)
	}
	var mode fs.FileMode
	if ms, _ := self["previous_mode"].(string); ms != "" {
		m, err := strconv.ParseUint(ms, 8, 32)
		if err != nil {
			return fmt.Errorf("%s ssh_upload %s: previous_mode %q: %w", u.c.Name(), u.opts.Path, ms, err)
		}
		mode = fs.FileMode(m)
	}
	owner, _ := self["previous_owner"].(string)
	return u.c.WriteFile(ctx, u.opts.Host, File{Path: u.opts.Path, Content: prev, Mode: mode, Owner: owner, Sudo: u.opts.Sudo})
}
