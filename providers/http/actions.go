package http

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// Action names.
const (
	ActionCheck   = "http_check"
	ActionRequest = "http_request"
)

// Check is the http_check action and probe: a call whose status and JSON
// body must meet expectations. As a step it is read-only and fails with an
// [*ExpectationError]; as a probe its sample value is the decoded body and
// self.ok tells whether the expectations held.
type Check struct {
	inst *Instance
	c    *compiled
}

var (
	_ runbook.Action    = (*Check)(nil)
	_ runbook.Probe     = (*Check)(nil)
	_ runbook.ReadOnly  = (*Check)(nil)
	_ runbook.Describer = (*Check)(nil)
)

// NewCheck returns an http_check against inst. Bad input (an unknown
// expectation kind, a bad path or regular expression) is an error here,
// before anything runs.
func NewCheck(inst *Instance, r Request) (*Check, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionCheck)
	}
	if len(r.Extract) > 0 || len(r.SensitiveOutputs) > 0 {
		return nil, fmt.Errorf("%s: extract and sensitive_outputs belong to %s", ActionCheck, ActionRequest)
	}
	c, err := compileRequest(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ActionCheck, err)
	}
	return &Check{inst: inst, c: c}, nil
}

// ReadOnly reports true: a check changes nothing.
func (a *Check) ReadOnly() bool { return true }

// Describe names the instance and action.
func (a *Check) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: ActionCheck}
}

// Do calls the URL and fails unless the status and every expectation hold.
func (a *Check) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	c, err := a.c.bind(env)
	if err != nil {
		return nil, runbook.Permanent(err)
	}
	resp, err := a.inst.send(ctx, env, c)
	if err != nil {
		return nil, err
	}
	fails := c.evaluate(resp)
	if len(fails) > 0 {
		return nil, &ExpectationError{Method: resp.method, URL: resp.url, StatusCode: resp.status, Failures: fails}
	}
	out := resp.outputs(env, c.sensitiveHeaders(a.inst))
	out["ok"] = true
	return out, nil
}

// Sample calls the URL once. A response of any status is a sample (value:
// the decoded JSON body, or the text; ok: whether status and expectations
// held; failures: why not); a call that got no response is an error.
func (a *Check) Sample(ctx context.Context, env *runbook.Env) (runbook.Sample, error) {
	c, err := a.c.bind(env)
	if err != nil {
		return runbook.Sample{}, err
	}
	resp, err := a.inst.send(ctx, env, c)
	if err != nil {
		return runbook.Sample{}, err
	}
	fails := c.evaluate(resp)
	out := resp.outputs(env, c.sensitiveHeaders(a.inst))
	out["ok"] = len(fails) == 0
	fl := make([]any, len(fails))
	for k, f := range fails {
		fl[k] = f
	}
	out["failures"] = fl
	value := out["json"] // already converted; the text when not JSON
	if !resp.isJSON {
		value = string(resp.body)
	}
	return runbook.Sample{Value: value, Outputs: out}, nil
}

// OK returns a condition that holds when the sample met its expectations
// (self.ok): the success condition of a gate check built from an http_check
// probe.
func OK() runbook.Condition {
	return runbook.ConditionFunc(func(env *runbook.Env, _ any) (bool, error) {
		ok, _ := env.Self()["ok"].(bool)
		return ok, nil
	})
}

func (c *compiled) sensitiveHeaders(i *Instance) map[string]bool {
	m := map[string]bool{}
	for _, h := range append(append([]string(nil), i.cfg.SensitiveHeaders...), c.req.SensitiveHeaders...) {
		m[strings.ToLower(h)] = true
	}
	return m
}

// Call is the http_request action: a call whose response becomes the step's
// outputs, plus values extracted from the JSON body by path.
type Call struct {
	inst *Instance
	c    *compiled
}

var (
	_ runbook.Action    = (*Call)(nil)
	_ runbook.ReadOnly  = (*Call)(nil)
	_ runbook.Describer = (*Call)(nil)
)

// NewRequest returns an http_request against inst.
func NewRequest(inst *Instance, r Request) (*Call, error) {
	if inst == nil {
		return nil, fmt.Errorf("%s: no provider instance", ActionRequest)
	}
	c, err := compileRequest(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ActionRequest, err)
	}
	return &Call{inst: inst, c: c}, nil
}

// ReadOnly reports true: http_request is meant for calls that need no
// compensation (logins, smoke tests). Give a step that changes the world
// an explicit rollback.
func (a *Call) ReadOnly() bool { return true }

// Describe names the instance and action.
func (a *Call) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: ActionRequest}
}

// Do sends the request, checks status and expectations, and returns the
// response and the extracted values as outputs.
func (a *Call) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	c, err := a.c.bind(env)
	if err != nil {
		return nil, runbook.Permanent(err)
	}
	resp, err := a.inst.send(ctx, env, c)
	if err != nil {
		return nil, err
	}
	// Register secrets first, so that no message below can show them.
	extracted := map[string]any{}
	var missing, secrets []string
	for _, name := range sortedKeys(c.paths) {
		v, ok := lookup(resp.root(), c.paths[name])
		if !ok || (!resp.isJSON && len(c.paths[name]) > 0) {
			missing = append(missing, fmt.Sprintf("extract %s: want a value at %q, got nothing (no such path)", name, c.req.Extract[name]))
			continue
		}
		if c.secret[name] {
			sv := secretString(v)
			secrets = append(secrets, sv)
			extracted[name] = env.AddSecret(sv)
			continue
		}
		extracted[name] = plain(v)
	}
	fails := c.evaluate(resp)
	fails = append(fails, missing...)
	if len(fails) > 0 {
		return nil, &ExpectationError{Method: resp.method, URL: resp.url, StatusCode: resp.status, Failures: fails}
	}
	out := resp.outputs(env, c.sensitiveHeaders(a.inst))
	if len(secrets) > 0 {
		// The body and its JSON carry the sensitive values too: hide them
		// there, so that no output holds a secret but the Secret itself.
		red := runbook.NewRedactor(secrets...)
		out["body"] = red.Redact(out["body"].(string))
		out["json"] = red.RedactValue(out["json"])
	}
	out["ok"] = true
	out["extracted"] = extracted
	for k, v := range extracted {
		out[k] = v
	}
	return out, nil
}

func secretString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(plain(v))
	return string(b)
}

// commonArgs is the argument schema both actions share.
func commonArgs() provider.Schema {
	return provider.Schema{
		"method":            {Type: cty.String, Description: "HTTP method (default GET)."},
		"url":               {Type: cty.String, Required: true, Description: "Absolute URL, or relative to the provider's base_url."},
		"headers":           {Type: cty.Map(cty.String), Description: "Request headers; values of sensitive headers are secrets."},
		"sensitive_headers": {Type: cty.List(cty.String), Description: "More header names whose values are secrets."},
		"body":              {Type: cty.DynamicPseudoType, Description: "A string sent as is, or an object/list sent as JSON."},
		"timeout":           {Type: cty.String, Description: "Timeout of the call (default: the provider's)."},
		"expect_status":     {Type: cty.DynamicPseudoType, Description: "Acceptable status code or list of codes (default: any 2xx)."},
		"expect":            {Type: cty.DynamicPseudoType, Description: "Map of JSON path to the value expected there: { status = \"healthy\" }."},
		"match":             {Type: cty.DynamicPseudoType, Description: "Map of JSON path to conditions: { uptime = { gt = 0 }, version = { regex = \"^0\\\\.3\" } }; kinds: " + opNames() + "."},
	}
}

func responseOutputs() map[string]provider.Output {
	return map[string]provider.Output{
		"status_code": {Type: cty.Number, Description: "HTTP status code."},
		"latency_ms":  {Type: cty.Number, Description: "Time from sending the request to the response headers, in milliseconds."},
		"body":        {Type: cty.String, Description: "Response body text."},
		"json":        {Type: cty.DynamicPseudoType, Description: "Decoded JSON body (null when not JSON)."},
		"headers":     {Type: cty.Map(cty.String), Description: "Response headers (sensitive ones hidden)."},
		"ok":          {Type: cty.Bool, Description: "Status and expectations held."},
		"failures":    {Type: cty.List(cty.String), Description: "As a probe: the expectations that did not hold."},
	}
}

// Actions returns http_check and http_request.
func (p *Provider) Actions() map[string]provider.ActionType {
	reqArgs := commonArgs()
	reqArgs["extract"] = provider.Attribute{Type: cty.Map(cty.String), Description: "Map of output name to JSON path: { token = \"token\" } makes step.<name>.token."}
	reqArgs["sensitive_outputs"] = provider.Attribute{Type: cty.List(cty.String), Description: "Extracted outputs that are secrets."}
	reqOuts := responseOutputs()
	delete(reqOuts, "failures")
	reqOuts["extracted"] = provider.Output{Type: cty.DynamicPseudoType, Description: "The extracted values by name (each also an output of its own)."}
	return map[string]provider.ActionType{
		ActionCheck: {
			Args:        commonArgs(),
			Outputs:     responseOutputs(),
			ReadOnly:    true,
			Description: "Call a URL and check its status and JSON body; a step or a gate probe (self.value is the body, self.ok the verdict).",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, r, err := decode(inst, v, ActionCheck)
				if err != nil {
					return nil, err
				}
				return NewCheck(i, r)
			},
			NewProbe: func(inst provider.Instance, v cty.Value) (runbook.Probe, error) {
				i, r, err := decode(inst, v, ActionCheck)
				if err != nil {
					return nil, err
				}
				return NewCheck(i, r)
			},
		},
		ActionRequest: {
			Args:           reqArgs,
			Outputs:        reqOuts,
			DynamicOutputs: p.RequestOutputs,
			ReadOnly:       true,
			Description:    "Send a request; the response (status_code, headers, body, json, latency_ms) and extracted JSON paths become outputs.",
			New: func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
				i, r, err := decode(inst, v, ActionRequest)
				if err != nil {
					return nil, err
				}
				return NewRequest(i, r)
			},
		},
	}
}

// RequestOutputs returns the outputs an http_request step with these
// arguments declares: the fixed ones plus one per name of `extract`
// (sensitive when listed in `sensitive_outputs`), so that a front end can
// accept step.login.token at plan time. Unknown or absent extract maps
// give the fixed outputs only; extracted values are always reachable as
// step.<name>.extracted.<key> too.
func (p *Provider) RequestOutputs(v cty.Value) map[string]provider.Output {
	out := p.Actions()[ActionRequest].Outputs
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute("extract") {
		return out
	}
	ex := v.GetAttr("extract")
	if ex.IsNull() || !ex.IsWhollyKnown() || !(ex.Type().IsMapType() || ex.Type().IsObjectType()) {
		return out
	}
	sens := map[string]bool{}
	if v.Type().HasAttribute("sensitive_outputs") {
		if so := v.GetAttr("sensitive_outputs"); !so.IsNull() && so.IsWhollyKnown() && so.CanIterateElements() {
			for it := so.ElementIterator(); it.Next(); {
				if _, e := it.Element(); e.Type().Equals(cty.String) {
					sens[e.AsString()] = true
				}
			}
		}
	}
	for it := ex.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		name := k.AsString()
		if fixedOutputs[name] {
			continue
		}
		out[name] = provider.Output{Type: cty.DynamicPseudoType, Sensitive: sens[name], Description: "Extracted from the JSON body."}
	}
	return out
}

// decode turns HCL arguments into a Request.
func decode(inst provider.Instance, v cty.Value, action string) (*Instance, Request, error) {
	i, ok := inst.(*Instance)
	if !ok || i == nil {
		name := "none"
		if inst != nil {
			name = inst.Name()
		}
		return nil, Request{}, fmt.Errorf("%s: needs an http provider instance, got %s", action, name)
	}
	a := &ctyargs.Attrs{V: v, Where: action}
	r := Request{
		Method: a.Str("method"), URL: a.Str("url"), Headers: a.StrMap("headers"), SensitiveHeaders: a.Strs("sensitive_headers"),
		Timeout: a.Duration("timeout"), Body: a.Value("body"),
	}
	if action == ActionRequest {
		r.Extract, r.SensitiveOutputs = a.StrMap("extract"), a.Strs("sensitive_outputs")
	}
	status, _ := a.Get("expect_status")
	eq, mt := a.Value("expect"), a.Value("match")
	if err := a.Err(); err != nil {
		return nil, r, err
	}
	wrap := func(err error) error { return fmt.Errorf("%s: %w", action, err) }
	var err error
	if r.ExpectStatus, err = decodeStatus(status); err != nil {
		return nil, r, wrap(err)
	}
	if eq != nil {
		m, ok := eq.(map[string]any)
		if !ok {
			return nil, r, wrap(fmt.Errorf("expect: want a map of JSON path to expected value, got %s", render(eq)))
		}
		for _, k := range sortedKeys(m) {
			r.Expect = append(r.Expect, Equal(k, m[k]))
		}
	}
	if mt != nil {
		m, ok := mt.(map[string]any)
		if !ok {
			return nil, r, wrap(fmt.Errorf("match: want a map of JSON path to conditions, got %s", render(mt)))
		}
		for _, path := range sortedKeys(m) {
			conds, ok := m[path].(map[string]any)
			if !ok || len(conds) == 0 {
				return nil, r, wrap(fmt.Errorf("match[%q]: want conditions such as { gt = 0 } or { one_of = [...] } (kinds: %s)", path, opNames()))
			}
			for _, op := range sortedKeys(conds) {
				r.Expect = append(r.Expect, Expectation{Path: path, Op: Op(op), Value: conds[op]})
			}
		}
	}
	return i, r, nil
}

func decodeStatus(v cty.Value) ([]int, error) {
	if v.IsNull() {
		return nil, nil
	}
	g, err := ctyargs.GoValue(v)
	if err != nil {
		return nil, fmt.Errorf("expect_status: %w", err)
	}
	var list []any
	switch x := g.(type) {
	case []any:
		list = x
	default:
		list = []any{x}
	}
	var out []int
	for _, e := range list {
		n, ok := e.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil {
			return nil, fmt.Errorf("expect_status: want a status code or a list of them, got %s", render(e))
		}
		out = append(out, int(i))
	}
	sort.Ints(out)
	return out, nil
}
