package sandbox_test

import (
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/handrail-dev/handrail/sandbox"
)

// kvStore is an in-house provider "kv" for the matrix's own tests: kv_set
// sets a key, and its natural rollback puts back what was there. Broken
// flavours show what the matrix catches.
type kvStore struct {
	mu   sync.Mutex
	data map[string]string
	// noCheckpoint keeps the previous value in the outputs only: a failure
	// after the change leaves the rollback nothing to restore.
	noCheckpoint bool
	// forgetful rollbacks do nothing.
	forgetful bool
}

func (s *kvStore) snapshot() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]any{}
	for k, v := range s.data {
		out[k] = v
	}
	return out
}

func (s *kvStore) set(key string, value *string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if value == nil {
		delete(s.data, key)
	} else {
		s.data[key] = *value
	}
}

func (s *kvStore) Type() string                  { return "kv" }
func (s *kvStore) ConfigSchema() provider.Schema { return provider.Schema{} }

type kvInst struct{ s *kvStore }

func (kvInst) Name() string { return "kv.main" }

func (s *kvStore) Configure(context.Context, string, cty.Value) (provider.Instance, error) {
	return kvInst{s}, nil
}

func (s *kvStore) Actions() map[string]provider.ActionType {
	return map[string]provider.ActionType{"kv_set": {
		Args:            provider.Schema{"key": {Type: cty.String, Required: true}, "value": {Type: cty.String, Required: true}},
		NaturalRollback: true,
		New: func(inst provider.Instance, args cty.Value) (runbook.Action, error) {
			return &kvSet{s: inst.(kvInst).s, key: args.GetAttr("key").AsString(), value: args.GetAttr("value").AsString()}, nil
		},
	}}
}

type kvSet struct {
	s          *kvStore
	key, value string
}

func (a *kvSet) Do(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
	a.s.mu.Lock()
	prev, existed := a.s.data[a.key]
	a.s.mu.Unlock()
	capture := runbook.Outputs{"previous": prev, "existed": existed}
	if cp := env.Checkpointed(); cp != nil {
		capture = cp
	} else if !a.s.noCheckpoint {
		if err := env.Checkpoint(ctx, capture); err != nil {
			return nil, err
		}
	}
	v := a.value
	a.s.set(a.key, &v)
	return capture, nil
}

func (a *kvSet) NaturalRollback() runbook.Rollback { return kvBack{a} }

type kvBack struct{ a *kvSet }

func (r kvBack) Compensate(_ context.Context, env *runbook.Env) error {
	if r.a.s.forgetful {
		return nil
	}
	existed, ok := env.Self()["existed"].(bool)
	if !ok {
		return nil
	}
	if !existed {
		r.a.s.set(r.a.key, nil)
		return nil
	}
	prev, _ := env.Self()["previous"].(string)
	r.a.s.set(r.a.key, &prev)
	return nil
}

const kvRunbook = `runbook "kv" {}

provider "kv" "main" {}

step "kv_set" "a" {
  key   = "a"
  value = "2"
}

step "kv_set" "b" {
  key   = "b"
  value = "new"
}

step "kv_set" "c" {
  key   = "a"
  value = "3"
}
`

// runKVMatrix runs the matrix of kvRunbook with the store flavour mk
// makes, in a world where a is "1" and b does not exist.
func runKVMatrix(t *testing.T, mk func() *kvStore) *sandbox.MatrixReport {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "kv.hcl")
	require.NoError(t, os.WriteFile(path, []byte(kvRunbook), 0o600))
	var mu sync.Mutex
	stores := map[*sandbox.World]*kvStore{}
	rep, err := sandbox.RunMatrix(context.Background(), path, sandbox.MatrixOptions{
		Providers: func(w *sandbox.World) []provider.Provider {
			s := mk()
			s.data = map[string]string{"a": "1"}
			mu.Lock()
			stores[w] = s
			mu.Unlock()
			return []provider.Provider{s}
		},
		Snapshot: func(w *sandbox.World) map[string]any {
			mu.Lock()
			defer mu.Unlock()
			return stores[w].snapshot()
		},
	})
	require.NoError(t, err)
	return rep
}

func caseOf(rep *sandbox.MatrixReport, node string, mode sandbox.MatrixMode) sandbox.MatrixCase {
	for _, c := range rep.Cases {
		if c.Node == node && c.Mode == mode {
			return c
		}
	}
	return sandbox.MatrixCase{}
}

func TestMatrixRestores(t *testing.T) {
	rep := runKVMatrix(t, func() *kvStore { return &kvStore{} })
	for _, c := range rep.Failed() {
		t.Errorf("%s × %s: %s %v %v", c.Node, c.Mode, c.Status, c.Failures, c.Diff)
	}
	require.Len(t, rep.Cases, 15, "3 steps × 5 modes")
	assert.Equal(t, 15, rep.Restored)
	assert.Equal(t, "kv: 3 steps × 5 modes + 0 gates = 15 cases, 15 restored", strings.Split(rep.Verdict(), " (")[0])

	// crash+resume: the resumed process meets a failure at the next node
	// and undoes what both processes did, the crashed step included.
	a := caseOf(rep, "a", sandbox.MatrixCrashResume)
	assert.Equal(t, runbook.StatusRolledBack, a.Status)
	assert.Equal(t, "b", a.Then)
	assert.Equal(t, []string{"a"}, a.Compensated)
	b := caseOf(rep, "b", sandbox.MatrixCrashResume)
	assert.Equal(t, "c", b.Then)
	assert.Equal(t, []string{"b", "a"}, b.Compensated)
	// The last step has no next node: the resumed run succeeds and is
	// rolled back by request.
	c := caseOf(rep, "c", sandbox.MatrixCrashResume)
	assert.Equal(t, runbook.StatusRolledBack, c.Status)
	assert.Empty(t, c.Then)
	assert.Equal(t, []string{"c", "b", "a"}, c.Compensated)
}

func TestMatrixCatchesBrokenRollbacks(t *testing.T) {
	failed := func(rep *sandbox.MatrixReport) []string {
		var out []string
		for _, c := range rep.Failed() {
			out = append(out, fmt.Sprintf("%s × %s", c.Node, c.Mode))
		}
		sort.Strings(out)
		return out
	}
	// Without a checkpoint, a step whose answer is lost (or whose process
	// died) after the change cannot be undone.
	rep := runKVMatrix(t, func() *kvStore { return &kvStore{noCheckpoint: true} })
	got := failed(rep)
	for _, want := range []string{"a × after_effect", "a × crash+resume", "a × crash+rollback", "a × timeout", "b × after_effect", "b × crash+resume"} {
		assert.Contains(t, got, want)
	}
	for _, c := range rep.Failed() {
		if c.Node == "a" && c.Mode == sandbox.MatrixAfterEffect {
			assert.NotEmpty(t, c.Diff, "the case shows how the world differs")
		}
	}
	// A rollback that does nothing fails every case that has something to
	// undo, and crash+resume of the last step proves it too.
	rep = runKVMatrix(t, func() *kvStore { return &kvStore{forgetful: true} })
	got = failed(rep)
	assert.Contains(t, got, "c × crash+resume")
	assert.Contains(t, got, "b × before_effect")
	assert.NotContains(t, got, "a × before_effect", "nothing to undo when the first step fails before its effect")
}

// The page lists each case that did not restore with its world diff, and
// says what failed after a resume.
func TestMatrixPage(t *testing.T) {
	rep := runKVMatrix(t, func() *kvStore { return &kvStore{forgetful: true} })
	var b strings.Builder
	require.NoError(t, rep.WriteHTML(&b))
	page := html.UnescapeString(b.String())
	assert.Contains(t, page, rep.Verdict())
	assert.Contains(t, page, "<code>c</code> × crash+resume")
	assert.Contains(t, page, "the run succeeded and was rolled back by request")
	assert.Contains(t, page, "<code>b</code> failed")
	assert.Contains(t, page, "extra/a")
	var j strings.Builder
	require.NoError(t, rep.WriteJSON(&j))
	assert.Contains(t, j.String(), `"then": "b"`)
}
