package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/http/httpfake"
	"github.com/handrail-dev/handrail/runbook"
)

// DefaultStart is the simulated time at which scenarios start unless
// [TestOptions.Start] says otherwise: a Sunday 02:00 UTC, the start of the
// seed's maintenance window.
var DefaultStart = time.Date(2026, time.January, 4, 2, 0, 0, 0, time.UTC)

// TestFile is a parsed *.test.hcl file: file-wide variables and world
// setup, and scenarios. Build it with [ParseTestFile].
type TestFile struct {
	// Path of the file; Runbook is the runbook it tests.
	Path, Runbook string
	// Scenarios in declaration order.
	Scenarios []*Scenario

	vars   map[string]cty.Value
	auto   map[string]cty.Value
	worlds []*worldSyntax
	start  time.Time
	file   *hhcl.File
	parser *hclparse.Parser
}

// Scenario is one scenario of a test file.
type Scenario struct {
	Name        string
	Description string
	// Vars are the file's variables overridden by the scenario's.
	Vars map[string]cty.Value
	// Fail names the steps that fail and the gates that breach (as
	// `handrail apply --sandbox --fail`); Deny the approval gates and manual
	// tasks the approver says no to; Silence those nobody answers (they
	// time out on the simulated clock).
	Fail, Deny, Silence []string
	// CrashAfter names the node after whose completion the process
	// "crashes": the run stops dead, and a new executor resumes it from the
	// journal.
	CrashAfter string
	// Faults are node-level faults (fault { node = ..., mode = ... }):
	// before_effect, after_effect, timeout or latency (the crash mode is
	// crash_after = NODE).
	Faults []Fault
	// Resume, if set, is "fails at X, edited, resumed": once the first
	// run has ended, the world changes as its world blocks say (what the
	// fix changed outside the runbook) and a new process resumes the run,
	// with another runbook file if it names one. Fail, Deny's failures
	// and Faults are the first run's; the expect block is about the
	// resumed process.
	Resume *Resume

	worlds []*worldSyntax
	expect *expectSyntax
	rng    hhcl.Range
	where  where
}

// Resume is a scenario's resume block.
type Resume struct {
	// Runbook is the runbook file the run is resumed with (the edited
	// one), relative to the test file; empty: the scenario's runbook.
	Runbook string
	// From, Rerun, Force and Reason are the resume's options
	// (runbook.RunOptions).
	From   string
	Rerun  []string
	Force  bool
	Reason string
	// FirstStatus, if set, is how the first run must have ended.
	FirstStatus runbook.Status

	worlds []*worldSyntax
}

// --- syntax (decoded with gohcl) ---------------------------------------------

type worldSyntax struct {
	DockerImages     []string           `hcl:"docker_images,optional"`
	DockerUnhealthy  []string           `hcl:"docker_unhealthy,optional"`
	DockerPullFails  map[string]string  `hcl:"docker_pull_fails,optional"`
	DockerContainers []*dockerContainer `hcl:"docker_container,block"`
	DockerExecs      []*dockerExec      `hcl:"docker_exec,block"`
	Postgres         []*postgresSyntax  `hcl:"postgres,block"`
	S3Buckets        []*s3Bucket        `hcl:"s3_bucket,block"`
	S3Objects        []*s3Object        `hcl:"s3_object,block"`
	ELBRules         []*elbRule         `hcl:"elbv2_rule,block"`
	Prometheus       []*promSeries      `hcl:"prometheus,block"`
	HTTP             []*httpRoute       `hcl:"http,block"`
	SSHHosts         []*sshHost         `hcl:"ssh_host,block"`
	SSHReplies       []*sshReply        `hcl:"ssh_reply,block"`
	ExecReplies      []*execReply       `hcl:"exec_reply,block"`
	K6               []*k6Syntax        `hcl:"k6,block"`
	Remain           hhcl.Body          `hcl:",remain"`
}

type dockerContainer struct {
	Name    string   `hcl:"name"`
	Image   string   `hcl:"image"`
	Project string   `hcl:"project,optional"`
	Service string   `hcl:"service,optional"`
	Logs    []string `hcl:"logs,optional"`
}

type dockerExec struct {
	Container string   `hcl:"container"`
	Command   []string `hcl:"command,optional"`
	ExitCode  int      `hcl:"exit_code,optional"`
	Stdout    string   `hcl:"stdout,optional"`
	Stderr    string   `hcl:"stderr,optional"`
}

type postgresSyntax struct {
	Version            *int64            `hcl:"version,optional"`
	FailMigrations     map[string]string `hcl:"fail_migrations,optional"`
	FailMigrationsDown map[string]string `hcl:"fail_migrations_down,optional"`
	FixedMigrations    []string          `hcl:"fixed_migrations,optional"`
	Unreachable        bool              `hcl:"unreachable,optional"`
	Queries            []*pgQuery        `hcl:"query,block"`
}

type pgQuery struct {
	SQL     string    `hcl:"sql"`
	Columns []string  `hcl:"columns"`
	Rows    cty.Value `hcl:"rows"`
}

type s3Bucket struct {
	Name      string `hcl:"name"`
	Versioned bool   `hcl:"versioned,optional"`
}

type s3Object struct {
	Bucket  string `hcl:"bucket"`
	Key     string `hcl:"key"`
	Content string `hcl:"content,optional"`
	Age     string `hcl:"age,optional"`
}

type elbRule struct {
	ARN     string         `hcl:"arn"`
	Weights map[string]int `hcl:"weights"`
}

type promSeries struct {
	Query  string    `hcl:"query"`
	Value  *float64  `hcl:"value,optional"`
	NoData bool      `hcl:"no_data,optional"`
	At     []*promAt `hcl:"at,block"`
}

type promAt struct {
	Node  string   `hcl:"node,optional"`
	After string   `hcl:"after,optional"`
	Value *float64 `hcl:"value,optional"`
}

type httpRoute struct {
	Host    string    `hcl:"host,optional"`
	Method  string    `hcl:"method,optional"`
	Path    string    `hcl:"path"`
	Status  int       `hcl:"status,optional"`
	JSON    cty.Value `hcl:"json,optional"`
	Body    string    `hcl:"body,optional"`
	Latency string    `hcl:"latency,optional"`
	At      []*httpAt `hcl:"at,block"`
}

type httpAt struct {
	Node    string    `hcl:"node,optional"`
	After   string    `hcl:"after,optional"`
	Status  int       `hcl:"status,optional"`
	JSON    cty.Value `hcl:"json,optional"`
	Body    string    `hcl:"body,optional"`
	Latency string    `hcl:"latency,optional"`
}

type sshHost struct {
	Host     string            `hcl:"host"`
	Files    map[string]string `hcl:"files,optional"`
	Dirs     []string          `hcl:"dirs,optional"`
	Symlinks map[string]string `hcl:"symlinks,optional"`
	Down     bool              `hcl:"down,optional"`
}

type sshReply struct {
	Host     string   `hcl:"host,optional"`
	Command  []string `hcl:"command,optional"`
	Script   string   `hcl:"script,optional"`
	Stdout   string   `hcl:"stdout,optional"`
	Stderr   string   `hcl:"stderr,optional"`
	ExitCode int      `hcl:"exit_code,optional"`
	Times    int      `hcl:"times,optional"`
}

type execReply struct {
	Command  []string `hcl:"command"`
	Stdout   string   `hcl:"stdout,optional"`
	Stderr   string   `hcl:"stderr,optional"`
	ExitCode int      `hcl:"exit_code,optional"`
	Times    int      `hcl:"times,optional"`
}

type k6Syntax struct {
	Summary  string `hcl:"summary"`
	ExitCode int    `hcl:"exit_code,optional"`
}

type scenarioSyntax struct {
	Description string          `hcl:"description,optional"`
	Worlds      []*worldSyntax  `hcl:"world,block"`
	Fail        []string        `hcl:"fail,optional"`
	Deny        []string        `hcl:"deny,optional"`
	Silence     []string        `hcl:"silence,optional"`
	CrashAfter  string          `hcl:"crash_after,optional"`
	Resume      []*resumeSyntax `hcl:"resume,block"`
	Faults      []*faultSyntax  `hcl:"fault,block"`
	Expect      []*expectSyntax `hcl:"expect,block"`
}

// resumeSyntax is resume { runbook, from, rerun, force, reason,
// first_status, world { ... } }.
type resumeSyntax struct {
	Runbook     string         `hcl:"runbook,optional"`
	From        string         `hcl:"from,optional"`
	Rerun       []string       `hcl:"rerun,optional"`
	Force       bool           `hcl:"force,optional"`
	Reason      string         `hcl:"reason,optional"`
	FirstStatus string         `hcl:"first_status,optional"`
	Worlds      []*worldSyntax `hcl:"world,block"`
	DefRange    hhcl.Range     `hcl:",def_range"`
}

// faultSyntax is fault { node = "step.traffic[10]" mode = "after_effect" }.
type faultSyntax struct {
	Node     string     `hcl:"node"`
	Mode     string     `hcl:"mode"`
	Latency  string     `hcl:"latency,optional"`
	DefRange hhcl.Range `hcl:",def_range"`
}

type expectSyntax struct {
	Status        string               `hcl:"status"`
	Executed      cty.Value            `hcl:"executed,optional"`
	NotExecuted   []string             `hcl:"not_executed,optional"`
	Compensated   cty.Value            `hcl:"compensated,optional"`
	Pending       cty.Value            `hcl:"pending,optional"`
	ErrorContains string               `hcl:"error_contains,optional"`
	MaxSimulated  string               `hcl:"max_simulated,optional"`
	Worlds        []*worldExpectSyntax `hcl:"world,block"`
	rng           hhcl.Range
	where         where
}

type worldExpectSyntax struct {
	Containers        []*containerExpect `hcl:"docker_container,block"`
	PostgresVersion   *int64             `hcl:"postgres_version,optional"`
	ELBRules          []*elbRule         `hcl:"elbv2_rule,block"`
	S3Objects         []*s3Expect        `hcl:"s3_object,block"`
	SSHFiles          []*sshFileExpect   `hcl:"ssh_file,block"`
	StatuspageOpen    *int               `hcl:"statuspage_open,optional"`
	StatuspageCreated *int               `hcl:"statuspage_incidents,optional"`
	SlackMessages     *int               `hcl:"slack_messages,optional"`
	EmailSubjects     []string           `hcl:"email_subjects,optional"`
	where             where
}

type containerExpect struct {
	Name    string  `hcl:"name"`
	Image   *string `hcl:"image,optional"`
	Running *bool   `hcl:"running,optional"`
	Health  *string `hcl:"health,optional"`
}

type s3Expect struct {
	Bucket string `hcl:"bucket"`
	Key    string `hcl:"key,optional"`
	Prefix string `hcl:"prefix,optional"`
	Exists bool   `hcl:"exists"`
}

type sshFileExpect struct {
	Host   string `hcl:"host"`
	Path   string `hcl:"path"`
	Exists bool   `hcl:"exists"`
}

// --- parsing -----------------------------------------------------------------

var fileSchema = &hhcl.BodySchema{
	Attributes: []hhcl.AttributeSchema{{Name: "runbook"}, {Name: "start"}},
	Blocks: []hhcl.BlockHeaderSchema{
		{Type: "variables"}, {Type: "world"}, {Type: "scenario", LabelNames: []string{"name"}},
	},
}

var scenarioSchema = &hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{{Type: "variables"}}}

// ParseTestFile reads a *.test.hcl file. Errors are hcl.Diagnostics with
// file, line and column.
func ParseTestFile(path string) (*TestFile, error) {
	return parseTestFile(path, time.Time{})
}

// parseTestFile parses path; a non-zero start overrides the file's (the
// world's clock starts there, and test.today follows it).
func parseTestFile(path string, start time.Time) (*TestFile, error) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	tf := &TestFile{Path: path, vars: map[string]cty.Value{}, start: DefaultStart, file: f, parser: p}
	content, d := f.Body.Content(fileSchema)
	diags = append(diags, d...)
	if a, ok := content.Attributes["runbook"]; ok {
		var s string
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &s)...)
		tf.Runbook = s
	}
	if a, ok := content.Attributes["start"]; ok {
		var s string
		diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &s)...)
		if s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid start", Detail: fmt.Sprintf("start must be an RFC 3339 time such as 2026-01-04T02:00:00Z: %v", err), Subject: a.Expr.Range().Ptr()})
			} else {
				tf.start = t
			}
		}
	}
	if !start.IsZero() {
		tf.start = start
	}
	if tf.Runbook == "" {
		tf.Runbook = strings.TrimSuffix(path, ".test.hcl") + ".hcl"
	} else if !filepath.IsAbs(tf.Runbook) {
		tf.Runbook = filepath.Join(filepath.Dir(path), tf.Runbook)
	}
	diags = append(diags, tf.readAutoVars()...)
	for _, b := range content.Blocks {
		if b.Type == "variables" {
			diags = append(diags, tf.readVars(b.Body, tf.vars)...)
		}
	}
	ctx := tf.evalContext(tf.vars)
	seen := map[string]hhcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "world":
			var ws worldSyntax
			diags = append(diags, gohcl.DecodeBody(b.Body, ctx, &ws)...)
			diags = append(diags, checkRemain(ws.Remain)...)
			tf.worlds = append(tf.worlds, &ws)
		case "scenario":
			name := b.Labels[0]
			if prev, dup := seen[name]; dup {
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Duplicate scenario", Detail: fmt.Sprintf("Scenario %q is already declared at %s.", name, prev), Subject: b.DefRange.Ptr()})
				continue
			}
			seen[name] = b.DefRange
			sc, d := tf.decodeScenario(name, b)
			diags = append(diags, d...)
			if sc != nil {
				tf.Scenarios = append(tf.Scenarios, sc)
			}
		}
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return tf, nil
}

func checkRemain(b hhcl.Body) hhcl.Diagnostics {
	if b == nil {
		return nil
	}
	_, diags := b.Content(&hhcl.BodySchema{})
	for _, d := range diags {
		d.Detail += " See the sandbox package documentation for what a world block holds."
	}
	return diags
}

// readAutoVars reads the runbook's literal variable defaults and the
// *.auto.hclvars files next to it: their values are var.* in the test file
// too (the runbook reads them itself).
func (tf *TestFile) readAutoVars() hhcl.Diagnostics {
	tf.auto = map[string]cty.Value{}
	// The runbook's variable defaults first (literal ones).
	if rf, d := tf.parser.ParseHCLFile(tf.Runbook); !d.HasErrors() {
		content, _, _ := rf.Body.PartialContent(&hhcl.BodySchema{Blocks: []hhcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}}})
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			if a, ok := attrs["default"]; ok {
				if v, d := a.Expr.Value(nil); !d.HasErrors() {
					tf.auto[b.Labels[0]] = v
				}
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(tf.Runbook), "*.auto.hclvars"))
	sort.Strings(files)
	var diags hhcl.Diagnostics
	for _, f := range files {
		hf, d := tf.parser.ParseHCLFile(f)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		diags = append(diags, tf.readVars(hf.Body, tf.auto)...)
	}
	return diags
}

func (tf *TestFile) readVars(body hhcl.Body, into map[string]cty.Value) hhcl.Diagnostics {
	attrs, diags := body.JustAttributes()
	ctx := tf.evalContext(nil)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, d := attrs[n].Expr.Value(ctx)
		diags = append(diags, d...)
		if !d.HasErrors() {
			into[n] = v
		}
	}
	return diags
}

func (tf *TestFile) decodeScenario(name string, b *hhcl.Block) (*Scenario, hhcl.Diagnostics) {
	content, remain, diags := b.Body.PartialContent(scenarioSchema)
	vars := map[string]cty.Value{}
	for k, v := range tf.vars {
		vars[k] = v
	}
	for _, vb := range content.Blocks {
		diags = append(diags, tf.readVars(vb.Body, vars)...)
	}
	var ss scenarioSyntax
	diags = append(diags, gohcl.DecodeBody(remain, tf.evalContext(vars), &ss)...)
	if diags.HasErrors() {
		return nil, diags
	}
	for _, w := range ss.Worlds {
		diags = append(diags, checkRemain(w.Remain)...)
	}
	if len(ss.Expect) != 1 {
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Missing expect block", Detail: fmt.Sprintf("Scenario %q needs exactly one expect { status = ... } block.", name), Subject: b.DefRange.Ptr()})
		return nil, diags
	}
	e := ss.Expect[0]
	e.rng = b.DefRange
	e.where = where{"": b.DefRange}
	if eb := nestedBlock(b.Body, "expect", 0); eb != nil {
		e.where = whereIn(eb.DefRange(), eb.Body)
		for i, we := range e.Worlds {
			we.where = e.where
			if wb := nestedBlock(eb.Body, "world", i); wb != nil {
				we.where = whereIn(wb.DefRange(), wb.Body)
			}
		}
	}
	switch e.Status {
	case "succeeded", "rolled_back", "aborted", "rollback_incomplete", "halted", "interrupted":
	default:
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid expected status", Detail: fmt.Sprintf("Scenario %q: status %q is not one of succeeded, rolled_back, aborted, rollback_incomplete, halted, interrupted.", name, e.Status), Subject: b.DefRange.Ptr()})
	}
	for _, v := range []struct {
		what string
		v    cty.Value
	}{{"executed", e.Executed}, {"compensated", e.Compensated}, {"pending", e.Pending}} {
		if _, err := nameGroups(v.v); err != nil {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid " + v.what, Detail: fmt.Sprintf("Scenario %q: %s: %v.", name, v.what, err), Subject: b.DefRange.Ptr()})
		}
	}
	sc := &Scenario{Name: name, Description: ss.Description, Vars: vars, Fail: ss.Fail, Deny: ss.Deny, Silence: ss.Silence, CrashAfter: nodeName(ss.CrashAfter), worlds: ss.Worlds, expect: e, rng: b.DefRange, where: whereIn(b.DefRange, b.Body)}
	if len(ss.Resume) > 1 {
		diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Duplicate resume block", Detail: fmt.Sprintf("Scenario %q: a scenario resumes its run once.", name), Subject: ss.Resume[1].DefRange.Ptr()})
	}
	if len(ss.Resume) > 0 {
		r := ss.Resume[0]
		if ss.CrashAfter != "" {
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Resume with crash_after", Detail: fmt.Sprintf("Scenario %q: crash_after already resumes the run after the crash; a resume block is for a run that ended (aborted, halted) and is resumed with a fix.", name), Subject: r.DefRange.Ptr()})
		}
		switch r.FirstStatus {
		case "", "rolled_back", "aborted", "rollback_incomplete", "halted", "interrupted":
		default:
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid first_status", Detail: fmt.Sprintf("Scenario %q: first_status %q is not one of aborted, halted, interrupted, rollback_incomplete, rolled_back.", name, r.FirstStatus), Subject: r.DefRange.Ptr()})
		}
		for _, w := range r.Worlds {
			diags = append(diags, checkRemain(w.Remain)...)
		}
		path := r.Runbook
		if path != "" && !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(tf.Path), path)
		}
		var rerun []string
		for _, n := range r.Rerun {
			rerun = append(rerun, nodeName(n))
		}
		sc.Resume = &Resume{Runbook: path, From: nodeName(r.From), Rerun: rerun, Force: r.Force, Reason: r.Reason, FirstStatus: runbook.Status(r.FirstStatus), worlds: r.Worlds}
	}
	for _, f := range ss.Faults {
		mode, err := ParseFaultMode(f.Mode)
		switch {
		case err != nil:
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid fault mode", Detail: fmt.Sprintf("Scenario %q: %v.", name, err), Subject: f.DefRange.Ptr()})
			continue
		case mode == FaultCrashAfter:
			diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid fault mode", Detail: fmt.Sprintf("Scenario %q: a crash is written crash_after = %q in the scenario: the run stops dead after the node and a new process resumes it.", name, f.Node), Subject: f.DefRange.Ptr()})
			continue
		}
		ft := Fault{Node: f.Node, Mode: mode}
		if f.Latency != "" || mode == FaultLatency {
			d, err := time.ParseDuration(f.Latency)
			if err != nil || d <= 0 {
				diags = append(diags, &hhcl.Diagnostic{Severity: hhcl.DiagError, Summary: "Invalid fault latency", Detail: fmt.Sprintf("Scenario %q: a latency fault needs latency = \"30s\" (a positive duration), not %q.", name, f.Latency), Subject: f.DefRange.Ptr()})
				continue
			}
			ft.Latency = d
		}
		sc.Faults = append(sc.Faults, ft)
	}
	return sc, diags
}

// evalContext offers var.*, test.today (the start date as YYYYMMDD),
// test.start (RFC 3339) and a few functions to test files.
func (tf *TestFile) evalContext(vars map[string]cty.Value) *hhcl.EvalContext {
	all := map[string]cty.Value{}
	for k, x := range tf.auto {
		all[k] = x
	}
	for k, x := range vars {
		all[k] = x
	}
	v := cty.EmptyObjectVal
	if len(all) > 0 {
		v = cty.ObjectVal(all)
	}
	dir := filepath.Dir(tf.Path)
	return &hhcl.EvalContext{
		Variables: map[string]cty.Value{
			"var": v,
			"test": cty.ObjectVal(map[string]cty.Value{
				"today": cty.StringVal(tf.start.UTC().Format("20060102")),
				"start": cty.StringVal(tf.start.UTC().Format(time.RFC3339)),
			}),
		},
		Functions: map[string]function.Function{
			"jsonencode": stdlib.JSONEncodeFunc, "format": stdlib.FormatFunc, "join": stdlib.JoinFunc,
			"concat": stdlib.ConcatFunc, "upper": stdlib.UpperFunc, "lower": stdlib.LowerFunc,
			"file": function.New(&function.Spec{
				Params: []function.Parameter{{Name: "path", Type: cty.String}},
				Type:   function.StaticReturnType(cty.String),
				Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
					p := args[0].AsString()
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					b, err := os.ReadFile(p)
					if err != nil {
						return cty.NilVal, err
					}
					return cty.StringVal(string(b)), nil
				},
			}),
		},
	}
}

// varStrings renders variables as -var values: strings as they are, other
// values in HCL syntax.
func varStrings(vars map[string]cty.Value) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		if v.Type().Equals(cty.String) && v.IsKnown() && !v.IsNull() {
			out[k] = v.AsString()
			continue
		}
		out[k] = strings.TrimSpace(string(hclwrite.TokensForValue(v).Bytes()))
	}
	return out
}

// nameGroups reads a list of node names in which a nested list is a group
// whose members may appear in any order (the branches of a parallel
// phase). A null value yields nil (no expectation).
func nameGroups(v cty.Value) ([][]string, error) {
	if v.IsNull() || !v.IsKnown() {
		return nil, nil
	}
	if !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
		return nil, fmt.Errorf("want a list of node names, got %s", v.Type().FriendlyName())
	}
	out := [][]string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		switch {
		case e.Type().Equals(cty.String):
			out = append(out, []string{nodeName(e.AsString())})
		case e.CanIterateElements() && !e.Type().IsMapType() && !e.Type().IsObjectType():
			var g []string
			for gi := e.ElementIterator(); gi.Next(); {
				_, n := gi.Element()
				if !n.Type().Equals(cty.String) {
					return nil, fmt.Errorf("a group holds node names, found %s", n.Type().FriendlyName())
				}
				g = append(g, nodeName(n.AsString()))
			}
			out = append(out, g)
		default:
			return nil, fmt.Errorf("want node names (or lists of them for any-order groups), found %s", e.Type().FriendlyName())
		}
	}
	return out, nil
}

// --- world setup ---------------------------------------------------------

// ApplyWorld applies the file's world blocks to w, then those of sc (nil:
// the file-wide ones only).
func (tf *TestFile) ApplyWorld(w *World, sc *Scenario) error {
	worlds := tf.worlds
	if sc != nil {
		worlds = append(append([]*worldSyntax(nil), tf.worlds...), sc.worlds...)
	}
	for _, ws := range worlds {
		if err := applyWorld(w, ws, tf.start); err != nil {
			return fmt.Errorf("%s: world: %w", tf.Path, err)
		}
	}
	return nil
}

func duration(s, what string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as 9m or 1h30m", what, s)
	}
	return d, nil
}

func applyWorld(w *World, ws *worldSyntax, start time.Time) error {
	if len(ws.DockerImages) > 0 {
		w.Docker.AddImages(ws.DockerImages...)
	}
	for _, ref := range ws.DockerUnhealthy {
		w.Docker.SetUnhealthy(ref)
	}
	for ref, msg := range ws.DockerPullFails {
		w.Docker.FailPull(ref, fmt.Errorf("%s", msg))
	}
	for _, c := range ws.DockerContainers {
		if !w.Docker.HasImage(c.Image) {
			w.Docker.AddImages(c.Image)
		}
		labels := map[string]string{}
		if c.Project != "" {
			labels["com.docker.compose.project"] = c.Project
		}
		if c.Service != "" {
			labels["com.docker.compose.service"] = c.Service
		}
		if _, err := w.Docker.RunContainer(c.Name, c.Image, labels); err != nil {
			return fmt.Errorf("docker_container %s: %w", c.Name, err)
		}
		if len(c.Logs) > 0 {
			if err := w.Docker.AppendLogs(c.Name, c.Logs...); err != nil {
				return fmt.Errorf("docker_container %s: logs: %w", c.Name, err)
			}
		}
	}
	for _, e := range ws.DockerExecs {
		w.Docker.SetExecResult(e.Container, e.Command, docker.ExecResult{ExitCode: e.ExitCode, Stdout: e.Stdout, Stderr: e.Stderr})
	}
	for _, p := range ws.Postgres {
		if p.Version != nil {
			w.Postgres.SetVersion(*p.Version)
		}
		for _, v := range p.FixedMigrations {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("postgres: fixed_migrations: %q is not a version number", v)
			}
			w.Postgres.FixMigration(n)
		}
		for v, msg := range p.FailMigrations {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("postgres: fail_migrations: %q is not a version number", v)
			}
			w.Postgres.FailMigration(n, msg)
		}
		for v, msg := range p.FailMigrationsDown {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("postgres: fail_migrations_down: %q is not a version number", v)
			}
			w.Postgres.FailMigrationDown(n, msg)
		}
		if p.Unreachable {
			w.Postgres.SetUnreachable(true)
		}
		for _, q := range p.Queries {
			rows, err := goRows(q.Rows)
			if err != nil {
				return fmt.Errorf("postgres: query %q: rows: %w", q.SQL, err)
			}
			w.Postgres.ScriptQuery(q.SQL, q.Columns, rows...)
		}
	}
	for _, b := range ws.S3Buckets {
		w.AWS.CreateBucket(b.Name, b.Versioned)
	}
	for _, o := range ws.S3Objects {
		age, err := duration(o.Age, "s3_object "+o.Key+": age")
		if err != nil {
			return err
		}
		content := o.Content
		if content == "" {
			content = "sandbox object " + o.Key + "\n"
		}
		w.AWS.PutObject(o.Bucket, o.Key, []byte(content), start.Add(-age))
	}
	for _, r := range ws.ELBRules {
		w.AWS.SetRule(r.ARN, targetWeights(r.Weights)...)
	}
	for _, p := range ws.Prometheus {
		s := w.Prometheus.Script(p.Query)
		switch {
		case p.NoData:
			s.NoData()
		case p.Value != nil:
			s.Value(*p.Value)
		}
		for _, at := range p.At {
			d, err := duration(at.After, "prometheus "+p.Query+": at: after")
			if err != nil {
				return err
			}
			if at.Value == nil {
				return fmt.Errorf("prometheus %s: at: give the value the query answers from then on", p.Query)
			}
			if at.Node != "" {
				s.AfterNode(nodeName(at.Node), d, *at.Value)
			} else {
				s.At(start.Add(d), *at.Value)
			}
		}
	}
	for _, r := range ws.HTTP {
		hw := w.HTTP
		if r.Host != "" {
			hw = w.HTTPHost(r.Host)
		}
		method := r.Method
		if method == "" {
			method = "GET"
		}
		resp, err := response(r.Status, r.JSON, r.Body, r.Latency)
		if err != nil {
			return fmt.Errorf("http %s %s: %w", method, r.Path, err)
		}
		ep := hw.Route(method, r.Path).Reply(resp)
		for _, at := range r.At {
			d, err := duration(at.After, "http "+r.Path+": at: after")
			if err != nil {
				return err
			}
			resp, err := response(at.Status, at.JSON, at.Body, at.Latency)
			if err != nil {
				return fmt.Errorf("http %s %s: at: %w", method, r.Path, err)
			}
			if at.Node != "" {
				ep.AfterNode(nodeName(at.Node), d, resp)
			} else {
				ep.At(start.Add(d), resp)
			}
		}
	}
	for _, h := range ws.SSHHosts {
		host := w.SSH.Host(h.Host)
		for _, d := range h.Dirs {
			host.WriteFile(d+"/.keep", "")
		}
		for p, c := range h.Files {
			host.WriteFile(p, c)
		}
		for p, target := range h.Symlinks {
			host.Symlink(target, p)
		}
		if h.Down {
			w.SSH.Down(h.Host, true)
		}
	}
	for _, r := range ws.SSHReplies {
		host := r.Host
		if host == "" {
			host = "*"
		}
		if (len(r.Command) == 0) == (r.Script == "") {
			return fmt.Errorf("ssh_reply: give command (argv patterns, \"...\" for any rest) or script (a substring), not both")
		}
		if len(r.Command) > 0 {
			x := w.SSH.On(host, r.Command...).Stdout(r.Stdout).Stderr(r.Stderr).Exit(r.ExitCode)
			if r.Times > 0 {
				x.Times(r.Times)
			}
		} else {
			x := w.SSH.OnScript(host, r.Script).Stdout(r.Stdout).Stderr(r.Stderr).Exit(r.ExitCode)
			if r.Times > 0 {
				x.Times(r.Times)
			}
		}
	}
	for _, r := range ws.ExecReplies {
		x := w.Exec.On(r.Command...).Stdout(r.Stdout).Stderr(r.Stderr).Exit(r.ExitCode)
		if r.Times > 0 {
			x.Times(r.Times)
		}
	}
	for _, k := range ws.K6 {
		w.Exec.OnK6(k.Summary, k.ExitCode)
	}
	return nil
}

func targetWeights(m map[string]int) []aws.TargetWeight {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]aws.TargetWeight, len(keys))
	for i, k := range keys {
		out[i] = aws.TargetWeight{TargetGroupARN: k, Weight: m[k]}
	}
	return out
}

func response(status int, js cty.Value, body, latency string) (httpfake.Response, error) {
	if status == 0 {
		status = 200
	}
	lat, err := duration(latency, "latency")
	if err != nil {
		return httpfake.Response{}, err
	}
	var r httpfake.Response
	switch {
	case !js.IsNull() && js.IsKnown():
		b, err := ctyjson.Marshal(js, js.Type())
		if err != nil {
			return httpfake.Response{}, fmt.Errorf("json: %w", err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return httpfake.Response{}, fmt.Errorf("json: %w", err)
		}
		r = httpfake.JSON(status, v)
	case body != "":
		r = httpfake.Text(status, body)
	default:
		r = httpfake.JSON(status, map[string]any{})
	}
	r.Latency = lat
	return r, nil
}

func goRows(v cty.Value) ([][]any, error) {
	if v.IsNull() {
		return nil, nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	var rows [][]any
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("want a list of rows (lists of values): %w", err)
	}
	return rows, nil
}
