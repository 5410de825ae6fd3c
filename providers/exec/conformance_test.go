package exec_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/exec"
	"github.com/handrail-dev/handrail/providers/exec/execfake"
)

// deployCase runs a deploy command whose rollback command puts the
// previous release back (idempotent, as a rollback command must be).
func deployCase(command, rollback []string, call string) providertest.Case {
	list := func(argv []string) cty.Value {
		vs := make([]cty.Value, len(argv))
		for i, a := range argv {
			vs[i] = cty.StringVal(a)
		}
		return cty.ListVal(vs)
	}
	return providertest.Case{Name: "local_exec_with_rollback", Action: "local_exec", Call: call,
		Args: cty.ObjectVal(map[string]cty.Value{"command": list(command), "rollback_command": list(rollback)}),
		Effect: func(_, after providertest.Snapshot) error {
			if after["current"] != "0.3.0" {
				return fmt.Errorf("current release %v, want 0.3.0", after["current"])
			}
			return nil
		}}
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := execfake.New().Strict()
			var mu sync.Mutex
			current := "0.2.9"
			set := func(v string) func(execfake.Call) error {
				return func(execfake.Call) error { mu.Lock(); current = v; mu.Unlock(); return nil }
			}
			w.On("deploy", "0.3.0").Do(set("0.3.0"))
			w.On("deploy", "0.2.9").Do(set("0.2.9"))
			return providertest.World{Provider: w.Provider(),
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					mu.Lock()
					defer mu.Unlock()
					return providertest.Snapshot{"current": current}, nil
				},
				Inject: func(call string, f fault.Fault) { w.Faults().Arm(call, f) }}
		},
		Cases: []providertest.Case{deployCase([]string{"deploy", "0.3.0"}, []string{"deploy", "0.2.9"}, "deploy")},
	}.Run(t)
}

// TestConformanceRealProcesses runs real local processes (sh writing a
// file) through the real runner, wrapped so that a fault can lose a
// command's answer after the process ran.
func TestConformanceRealProcesses(t *testing.T) {
	sh, err := (&exec.Provider{}).Configure(context.Background(), "probe", cty.EmptyObjectVal)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.(exec.Runner).LookPath("sh"); err != nil {
		t.Fatalf("sh is needed: %v", err)
	}
	// The subtests run one after the other: each starts the file afresh.
	file := filepath.Join(t.TempDir(), "current")
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			if err := os.WriteFile(file, []byte("0.2.9\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			faults := &fault.Injector{}
			return providertest.World{Provider: faultyExec{faults: faults},
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					b, err := os.ReadFile(file)
					return providertest.Snapshot{"current": strings.TrimSpace(string(b))}, err
				},
				Inject: func(call string, f fault.Fault) { faults.Arm(call, f) }}
		},
		Cases: []providertest.Case{deployCase(
			[]string{"sh", "-c", `echo 0.3.0 > "$0.tmp" && mv "$0.tmp" "$0"`, file},
			[]string{"sh", "-c", `echo 0.2.9 > "$0.tmp" && mv "$0.tmp" "$0"`, file}, "sh")},
	}.Run(t)
}

// faultyExec is the real exec provider whose instances run commands
// through an injector, named by the program's base name.
type faultyExec struct{ faults *fault.Injector }

func (p faultyExec) Type() string                            { return "exec" }
func (p faultyExec) ConfigSchema() provider.Schema           { return exec.ConfigSchema() }
func (p faultyExec) Actions() map[string]provider.ActionType { return exec.Actions() }
func (p faultyExec) Configure(ctx context.Context, name string, config cty.Value) (provider.Instance, error) {
	inst, err := (&exec.Provider{}).Configure(ctx, name, config)
	if err != nil {
		return nil, err
	}
	return faultyRunner{Runner: inst.(exec.Runner), faults: p.faults}, nil
}

type faultyRunner struct {
	exec.Runner
	faults *fault.Injector
}

func (r faultyRunner) Run(ctx context.Context, cmd exec.Cmd, stdout, stderr io.Writer) (int, error) {
	var exit int
	err := r.faults.Do(ctx, path.Base(cmd.Argv[0]), func() error {
		var err error
		exit, err = r.Runner.Run(ctx, cmd, stdout, stderr)
		return err
	})
	return exit, err
}
