package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
)

// This file is the in-house provider: "flags", a feature-flag service
// client with one action, flag_set, whose natural rollback puts the flag
// back as it was. It implements provider.Provider like the standard
// providers do, and is registered next to them.

// FlagState is a flag's value: on or off, and the share of users it is on
// for.
type FlagState struct {
	Enabled    bool `json:"enabled"`
	Percentage int  `json:"percentage"`
}

// FlagService is what the provider needs of the feature-flag service.
type FlagService interface {
	Get(ctx context.Context, flag string) (FlagState, error)
	Set(ctx context.Context, flag string, s FlagState) error
}

// ErrFlag is wrapped by the flag service's errors.
var ErrFlag = errors.New("flags")

// MemFlags is an in-memory flag service (the demo's, and the tests'). The
// zero value is ready to use.
type MemFlags struct {
	mu    sync.Mutex
	flags map[string]FlagState
	sets  int
}

// Get returns a flag's state (off when unknown).
func (m *MemFlags) Get(_ context.Context, flag string) (FlagState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flags[flag], nil
}

// Set changes a flag.
func (m *MemFlags) Set(_ context.Context, flag string, s FlagState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flags == nil {
		m.flags = map[string]FlagState{}
	}
	m.flags[flag] = s
	m.sets++
	return nil
}

// HTTPFlags talks to a flag service's JSON API: GET and PUT
// {base}/flags/{name} with a FlagState body, a bearer token.
type HTTPFlags struct {
	Base   string
	Token  string
	Client *http.Client
}

func (h *HTTPFlags) do(ctx context.Context, method, flag string, body any, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.Base, "/")+"/flags/"+url.PathEscape(flag), rd)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrFlag, method, flag, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrFlag, method, flag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: %s %s: HTTP %d", ErrFlag, method, flag, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrFlag, method, flag, err)
		}
	}
	return nil
}

// Get implements FlagService.
func (h *HTTPFlags) Get(ctx context.Context, flag string) (FlagState, error) {
	var s FlagState
	return s, h.do(ctx, http.MethodGet, flag, nil, &s)
}

// Set implements FlagService.
func (h *HTTPFlags) Set(ctx context.Context, flag string, s FlagState) error {
	return h.do(ctx, http.MethodPut, flag, s, nil)
}

// FlagsProvider is the "flags" provider. Service, when set, serves every
// instance (an in-memory service, a fake); otherwise each instance talks
// HTTP to its url.
type FlagsProvider struct {
	Service FlagService
}

var _ provider.Provider = (*FlagsProvider)(nil)

// Type returns "flags".
func (p *FlagsProvider) Type() string { return "flags" }

// ConfigSchema returns the schema of a provider "flags" block.
func (p *FlagsProvider) ConfigSchema() provider.Schema {
	return provider.Schema{
		"url":   {Type: cty.String, Description: "Base URL of the flag service's API."},
		"token": {Type: cty.String, Sensitive: true, Description: "API token."},
	}
}

// FlagsInstance is a configured flags provider.
type FlagsInstance struct {
	name string
	svc  FlagService
}

// Name returns "flags.<name>".
func (i *FlagsInstance) Name() string { return i.name }

// Configure returns an instance; it does not connect.
func (p *FlagsProvider) Configure(_ context.Context, name string, config cty.Value) (provider.Instance, error) {
	if p.Service != nil {
		return &FlagsInstance{name: "flags." + name, svc: p.Service}, nil
	}
	u, tok := attr(config, "url"), attr(config, "token")
	if u == "" {
		return nil, fmt.Errorf("provider flags.%s: url is required (url = \"https://flags.example.com/api\")", name)
	}
	return &FlagsInstance{name: "flags." + name, svc: &HTTPFlags{Base: u, Token: tok}}, nil
}

func attr(v cty.Value, name string) string {
	if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return ""
	}
	a := v.GetAttr(name)
	if a.IsNull() || !a.IsKnown() || !a.Type().Equals(cty.String) {
		return ""
	}
	return a.AsString()
}

// Actions returns flag_set.
func (p *FlagsProvider) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		"flag_set": {
			Description: "Set a feature flag; the natural rollback puts back the state it had before the step.",
			Args: provider.Schema{
				"flag":       {Type: cty.String, Required: true, Description: "The flag's name."},
				"enabled":    {Type: cty.Bool, Required: true, Description: "On or off."},
				"percentage": {Type: cty.Number, Description: "Share of users (0-100, default 100)."},
			},
			Outputs: map[string]provider.Output{
				"previous_enabled":    {Type: cty.Bool, Description: "The state before the step."},
				"previous_percentage": {Type: cty.Number, Description: "The share before the step."},
			},
			NaturalRollback: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				in, ok := inst.(*FlagsInstance)
				if !ok {
					return nil, fmt.Errorf("flag_set needs provider = flags.<name>")
				}
				s := FlagState{Enabled: !args.GetAttr("enabled").IsNull() && args.GetAttr("enabled").True(), Percentage: 100}
				if pv := args.GetAttr("percentage"); !pv.IsNull() {
					f, _ := pv.AsBigFloat().Int64()
					s.Percentage = int(f)
				}
				return NewFlagSet(in, attr(args, "flag"), s)
			},
		},
	}
}

// FlagSet is the flag_set action.
type FlagSet struct {
	inst *FlagsInstance
	flag string
	to   FlagState
}

// NewFlagSet returns the flag_set action (usable from Go runbooks too).
func NewFlagSet(inst *FlagsInstance, flag string, to FlagState) (*FlagSet, error) {
	if strings.TrimSpace(flag) == "" {
		return nil, fmt.Errorf("%s flag_set: flag is empty", inst.Name())
	}
	if to.Percentage < 0 || to.Percentage > 100 {
		return nil, fmt.Errorf("%s flag_set %s: percentage %d is not between 0 and 100", inst.Name(), flag, to.Percentage)
	}
	return &FlagSet{inst: inst, flag: flag, to: to}, nil
}

// Do captures the flag's state and checkpoints it in the journal before
// setting the flag, so that a lost answer, a retry or a crash after the
// change still rolls back to the state before the first attempt (a retry
// reuses the checkpoint instead of reading what its own attempt set).
func (a *FlagSet) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	var prev FlagState
	if cp := env.Checkpointed(); cp != nil {
		prev.Enabled, _ = cp["previous_enabled"].(bool)
		prev.Percentage = toInt(cp["previous_percentage"])
	} else {
		var err error
		if prev, err = a.inst.svc.Get(ctx, a.flag); err != nil {
			return nil, err
		}
		if err := env.Checkpoint(ctx, runbook.Outputs{"previous_enabled": prev.Enabled, "previous_percentage": prev.Percentage}); err != nil {
			return nil, err
		}
	}
	if err := a.inst.svc.Set(ctx, a.flag, a.to); err != nil {
		return nil, err
	}
	env.Emit(fmt.Sprintf("flag %s: %v/%d%% -> %v/%d%%", a.flag, prev.Enabled, prev.Percentage, a.to.Enabled, a.to.Percentage), nil)
	return runbook.Outputs{"previous_enabled": prev.Enabled, "previous_percentage": prev.Percentage}, nil
}

// Describe implements runbook.Describer.
func (a *FlagSet) Describe() runbook.Description {
	return runbook.Description{Provider: a.inst.Name(), Action: "flag_set"}
}

// NaturalRollback puts the flag back as the step's outputs say it was: it
// relies only on its arguments and the outputs (a rollback in a later
// process rebuilds the action and reads the outputs from the journal).
func (a *FlagSet) NaturalRollback() runbook.Rollback { return flagRestore{a} }

type flagRestore struct{ a *FlagSet }

func (r flagRestore) Compensate(ctx context.Context, env *runbook.Env) error {
	self := env.Self()
	en, ok := self["previous_enabled"].(bool)
	if !ok {
		return runbook.Permanent(fmt.Errorf("%s flag_set %s: no previous state in the step's outputs", r.a.inst.Name(), r.a.flag))
	}
	var pct int
	switch v := self["previous_percentage"].(type) {
	case int:
		pct = v
	case int64:
		pct = int(v)
	case float64:
		pct = int(v)
	}
	return r.a.inst.svc.Set(ctx, r.a.flag, FlagState{Enabled: en, Percentage: pct})
}

func (r flagRestore) Describe() runbook.Description { return r.a.Describe() }

// toInt reads a share from outputs (an int in memory, a float64 once
// through JSON).
func toInt(v any) int {
	switch x := v.(type) {
	case int:
		return x
	case int64:
		return int(x)
	case float64:
		return int(x)
	}
	return 0
}
