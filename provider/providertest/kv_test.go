package providertest_test

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/runbook"
)

// kvWorld is a tiny key-value store and the provider "kv" acting on it:
// kv_set sets a key (its rollback restores the previous value, or deletes
// a key it created), kv_note appends to a log nobody can take back (a
// lasting effect). The broken flavours show what the suite catches.
type kvWorld struct {
	mu     sync.Mutex
	data   map[string]string
	log    []string
	faults fault.Injector
	// noCheckpoint captures the previous value in the outputs only (the
	// ambiguous-failure bug); recapture re-reads it on every attempt even
	// with a checkpoint; blind rollback deletes the key whatever it was.
	noCheckpoint, recapture, blind bool
}

func newKV() *kvWorld { return &kvWorld{data: map[string]string{"colour": "blue"}} }

func (w *kvWorld) snapshot(context.Context) (map[string]any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data := map[string]any{}
	for k, v := range w.data {
		data[k] = v
	}
	log := make([]any, len(w.log))
	for i, l := range w.log {
		log[i] = l
	}
	return map[string]any{"data": data, "log": log}, nil
}

func (w *kvWorld) get(key string) (string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.data[key]
	return v, ok
}

// set is the call that changes the world.
func (w *kvWorld) set(ctx context.Context, key string, value *string) error {
	return w.faults.Do(ctx, "Set", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if value == nil {
			delete(w.data, key)
		} else {
			w.data[key] = *value
		}
		return nil
	})
}

func (w *kvWorld) note(ctx context.Context, text string) error {
	return w.faults.Do(ctx, "Note", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.log = append(w.log, text)
		return nil
	})
}

func (w *kvWorld) Type() string                  { return "kv" }
func (w *kvWorld) ConfigSchema() provider.Schema { return provider.Schema{} }

type kvInstance struct {
	w    *kvWorld
	name string
}

func (i *kvInstance) Name() string { return "kv." + i.name }

func (w *kvWorld) Configure(_ context.Context, name string, _ cty.Value) (provider.Instance, error) {
	return &kvInstance{w: w, name: name}, nil
}

func (w *kvWorld) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{
		"kv_set": {
			Args:            provider.Schema{"key": {Type: cty.String, Required: true}, "value": {Type: cty.String, Required: true}},
			NaturalRollback: true,
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				return &kvSet{i: inst.(*kvInstance), key: args.GetAttr("key").AsString(), value: args.GetAttr("value").AsString()}, nil
			},
		},
		"kv_note": {
			Args: provider.Schema{"text": {Type: cty.String, Required: true}},
			New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
				i := inst.(*kvInstance)
				text := args.GetAttr("text").AsString()
				return runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
					return runbook.Outputs{"text": text}, i.w.note(ctx, text)
				}), nil
			},
		},
	}
}

type kvSet struct {
	i          *kvInstance
	key, value string
}

// Do captures the previous value, checkpoints it before the change (once:
// a retry reuses the first attempt's capture), then sets the key.
func (a *kvSet) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	w := a.i.w
	prev, existed := w.get(a.key)
	capture := runbook.Outputs{"key": a.key, "previous": prev, "existed": existed}
	if cp := env.Checkpointed(); cp != nil && !w.recapture {
		capture = cp
	} else if !w.noCheckpoint {
		if err := env.Checkpoint(ctx, capture); err != nil {
			return nil, err
		}
	}
	v := a.value
	if err := w.set(ctx, a.key, &v); err != nil {
		return nil, fmt.Errorf("kv_set %s: %w", a.key, err)
	}
	out := runbook.Outputs{"value": a.value}
	for k, v := range capture {
		out[k] = v
	}
	return out, nil
}

func (a *kvSet) NaturalRollback() runbook.Rollback { return kvBack{a} }

type kvBack struct{ a *kvSet }

// Compensate puts back what the step captured; without a capture the step
// changed nothing.
func (r kvBack) Compensate(ctx context.Context, env *runbook.Env) error {
	self := env.Self()
	w := r.a.i.w
	if w.blind {
		return w.set(ctx, r.a.key, nil)
	}
	existed, ok := self["existed"].(bool)
	if !ok {
		return nil
	}
	if !existed {
		return w.set(ctx, r.a.key, nil)
	}
	prev, _ := self["previous"].(string)
	return w.set(ctx, r.a.key, &prev)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
