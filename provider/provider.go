// Package provider is the contract between Handrail's front ends (the HCL
// DSL, the CLI, the sandbox) and the providers that act on the world (SSH,
// Docker, PostgreSQL, AWS...). It depends on the core package runbook and on
// go-cty, in which schemas and values are expressed; it knows no concrete
// provider and no front end.
//
// A provider has a type ("ssh"), a configuration schema, and action types.
// [Provider.Configure] turns one `provider "ssh" "lb" { ... }` block into an
// [Instance]; an action type turns decoded arguments into a [runbook.Action]
// (a step) or a [runbook.Probe] (a check of a gate) bound to an instance.
//
// Arguments arrive decoded, converted to the declared types and unmarked:
// sensitive values have already been registered with the run's redactor by
// the front end. A natural rollback (runbook.NaturalRollback on the action)
// must rely only on its arguments and on the step's outputs, read from
// [runbook.Env.Self]: in a resumed or later rollback the action is rebuilt
// from its arguments, and outputs come from the journal.
package provider

import (
	"context"
	"fmt"
	"io"
	"net"
	"reflect"
	"sort"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Attribute describes one argument of a provider configuration or action.
type Attribute struct {
	// Type is the cty type the value is converted to (cty.DynamicPseudoType
	// accepts anything).
	Type cty.Type
	// Required arguments must be given.
	Required bool
	// Sensitive arguments are secrets: marked in the DSL, never shown.
	Sensitive bool
	// LocalPath arguments (a string, or a list of strings) name files or
	// directories on the machine running handrail. The HCL front end
	// resolves a relative value against the directory of the runbook file
	// that declares it, so a runbook behaves the same from any working
	// directory; absolute values are unchanged. Plans built in Go resolve
	// relative paths against the process's working directory.
	LocalPath bool
	// DefaultsToRunbookDir, on a LocalPath argument of a provider
	// configuration, gives the argument, when it is left out, the absolute
	// directory of the runbook file that declares the provider block (for
	// an implicit default instance: of the step that needs it), as if "."
	// were written: exec's dir, so that local commands run in the runbook's
	// folder from any working directory. Plans built in Go get no default.
	DefaultsToRunbookDir bool
	// Description documents the argument.
	Description string
}

// Schema maps argument names to attributes.
type Schema map[string]Attribute

// Names returns the schema's argument names, sorted.
func (s Schema) Names() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Output describes one output of an action.
type Output struct {
	Type        cty.Type
	Sensitive   bool
	Description string
}

// Instance is a configured provider: one `provider "type" "name"` block.
// Instances that hold connections implement io.Closer.
type Instance interface {
	// Name returns "type.name", as steps reference it (ssh.lb).
	Name() string
}

// ActionType describes one kind of step or check a provider offers
// ("ssh_exec", "prometheus_query").
type ActionType struct {
	// Args is the argument schema.
	Args Schema
	// Outputs the action returns. A reference to an output not declared
	// here is an error at plan time.
	Outputs map[string]Output
	// ReadOnly actions change nothing: they need neither a rollback nor an
	// irreversible mark.
	ReadOnly bool
	// NaturalRollback reports that the action can undo itself (see the
	// package documentation); the plan shows it when no explicit rollback is
	// given.
	NaturalRollback bool
	// DynamicOutputs, if set, declares outputs that depend on the
	// arguments (an HTTP request's extracted fields); front ends merge them
	// with Outputs when checking references at plan time. args may contain
	// unknown values.
	DynamicOutputs func(args cty.Value) map[string]Output
	// Description documents the action.
	Description string
	// New builds the step action from decoded arguments. Nil when the type
	// is a probe only. New must be pure — no I/O, no connection: front ends
	// call it at load time, when the arguments are known, to learn the
	// action's read-only mark and natural rollback for this instance (and
	// to refuse bad arguments before anything runs), and again at run time.
	// A natural rollback should describe itself as {inst.Name(),
	// "<action>"}, so that Go and HCL plans dump identically.
	New func(inst Instance, args cty.Value) (runbook.Action, error)
	// NewProbe builds a probe for a gate's check. Nil when the type cannot
	// be a probe. The probe's sample value is what conditions see as
	// self.value; its outputs are the other members of self.
	NewProbe func(inst Instance, args cty.Value) (runbook.Probe, error)
}

// Provider is one type of provider.
type Provider interface {
	// Type returns the provider type ("ssh").
	Type() string
	// ConfigSchema returns the schema of its provider block.
	ConfigSchema() Schema
	// Configure returns an instance for the provider block named name. It
	// should not connect yet: connect lazily on first use, so that plans
	// and validation never touch the world.
	Configure(ctx context.Context, name string, config cty.Value) (Instance, error)
	// Actions returns the action types by name. Names are global across
	// providers and conventionally start with the provider type
	// ("ssh_exec").
	Actions() map[string]ActionType
}

// Registry is a set of providers, passed by value to front ends. The zero
// value is empty and ready to use.
type Registry struct {
	providers map[string]Provider
	actions   map[string]string
}

// NewRegistry returns a registry holding the given providers, or an error
// if two share a type or an action name.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{}
	for _, p := range ps {
		if err := r.Add(p); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add registers p (a custom provider next to the standard ones).
func (r *Registry) Add(p Provider) error {
	if r.providers == nil {
		r.providers = map[string]Provider{}
		r.actions = map[string]string{}
	}
	t := p.Type()
	if _, dup := r.providers[t]; dup {
		return fmt.Errorf("provider: type %q registered twice", t)
	}
	for name := range p.Actions() {
		if other, dup := r.actions[name]; dup {
			return fmt.Errorf("provider: action %q offered by both %q and %q", name, other, t)
		}
	}
	r.providers[t] = p
	for name := range p.Actions() {
		r.actions[name] = t
	}
	return nil
}

// Provider returns the provider of a type.
func (r *Registry) Provider(typ string) (Provider, bool) {
	p, ok := r.providers[typ]
	return p, ok
}

// Action returns the action type of a name and the provider offering it.
func (r *Registry) Action(name string) (ActionType, Provider, bool) {
	t, ok := r.actions[name]
	if !ok {
		return ActionType{}, nil, false
	}
	p := r.providers[t]
	return p.Actions()[name], p, true
}

// Types returns the registered provider types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.providers))
	for t := range r.providers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ActionNames returns every registered action name, sorted.
func (r *Registry) ActionNames() []string {
	out := make([]string, 0, len(r.actions))
	for a := range r.actions {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// InstanceType is the cty capsule type of a configured provider instance.
// Front ends expose each instance as a value of this type (ssh.lb), so that
// a step's `provider = ssh.lb` and another provider's configuration (docker's
// `via = ssh.app`, tunnelling through an SSH connection) can reference it.
var InstanceType = cty.CapsuleWithOps("provider instance", reflectInstance, &cty.CapsuleOps{
	GoString: func(v interface{}) string {
		return fmt.Sprintf("provider.InstanceVal(%s)", (*v.(*Instance)).Name())
	},
	TypeGoString: func(reflect.Type) string { return "provider.InstanceType" },
})

var reflectInstance = reflect.TypeOf((*Instance)(nil)).Elem()

// InstanceVal wraps an instance as a cty value of [InstanceType].
func InstanceVal(inst Instance) cty.Value {
	return cty.CapsuleVal(InstanceType, &inst)
}

// InstanceFromValue unwraps a value of [InstanceType]. It returns an error
// for null, unknown or other values.
func InstanceFromValue(v cty.Value) (Instance, error) {
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(InstanceType) {
		return nil, fmt.Errorf("provider: want a provider instance reference such as ssh.lb, got %s", v.Type().FriendlyName())
	}
	return *(v.EncapsulatedValue().(*Instance)), nil
}

// Dialer is implemented by instances that can open connections on the far
// side (an SSH connection reaching a remote Docker socket).
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// CommandRunner is implemented by instances that can run a command (argv,
// never a shell unless argv says so) on their host: local exec and SSH.
// stdout and stderr may be nil. A non-zero exit is returned as exit with a
// nil error; err reports failing to run at all.
type CommandRunner interface {
	RunCommand(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (exit int, err error)
}

// Preflighter is implemented by instances that can check, before a run
// starts and without touching the world, what they need on this machine:
// credential files readable, trust stores present (an SSH instance's keys
// and known_hosts). Front ends call it before a real run takes its lock, so
// that a missing file stops the run before anything was written, not
// halfway through the release. The error says what is wrong and what to
// do; it must never hold a secret.
type Preflighter interface {
	Preflight(ctx context.Context) error
}
