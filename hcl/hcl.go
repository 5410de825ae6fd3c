package hcl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

// Registry is what the front end needs of a provider registry. A
// *provider.Registry satisfies it.
type Registry interface {
	Provider(typ string) (provider.Provider, bool)
	Action(name string) (provider.ActionType, provider.Provider, bool)
	Types() []string
	ActionNames() []string
}

var _ Registry = (*provider.Registry)(nil)

// Options configure [Load].
type Options struct {
	// Registry offers the providers a runbook may use. Required.
	Registry Registry
	// Vars are -var name=value assignments (highest precedence).
	Vars map[string]string
	// VarFiles are -var-file paths, applied in order.
	VarFiles []string
	// Environ is the environment (os.Environ()), read for
	// HANDRAIL_VAR_<name> variables. Nil reads nothing.
	Environ []string
	// Now returns the time for timestamp() (default time.Now).
	Now func() time.Time
	// Version is Handrail's version, checked against the runbook's
	// required_version when both are set.
	Version string
	// NoAutoVarFiles skips *.auto.hclvars files next to the runbook.
	NoAutoVarFiles bool
}

// Runbook is a loaded runbook: its plan, inputs, redactor and outputs.
type Runbook struct {
	name        string
	description string
	window      time.Duration
	onFailure   runbook.Policy
	dir         string
	path        string
	opts        Options
	reg         Registry

	files   map[string]*hhcl.File
	masks   map[string][]hhcl.Range // byte ranges of sensitive values to hide in snippets
	red     *runbook.Redactor
	funcs   map[string]function.Function
	varVals map[string]cty.Value
	vars    []*variable
	locals  map[string]cty.Value
	base    *hhcl.EvalContext // var, local, provider roots, functions

	providers []*providerDecl
	instances map[string]*providerDecl // "type.name"
	byType    map[string][]*providerDecl

	phases  []*phaseDecl
	decls   map[string]*nodeDecl // declared step/gate names
	nodes   []*node
	byName  map[string]*node
	outputs []*outputDecl

	plan   *runbook.Plan
	closed bool
}

// Load reads the runbook file at path and compiles it. The returned
// Runbook is never nil: even when diagnostics have errors, its
// [Runbook.WriteDiagnostics] can print them with source snippets.
func Load(ctx context.Context, path string, opts Options) (*Runbook, hhcl.Diagnostics) {
	src, err := readSource(path)
	if err != nil {
		rb := newRunbook(path, opts)
		return rb, hhcl.Diagnostics{{
			Severity: hhcl.DiagError,
			Summary:  "Cannot read runbook",
			Detail:   err.Error(),
			Subject:  &hhcl.Range{Filename: path, Start: hhcl.InitialPos, End: hhcl.InitialPos},
		}}
	}
	return load(ctx, path, src, opts, true)
}

// LoadSource compiles a runbook from memory; name is its file name in
// diagnostics, and its folder is the base of file() and templatefile().
// *.auto.hclvars files are not read.
func LoadSource(ctx context.Context, name string, src []byte, opts Options) (*Runbook, hhcl.Diagnostics) {
	return load(ctx, name, src, opts, false)
}

func newRunbook(path string, opts Options) *Runbook {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Runbook{
		dir: filepath.Dir(path), path: path, opts: opts, reg: opts.Registry,
		files: map[string]*hhcl.File{}, masks: map[string][]hhcl.Range{},
		red: runbook.NewRedactor(), instances: map[string]*providerDecl{}, byType: map[string][]*providerDecl{},
		decls: map[string]*nodeDecl{}, byName: map[string]*node{}, locals: map[string]cty.Value{},
		varVals: map[string]cty.Value{},
	}
}

func load(ctx context.Context, path string, src []byte, opts Options, auto bool) (rb *Runbook, diags hhcl.Diagnostics) {
	rb = newRunbook(path, opts)
	defer func() {
		if x := recover(); x != nil {
			diags = append(diags, &hhcl.Diagnostic{
				Severity: hhcl.DiagError,
				Summary:  "Internal error while loading the runbook",
				Detail:   "The runbook could not be compiled because of an internal error; please report it with the runbook that caused it.",
				Subject:  &hhcl.Range{Filename: path, Start: hhcl.InitialPos, End: hhcl.InitialPos},
			})
			rb.plan = nil
		}
		diags = dedupe(ensureRanges(diags, path))
	}()
	if opts.Registry == nil {
		return rb, hhcl.Diagnostics{{Severity: hhcl.DiagError, Summary: "No provider registry",
			Detail:  "hcl.Options.Registry is nil: pass the registry of the providers runbooks may use.",
			Subject: &hhcl.Range{Filename: path, Start: hhcl.InitialPos, End: hhcl.InitialPos}}}
	}
	file, d := parseConfig(src, path)
	rb.files[path] = file
	diags = append(diags, d...)
	if d.HasErrors() {
		return rb, diags
	}
	rb.funcs = rb.functions()
	c := &compiler{rb: rb, ctx: ctx}
	diags = append(diags, c.compile(file.Body.(*hclsyntax.Body), auto)...)
	if diags.HasErrors() {
		rb.plan = nil
		_ = rb.Close() // instances configured before the error
	}
	return rb, diags
}

// dedupe drops repeated diagnostics (one per for_each instance).
func dedupe(diags hhcl.Diagnostics) hhcl.Diagnostics {
	seen := map[string]bool{}
	out := diags[:0]
	for _, d := range diags {
		key := fmt.Sprintf("%d|%s|%s|%s", d.Severity, d.Summary, d.Detail, d.Subject)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, d)
	}
	return out
}

// ensureRanges gives every diagnostic a subject range.
func ensureRanges(diags hhcl.Diagnostics, path string) hhcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil {
			if d.Context != nil {
				r := *d.Context
				d.Subject = &r
			} else {
				d.Subject = &hhcl.Range{Filename: path, Start: hhcl.InitialPos, End: hhcl.InitialPos}
			}
		}
	}
	return diags
}

// Name returns the runbook's name.
func (rb *Runbook) Name() string { return rb.name }

// Plan returns the compiled plan, or nil if loading failed.
func (rb *Runbook) Plan() *runbook.Plan { return rb.plan }

// Redactor returns a redactor knowing every sensitive string met while
// loading (sensitive variables, provider configuration). Give it to the
// executor so that it is shared with the run.
func (rb *Runbook) Redactor() *runbook.Redactor { return rb.red }

// Inputs returns the variables for the journal, sorted by name. Sensitive
// ones are flagged; their Value is set so that an executor can register it
// with its redactor before blanking it, as [runbook.Executor.Run] does.
func (rb *Runbook) Inputs() []runbook.Input {
	var out []runbook.Input
	for _, v := range rb.vars {
		val, ok := rb.varVals[v.name]
		if !ok {
			continue
		}
		out = append(out, runbook.Input{Name: v.name, Value: renderInput(val), Sensitive: v.sensitive || hasSensitive(val)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Files returns the source files read while loading, for
// [hhcl.NewDiagnosticTextWriter]. Sensitive values written in them
// (defaults of sensitive variables, their values in var files) are blanked.
func (rb *Runbook) Files() map[string]*hhcl.File {
	out := make(map[string]*hhcl.File, len(rb.files))
	for name, f := range rb.files {
		ranges := rb.masks[name]
		if len(ranges) == 0 || f == nil {
			out[name] = f
			continue
		}
		b := append([]byte(nil), f.Bytes...)
		for _, r := range ranges {
			for i := r.Start.Byte; i < r.End.Byte && i < len(b); i++ {
				if b[i] != '\n' {
					b[i] = '*'
				}
			}
		}
		out[name] = &hhcl.File{Body: f.Body, Bytes: b}
	}
	return out
}

// WriteDiagnostics prints diagnostics with file, line and snippet, hiding
// sensitive values.
func (rb *Runbook) WriteDiagnostics(w io.Writer, diags hhcl.Diagnostics, width uint, color bool) error {
	wr := hhcl.NewDiagnosticTextWriter(w, rb.Files(), width, color)
	return wr.WriteDiagnostics(diags)
}

// Close closes the provider instances that hold resources. It returns every
// error, joined. Closing twice does nothing the second time; a Runbook that
// failed to load is closed already.
func (rb *Runbook) Close() error {
	if rb.closed {
		return nil
	}
	rb.closed = true
	var errs []error
	for _, p := range rb.providers {
		if c, ok := p.inst.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
