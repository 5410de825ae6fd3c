package ssh_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/internal/faultnet"
	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/provider/fault"
	"github.com/handrail-dev/handrail/provider/providertest"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/ssh/sshfake"
)

const currentFile = "/srv/dcmms/current"

// fileIs checks a file of a host in a snapshot.
func fileIs(snap providertest.Snapshot, host, path, want string) error {
	hosts, _ := snap["hosts"].(map[string]any)
	h, _ := hosts[host].(map[string]any)
	files, _ := h["files"].(map[string]any)
	f, _ := files[path].(map[string]any)
	if f == nil || f["content"] != want {
		return fmt.Errorf("%s:%s is %v, want %q", host, path, f, want)
	}
	return nil
}

func strList(ss ...string) cty.Value {
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

func TestConformanceFake(t *testing.T) {
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			w := sshfake.New().Strict()
			for _, h := range []string{"app1", "app2"} {
				w.Host(h).WriteFile(currentFile, "0.2.9\n")
				for _, v := range []string{"0.2.9", "0.3.0"} {
					w.On(h, "deploy", v).Do(func(h *sshfake.Host, _ sshfake.Call) { h.WriteFile(currentFile, v+"\n") })
				}
			}
			return providertest.World{Provider: w.Provider(),
				Config:   cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("app1")}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) { return w.Snapshot(), nil },
				Inject:   w.Inject}
		},
		Cases: []providertest.Case{
			{Name: "ssh_upload", Action: "ssh_upload", Call: sshfake.CallWriteFile,
				Args: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(currentFile), "content": cty.StringVal("0.3.0\n"),
					"restore_on_rollback": cty.True}),
				Effect: func(_, after providertest.Snapshot) error { return fileIs(after, "app1", currentFile, "0.3.0\n") }},
			{Name: "ssh_exec", Action: "ssh_exec", Call: "deploy",
				Args:   cty.ObjectVal(map[string]cty.Value{"command": strList("deploy", "0.3.0"), "rollback_command": strList("deploy", "0.2.9")}),
				Effect: func(_, after providertest.Snapshot) error { return fileIs(after, "app1", currentFile, "0.3.0\n") }},
			{Name: "ssh_exec_fleet", Action: "ssh_exec", Call: "deploy",
				Args: cty.ObjectVal(map[string]cty.Value{"command": strList("deploy", "0.3.0"), "rollback_command": strList("deploy", "0.2.9"),
					"hosts": strList("app1", "app2"), "max_parallel": cty.NumberIntVal(1)}),
				Effect: func(_, after providertest.Snapshot) error { return fileIs(after, "app1", currentFile, "0.3.0\n") }},
		},
	}.Run(t)
}

// TestConformanceReal runs ssh_upload, ssh_exec with a rollback_command and
// its fan-out over two hosts against the real sshd through a proxy. SSH is
// encrypted, so the faults watch the world instead of the bytes: before
// the effect, the connection is reset at its first byte (the host cannot
// be reached); after it, the first answer the server sends once the remote
// file holds the new content is dropped and the connection reset; in mode
// timeout (on the real clock) that answer is held until the step's timeout
// gives up.
func TestConformanceReal(t *testing.T) {
	tgt := testenv.SSH(t)
	known, err := os.ReadFile(tgt.KnownHostsPath)
	if err != nil {
		t.Fatal(err)
	}
	file := fmt.Sprintf("/tmp/handrail-ssh-conformance-%d", os.Getpid())
	t.Cleanup(func() { _ = os.Remove(file) })
	content := func() string { b, _ := os.ReadFile(file); return string(b) }
	is030 := func(_, after providertest.Snapshot) error {
		if after["content"] != "0.3.0\n" {
			return fmt.Errorf("content %q, want 0.3.0", after["content"])
		}
		return nil
	}
	providertest.Suite{
		Setup: func(t *testing.T) providertest.World {
			in, _ := realInstance(t, nil)
			if _, _, _, err := run(t, in, "", ssh.Command{Script: "printf '0.2.9\\n' > " + file + " && chmod 640 " + file}); err != nil {
				t.Fatal(err)
			}
			proxy, err := faultnet.NewProxy(tgt.Addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = proxy.Close() })
			_, port, _ := net.SplitHostPort(proxy.Addr())
			_, realPort, _ := net.SplitHostPort(tgt.Addr)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, bytes.ReplaceAll(known, []byte("]:"+realPort), []byte("]:"+port)), 0o600); err != nil {
				t.Fatal(err)
			}
			p, _ := strconv.Atoi(port)
			return providertest.World{Provider: &ssh.Provider{},
				Config: cty.ObjectVal(map[string]cty.Value{"host": cty.StringVal("127.0.0.1"), "port": cty.NumberIntVal(int64(p)),
					"user": cty.StringVal(tgt.User), "private_key_file": cty.StringVal(tgt.KeyPath), "known_hosts": cty.StringVal(kh)}),
				Snapshot: func(context.Context) (providertest.Snapshot, error) {
					st, err := os.Stat(file)
					if err != nil {
						return nil, err
					}
					return providertest.Snapshot{"content": content(), "mode": st.Mode().String()}, nil
				},
				Inject: func(call string, f fault.Fault) {
					if f.Kind == fault.Before {
						proxy.SetCut(&faultnet.Cut{Before: true, OnFire: f.OnFire, Match: func([]byte) bool { return true }})
						return
					}
					proxy.SetCut(&faultnet.Cut{OnFire: f.OnFire, Hold: f.Delay, Answer: func() bool { return content() == "0.3.0\n" }})
				}}
		},
		Cases: []providertest.Case{
			{Name: "ssh_upload", Action: "ssh_upload", Call: sshfake.CallWriteFile,
				Args: cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(file), "content": cty.StringVal("0.3.0\n"),
					"mode": cty.StringVal("0600"), "restore_on_rollback": cty.True}),
				Effect: is030},
			{Name: "ssh_exec", Action: "ssh_exec", Call: "deploy",
				Args: cty.ObjectVal(map[string]cty.Value{"command": strList("sh", "-c", "printf '0.3.0\\n' > "+file),
					"rollback_command": strList("sh", "-c", "printf '0.2.9\\n' > "+file)}),
				Effect: is030},
			// Both names reach the same sshd (known_hosts has both): the
			// fan-out runs on one, then the other, and compensates every
			// host it ran on.
			{Name: "ssh_exec_fleet", Action: "ssh_exec", Call: "deploy",
				Args: cty.ObjectVal(map[string]cty.Value{"command": strList("sh", "-c", "printf '0.3.0\\n' > "+file),
					"rollback_command": strList("sh", "-c", "printf '0.2.9\\n' > "+file),
					"hosts":            strList("127.0.0.1", "localhost"), "max_parallel": cty.NumberIntVal(1)}),
				Effect: is030},
		},
		RealTime:    true,
		StepTimeout: 5 * time.Second,
	}.Run(t)
}
