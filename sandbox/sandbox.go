package sandbox

import (
	"context"
	"errors"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/hcl"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/aws/awsfake"
	dockerprov "github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/docker/dockerfake"
	"github.com/handrail-dev/handrail/providers/email/emailfake"
	"github.com/handrail-dev/handrail/providers/exec/execfake"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/http/httpfake"
	"github.com/handrail-dev/handrail/providers/postgres/postgresfake"
	"github.com/handrail-dev/handrail/providers/prometheus/prometheusfake"
	"github.com/handrail-dev/handrail/providers/slack/slackfake"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
	"github.com/handrail-dev/handrail/providers/statuspage/statuspagefake"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox/manual"
)

// World is a whole fake world: one stateful fake per standard provider, all
// on one simulated clock. Script it before a run through the fakes' own
// methods (w.Docker.SetUnhealthy("dcmms/backend:0.3.0"),
// w.Postgres.FailMigration(16, "..."), w.Prometheus.Script(q).AfterNode(...))
// or with a test file's world block ([World.Apply]); inspect it after.
type World struct {
	// Clock is the simulated clock the executor must run on.
	Clock *runbook.SimClock
	// Docker is the engine of every docker provider instance.
	Docker *dockerfake.World
	// Postgres is the database of every postgres provider instance.
	Postgres *postgresfake.World
	// HTTP answers requests to hosts without a world of their own (see
	// [World.HTTPHost]).
	HTTP *httpfake.World
	// Prometheus answers every prometheus instance's queries.
	Prometheus *prometheusfake.World
	Slack      *slackfake.World
	Statuspage *statuspagefake.World
	Email      *emailfake.World
	// SSH holds the hosts of every ssh provider instance. In the sandbox a
	// script runs as its `&&`-separated commands, one by one (so that the
	// fake's file commands apply), and `aws s3 cp|sync|rm` run on a host act
	// on the fake S3 of AWS.
	SSH *sshfake.World
	// AWS holds the S3 buckets and ELBv2 rules.
	AWS *awsfake.World
	// Exec runs the local commands of the exec provider (k6 included).
	Exec *execfake.World
	// Disk is the local disk: the fake pg_dump writes its dumps there,
	// s3_download its files, a scripted `k6 run --summary-export` of a
	// local_exec its summary, and s3_upload and ssh_upload read their
	// sources from it (falling through to the machine's disk, read only).
	// A rehearsal writes nothing on the machine at the runbook's paths.
	Disk *Disk

	// Dir is the folder relative paths of a runbook are read from (the
	// runbook's folder; empty: the working directory).
	Dir string
	// Vars are the file-wide variables of the runbook's test file, as -var
	// values (set by [ForRunbook]); a rehearsal passes them under the
	// user's own -var values.
	Vars map[string]string

	clock *clockRef
	mu    sync.Mutex
	hosts map[string]*httpfake.World
}

// New returns a world whose clock reads start. Every fake starts empty:
// script it, or use [ForRunbook] for the default world of a runbook.
func New(start time.Time) *World {
	sim := runbook.NewSimClock(start)
	ref := &clockRef{c: sim}
	w := &World{
		Clock:      sim,
		Docker:     dockerfake.New(),
		Postgres:   postgresfake.New(),
		HTTP:       httpfake.New(),
		Prometheus: prometheusfake.New(),
		Slack:      slackfake.New(),
		Statuspage: statuspagefake.New(""),
		Email:      emailfake.New(),
		SSH:        sshfake.New(),
		AWS:        awsfake.New(),
		Exec:       execfake.New(),
		clock:      ref,
		hosts:      map[string]*httpfake.World{},
	}
	w.HTTP.SetClock(ref)
	w.Prometheus.SetClock(ref)
	w.Slack.SetClock(ref)
	w.Statuspage.SetClock(ref)
	w.Docker.SetClock(ref.Now)
	w.AWS.SetClock(ref.Now)
	w.Disk = NewDisk(ref.Now)
	w.Postgres.WriteDumps(w.Disk.WriteFile)
	w.Exec.WriteFiles(w.Disk.WriteFile)
	return w
}

// Reclock moves the world to a new simulated clock (a run resumed by a new
// executor after a crash continues at the time the crashed one stopped).
func (w *World) Reclock(c *runbook.SimClock) {
	w.Clock = c
	w.clock.set(c)
}

// HTTPHost returns the fake serving requests to host (a name, without
// scheme or port), creating it: staging.dcmms.com and dcmms.com can answer
// /api/v1/health differently.
func (w *World) HTTPHost(host string) *httpfake.World {
	w.mu.Lock()
	defer w.mu.Unlock()
	host = strings.ToLower(host)
	if h, ok := w.hosts[host]; ok {
		return h
	}
	h := httpfake.New()
	h.SetClock(w.clock)
	w.hosts[host] = h
	return h
}

// Do routes a request to the fake of its host, or to w.HTTP.
func (w *World) Do(req *nethttp.Request) (*nethttp.Response, error) {
	w.mu.Lock()
	h, ok := w.hosts[strings.ToLower(req.URL.Hostname())]
	w.mu.Unlock()
	if !ok {
		h = w.HTTP
	}
	return h.Do(req)
}

// Registry returns the providers of the world, for hcl.Load: the stateful
// fakes of docker, postgres, http, prometheus, slack, statuspage, email,
// ssh, aws and exec, and the manual provider (checklists confirmed through
// the run's approver).
func (w *World) Registry() (*provider.Registry, error) {
	// health_url probes reach the world's fake hosts.
	docker := &dockerprov.Provider{
		EngineFactory: func(context.Context, dockerprov.Config) (dockerprov.Engine, error) {
			return w.Docker.Engine(), nil
		},
		HealthTransport: worldTransport{w},
	}
	return provider.NewRegistry(
		docker,
		rewrite{Provider: w.Postgres.Provider(), fix: map[string]func(cty.Value) cty.Value{"postgres_migrate": w.relativeTo("dir")}},
		&httpprov.Provider{Client: w},
		w.Prometheus.Provider(),
		w.Slack.Provider(),
		w.Statuspage.Provider(),
		w.Email.Provider(),
		sshProvider{Provider: rewrite{Provider: w.SSH.Provider(), fix: map[string]func(cty.Value) cty.Value{"ssh_upload": w.uploadFromDisk}}, w: w},
		&aws.Provider{ClientFactory: w.AWS.ClientFactory(), Files: w.Disk},
		w.Exec.Provider(),
		&manual.Provider{},
	)
}

// worldTransport sends requests to the world's fake hosts.
type worldTransport struct{ w *World }

func (t worldTransport) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	return t.w.Do(req)
}

// Observer returns the observer the executor must feed, so that fakes
// scripted relative to a node ("at minute 9 of the soak") know when nodes
// start.
func (w *World) Observer() runbook.Observer {
	return runbook.ObserverFunc(func(ev runbook.Event) {
		w.HTTP.Observe(ev)
		w.Prometheus.Observe(ev)
		w.mu.Lock()
		hosts := make([]*httpfake.World, 0, len(w.hosts))
		for _, h := range w.hosts {
			hosts = append(hosts, h)
		}
		w.mu.Unlock()
		for _, h := range hosts {
			h.Observe(ev)
		}
	})
}

// ErrInjected is the cause of every failure injected with [Fail].
var ErrInjected = errors.New("injected failure")

// Fail returns a copy of plan in which each named node fails: a step's
// action returns [ErrInjected] (not retried), a check, soak or guard gate
// breaches at its first sample — its first deciding check (never a dry_run
// one) reports [InjectedValue] instead of probing, and the breach says it
// was injected and on which check —, an approval gate is denied (see
// [FailApprovals]). Names may be written bare or as step.NAME / gate.NAME;
// gate.soak[50] (or gate.soak_50) names the 50% instance of a for_each
// phase.
func Fail(plan *runbook.Plan, names []string) (*runbook.Plan, error) {
	want := map[string]bool{}
	for _, n := range names {
		n = resolveNode(plan, n)
		if _, ok := plan.Node(n); !ok {
			return nil, fmt.Errorf("--fail %s: no step or gate of that name in %s%s", n, plan.Name, suggestNode(plan, n))
		}
		if node, _ := plan.Node(n); node.Gate != nil && node.Gate.Kind != runbook.GateApproval && breachIndex(node.Gate) < 0 {
			return nil, fmt.Errorf("--fail %s: every check of that gate is dry_run, and a dry_run check never decides: name another gate", n)
		}
		want[n] = true
	}
	if len(want) == 0 {
		return plan, nil
	}
	return plan.Intercept(runbook.Interceptor{
		Action: func(n *runbook.Node, a runbook.Action) runbook.Action {
			if !want[n.Name] {
				return a
			}
			return injected{a: a, node: n.Name}
		},
		Check: func(n *runbook.Node, i int, c runbook.Check) runbook.Check {
			if !want[n.Name] || i != breachIndex(n.Gate) {
				return c
			}
			// One check breaches, labelled as injected: no probe runs, so
			// no real (passing) value is shown as a breach.
			c.Probe = runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
				return runbook.Sample{Value: InjectedValue}, nil
			})
			c.Success = nil
			c.Failure = runbook.ConditionFunc(func(*runbook.Env, any) (bool, error) { return true, nil })
			c.FailureLimit, c.Tolerate = 0, 0
			c.Threshold = ""
			c.Message = fmt.Sprintf("breach of check %s injected by --fail %s (not measured)", c.Name, n.Name)
			return c
		},
	}), nil
}

// InjectedValue is the sample value of a check whose breach [Fail]
// injected.
const InjectedValue = "(injected)"

// breachIndex is the check of a gate that [Fail] makes breach: the first
// that decides (dry_run checks never do), or -1.
func breachIndex(g *runbook.Gate) int {
	if g == nil {
		return -1
	}
	for i, c := range g.Checks {
		if !c.DryRun {
			return i
		}
	}
	return -1
}

// nodeName strips a step. or gate. prefix.
func nodeName(n string) string {
	return strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(n), "step."), "gate.")
}

// instanceAlias turns soak_50 into soak[50] (a for_each instance written
// without brackets, as on a command line); other names are returned as
// they are.
func instanceAlias(n string) string {
	i := strings.LastIndex(n, "_")
	if i <= 0 || i == len(n)-1 {
		return n
	}
	for _, r := range n[i+1:] {
		if r < '0' || r > '9' {
			return n
		}
	}
	return n[:i] + "[" + n[i+1:] + "]"
}

// resolveNode returns the plan's node a user's name means: step.x and
// gate.x are x, and soak_50 is soak[50] when the plan has no soak_50.
func resolveNode(plan *runbook.Plan, n string) string {
	n = nodeName(n)
	if _, ok := plan.Node(n); ok {
		return n
	}
	if a := instanceAlias(n); a != n {
		if _, ok := plan.Node(a); ok {
			return a
		}
	}
	return n
}

func suggestNode(plan *runbook.Plan, n string) string {
	var close []string
	base, _, _ := strings.Cut(n, "[")
	for _, node := range plan.Nodes() {
		nb, _, _ := strings.Cut(node.Name, "[")
		if nb == base || strings.Contains(node.Name, base) {
			close = append(close, node.Name)
		}
	}
	if len(close) == 0 {
		return ""
	}
	sort.Strings(close)
	return fmt.Sprintf(" (did you mean %s?)", strings.Join(close, ", "))
}

type injected struct {
	a    runbook.Action
	node string
}

func (i injected) Do(_ context.Context, _ *runbook.Env) (runbook.Outputs, error) {
	return nil, runbook.Permanent(fmt.Errorf("%w at %s (--fail)", ErrInjected, i.node))
}

func (i injected) Describe() runbook.Description { return runbook.Describe(i.a) }

// FailApprovals wraps an approver so that the approval gates named in names
// are denied ("the Go/No-Go approver says no") and every other request goes
// to next.
func FailApprovals(next runbook.Approver, names []string) runbook.Approver {
	deny := map[string]bool{}
	for _, n := range names {
		deny[nodeName(n)] = true
		deny[instanceAlias(nodeName(n))] = true
	}
	return runbook.ApproverFunc(func(ctx context.Context, req runbook.ApprovalRequest) (runbook.Decision, error) {
		if deny[req.Node] && req.Kind == "approval" {
			return runbook.Decision{Approved: false, By: "sandbox --fail", Comment: "denied by --fail", Override: true}, nil
		}
		return next.Approve(ctx, req)
	})
}

// ForRunbook returns the world to rehearse the runbook at path in: a new
// world whose clock reads start, reading relative paths from the runbook's
// folder, set up by the file-wide world blocks of the runbook's test file
// (NAME.test.hcl next to NAME.hcl), if there is one. That is the "happy
// world" the test file's scenarios start from.
func ForRunbook(path string, start time.Time) (*World, error) {
	w := New(start)
	w.Dir = filepath.Dir(path)
	tf := TestFileFor(path)
	if tf == "" {
		return w, nil
	}
	f, err := parseTestFile(tf, start)
	if err != nil {
		return nil, err
	}
	if err := f.ApplyWorld(w, nil); err != nil {
		return nil, err
	}
	w.Vars = varStrings(f.vars)
	return w, nil
}

// TestFileFor returns the test file of the runbook at path (NAME.test.hcl
// next to NAME.hcl), or "" when there is none.
func TestFileFor(path string) string {
	base := strings.TrimSuffix(path, filepath.Ext(path))
	tf := base + ".test.hcl"
	if st, err := os.Stat(tf); err == nil && !st.IsDir() {
		return tf
	}
	return ""
}

// clockRef is the clock the fakes read: it follows [World.Reclock].
type clockRef struct {
	mu sync.Mutex
	c  runbook.Clock
}

func (r *clockRef) get() runbook.Clock {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c
}

func (r *clockRef) set(c runbook.Clock) {
	r.mu.Lock()
	r.c = c
	r.mu.Unlock()
}

// Now implements runbook.Clock.
func (r *clockRef) Now() time.Time { return r.get().Now() }

// Sleep implements runbook.Clock.
func (r *clockRef) Sleep(ctx context.Context, d time.Duration) error { return r.get().Sleep(ctx, d) }

// Load prepares a rehearsal of the runbook at path in one call: its default
// world ([ForRunbook]) and the runbook loaded against that world's fakes,
// with vars as -var values. Run rb.Plan() on w.Clock with w.Observer() (for
// example with runbooktest.New and its WithClock and WithObserver options),
// script w before, inspect it after. Close rb when done.
func Load(ctx context.Context, path string, start time.Time, vars map[string]string) (*World, *hcl.Runbook, error) {
	w, err := ForRunbook(path, start)
	if err != nil {
		return nil, nil, err
	}
	reg, err := w.Registry()
	if err != nil {
		return nil, nil, err
	}
	all := map[string]string{}
	for k, v := range w.Vars {
		all[k] = v
	}
	for k, v := range vars {
		all[k] = v
	}
	rb, diags := hcl.Load(ctx, path, hcl.Options{Registry: reg, Vars: all, Now: w.clock.Now})
	if diags.HasErrors() {
		return nil, nil, diags
	}
	return w, rb, nil
}

// ResolveNode returns the plan's node that name (bare, step.NAME, gate.NAME,
// or an instance alias such as soak_50 for soak[50]) designates; ok is
// false, with a did-you-mean in hint, when there is none.
func ResolveNode(plan *runbook.Plan, name string) (node string, ok bool, hint string) {
	n := resolveNode(plan, name)
	if _, found := plan.Node(n); found {
		return n, true, ""
	}
	return "", false, suggestNode(plan, n)
}
