package ssh

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/handrail-dev/handrail/provider"
)

var _ provider.Preflighter = (*Instance)(nil)

// ErrPreflight is wrapped by the errors of [Instance.Preflight].
var ErrPreflight = errors.New("ssh: not ready to connect")

// Preflight checks, without connecting, what the instance needs on this
// machine before a run starts: every private key file (the bastion's too)
// readable and decryptable, the agent reachable when use_agent is set, some
// credential at all, and every known_hosts file readable and well formed (a
// missing one is fine only with trust_on_first_use, which creates it). It
// returns every problem found, joined; each wraps [ErrPreflight] and names
// the file and what to do.
func (in *Instance) Preflight(ctx context.Context) error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: "+format, append([]any{ErrPreflight, in.name}, args...)...))
	}
	keys := append([]string(nil), in.cfg.PrivateKeyFiles...)
	if in.cfg.Jump != nil {
		for _, k := range in.cfg.Jump.PrivateKeyFiles {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := readKey(k, in.cfg.Passphrase); err != nil {
			fail("%w", err)
		}
	}
	sock := os.Getenv("SSH_AUTH_SOCK")
	switch {
	case in.cfg.UseAgent && sock == "":
		fail("use_agent is set but SSH_AUTH_SOCK is empty: start ssh-agent and add the key, or give private_key_file")
	case in.cfg.UseAgent:
		if _, err := os.Stat(sock); err != nil {
			fail("use_agent is set but the agent socket SSH_AUTH_SOCK=%s cannot be reached (%v): start ssh-agent, or give private_key_file", sock, err)
		}
	case len(in.cfg.PrivateKeyFiles) == 0 && sock == "":
		fail("no credentials: set private_key_file, or use_agent with a running ssh-agent (SSH_AUTH_SOCK)")
	}
	var present []string
	for _, f := range in.cfg.KnownHostsFiles {
		_, err := os.ReadFile(f)
		switch {
		case errors.Is(err, os.ErrNotExist) && in.cfg.TrustOnFirstUse:
			continue // created, and filled, on first use
		case errors.Is(err, os.ErrNotExist):
			fail("known_hosts file %s does not exist: add the hosts' keys (ssh-keyscan HOST >> %s, after checking their fingerprints), give known_hosts, or set trust_on_first_use = true", f, f)
			continue
		case err != nil:
			fail("known_hosts file %s cannot be read: %v", f, err)
			continue
		}
		present = append(present, f)
	}
	if len(present) > 0 {
		if _, err := knownhosts.New(present...); err != nil {
			fail("known_hosts: %v", err)
		}
	}
	return errors.Join(errs...)
}
