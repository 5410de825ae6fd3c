package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/console"
	"github.com/handrail-dev/handrail/runbook"
)

// uiFlags configure the release console (apply -ui, serve).
type uiFlags struct {
	addr         string
	users        string
	trustHeader  string
	groupsHeader string
	insecure     bool
	tlsCert      string
	tlsKey       string
	linkKey      string
	links        bool
	baseURL      string
}

// register adds the console's flags; prefix is "ui-" for apply, "" for
// serve (where -addr is the console's address).
func (u *uiFlags) register(fs *flag.FlagSet, prefix string) {
	if prefix == "" {
		fs.StringVar(&u.addr, "addr", "127.0.0.1:8080", "address of the console (loopback unless sign-in is configured)")
	} else {
		fs.StringVar(&u.addr, "ui", "", "serve a live console of the run at this address (e.g. 127.0.0.1:8080)")
	}
	fs.StringVar(&u.users, prefix+"users", "", "users file for sign-in: name:bcrypt-hash[:groups] or name:sha256:token-hash[:groups] per line")
	fs.StringVar(&u.trustHeader, prefix+"trust-header", "", "trust this header (e.g. X-Forwarded-User) from a reverse proxy on loopback as the signed-in user")
	fs.StringVar(&u.groupsHeader, prefix+"trust-groups-header", "", "with -"+prefix+"trust-header: the header carrying the user's groups (comma-separated)")
	fs.BoolVar(&u.insecure, prefix+"insecure", false, "accept approvals over plain HTTP from other machines (not recommended)")
	fs.StringVar(&u.tlsCert, prefix+"tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&u.tlsKey, prefix+"tls-key", "", "the certificate's private key (PEM)")
	fs.StringVar(&u.linkKey, prefix+"link-key", "", "file holding the key that signs approval links (default: a new key per process)")
	fs.StringVar(&u.baseURL, prefix+"url", "", "the console's address as approvers reach it, for signed links")
	if prefix != "" {
		fs.BoolVar(&u.links, prefix+"links", false, "print a signed approval link per named approver when an approval gate asks")
	}
}

func (u *uiFlags) options(red *runbook.Redactor, logOut io.Writer) (console.Options, error) {
	opts := console.Options{Addr: u.addr, TrustHeader: u.trustHeader, TrustGroupsHeader: u.groupsHeader, Insecure: u.insecure,
		TLSCert: u.tlsCert, TLSKey: u.tlsKey, BaseURL: u.baseURL, Redactor: red,
		Logger: slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if u.users != "" {
		users, err := console.LoadUsers(u.users)
		if err != nil {
			return opts, err
		}
		opts.Auth = users
	}
	if u.linkKey != "" {
		b, err := os.ReadFile(u.linkKey)
		if err != nil {
			return opts, fmt.Errorf("link key: %w", err)
		}
		key := strings.TrimSpace(string(b))
		if k, err := hex.DecodeString(key); err == nil && len(k) >= 16 {
			opts.LinkKey = k
		} else if len(key) >= 16 {
			opts.LinkKey = []byte(key)
		} else {
			return opts, fmt.Errorf("link key %s: want at least 16 bytes (e.g. 'openssl rand -hex 32 > %s')", u.linkKey, u.linkKey)
		}
		red.Add(key)
	}
	return opts, nil
}

// startUI serves the live console of the run ex is about to execute: its
// observer feeds the page, and its approver becomes a broker that asks the
// terminal and takes answers from the console and signed links at once.
func (a *app) startUI(ctx context.Context, uf *uiFlags, plan *runbook.Plan, red *runbook.Redactor, ex *runbook.Executor) (stop func(), ok bool) {
	if uf.addr == "" {
		return func() {}, true
	}
	opts, err := uf.options(red, a.stderr)
	if err != nil {
		a.errorf("%v", err)
		return nil, false
	}
	if uf.links {
		opts.Links = a.stderr
	}
	srv, err := console.New(opts)
	if err != nil {
		a.errorf("%v", err)
		return nil, false
	}
	if err := srv.Start(ctx); err != nil {
		a.errorf("%v", err)
		return nil, false
	}
	b := srv.Broker()
	b.Next = ex.Approver
	ex.Approver = b
	ex.Observer = runbook.MultiObserver{srv.Watch(plan), ex.Observer}
	fmt.Fprintf(a.stderr, "Console: %s\n", srv.BaseURL())
	return func() {
		// Let open pages receive the final state before the process ends.
		time.Sleep(300 * time.Millisecond)
		_ = srv.Close()
	}, true
}

func (a *app) cmdServe(ctx context.Context, args []string) int {
	fs := newFlagSet("serve", a.stderr, "serve [-state-dir D | -journal URL] [-addr 127.0.0.1:8080] [-users FILE] [-tls-cert F -tls-key F]")
	var sf stateFlags
	sf.register(fs)
	var uf uiFlags
	uf.register(fs, "")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return exitInvalid
	}
	if len(pos) != 0 {
		a.errorf("serve takes no arguments: it serves every run of the state directory (-state-dir) or journal (-journal)")
		return exitInvalid
	}
	st, closeStore, err := a.openStore(ctx, sf, "")
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	defer closeStore()
	red := runbook.NewRedactor()
	opts, err := uf.options(red, a.stderr)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	opts.Store = st
	opts.PlanFor = a.planForRun
	opts.Report = func(ctx context.Context, w io.Writer, recs []runbook.Record) error {
		return writeReport(w, recs, a.planForRun(ctx, recs))
	}
	srv, err := console.New(opts)
	if err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := srv.Start(sctx); err != nil {
		a.errorf("%v", err)
		return exitInvalid
	}
	fmt.Fprintf(a.stdout, "Serving runs at %s (Ctrl-C to stop)\n", srv.BaseURL())
	select {
	case <-ctx.Done():
	case <-a.signals:
	}
	_ = srv.Close()
	return exitOK
}
