package docker_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshInstance is a minimal stand-in for the SSH provider's instance: a
// provider.Instance that implements provider.Dialer over one SSH
// connection.
type sshInstance struct {
	name string
	c    *ssh.Client
}

func (s *sshInstance) Name() string { return s.name }

func (s *sshInstance) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return s.c.DialContext(ctx, network, addr)
}

var _ provider.Dialer = (*sshInstance)(nil)

func dialSSH(t *testing.T) *sshInstance {
	t.Helper()
	target := testenv.SSH(t)
	key, err := os.ReadFile(target.KeyPath)
	require.NoError(t, err)
	signer, err := ssh.ParsePrivateKey(key)
	require.NoError(t, err)
	hostKeys, err := knownhosts.New(target.KnownHostsPath)
	require.NoError(t, err)
	c, err := ssh.Dial("tcp", target.Addr, &ssh.ClientConfig{
		User: target.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys, Timeout: 5 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &sshInstance{name: "ssh.app", c: c}
}

// TestRealThroughSSH drives the local engine through an SSH tunnel to
// /var/run/docker.sock, configured the way HCL does (via = ssh.app).
func TestRealThroughSSH(t *testing.T) {
	t.Parallel()
	_, local, imgs := realInstance(t)
	via := dialSSH(t)
	ctx := context.Background()

	p := &docker.Provider{}
	cfg := cty.ObjectVal(map[string]cty.Value{
		"host": cty.NullVal(cty.String), "socket": cty.NullVal(cty.String), "via": provider.InstanceVal(via),
	})
	pi, err := p.Configure(ctx, "remote", cfg)
	require.NoError(t, err)
	inst := pi.(*docker.Instance)
	t.Cleanup(func() { _ = inst.Close() })
	eng, err := inst.Engine(ctx)
	require.NoError(t, err)
	v, err := eng.Ping(ctx)
	require.NoError(t, err)
	require.Equal(t, "1.41", v)

	name := startBackend(t, local, imgs.V029)
	// exec over the tunnel uses a hijacked connection: it must go through
	// the dialer too.
	a, err := docker.NewExec(inst, docker.Exec{Target: docker.Target{Container: name}, Command: []string{"/dcmms-backend", "-healthcheck"}, ReadOnlyCmd: true})
	require.NoError(t, err)
	env, _ := newEnv(nil)
	out, err := a.Do(ctx, env)
	require.NoError(t, err)
	require.Equal(t, 0, out["exit_code"])

	up := update(t, inst, docker.Target{Container: name}, imgs.V030)
	env, _ = newEnv(nil)
	uout, err := up.Do(ctx, env)
	require.NoError(t, err)
	require.Equal(t, "0.3.0", servedVersion(t, local, name))
	require.Equal(t, imgs.V029, uout["previous_image"])
}

func TestConfigureErrors(t *testing.T) {
	ctx := context.Background()
	null := cty.NullVal(cty.String)
	notDialer := provider.InstanceVal(plainInstance("http.api"))
	tests := []struct {
		name string
		cfg  map[string]cty.Value
		want string
	}{
		{"ssh scheme", map[string]cty.Value{"host": cty.StringVal("ssh://deploy@app-01"), "via": cty.NullVal(provider.InstanceType), "socket": null}, "via = ssh.<name>"},
		{"bad scheme", map[string]cty.Value{"host": cty.StringVal("ftp://x"), "via": cty.NullVal(provider.InstanceType), "socket": null}, "unknown scheme"},
		{"no scheme", map[string]cty.Value{"host": cty.StringVal("/var/run/docker.sock"), "via": cty.NullVal(provider.InstanceType), "socket": null}, "want unix://"},
		{"via without dialer", map[string]cty.Value{"host": null, "via": notDialer, "socket": null}, "cannot open connections"},
		{"socket without via", map[string]cty.Value{"host": null, "via": cty.NullVal(provider.InstanceType), "socket": cty.StringVal("/run/docker.sock")}, "only meaningful with via"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := (&docker.Provider{}).Configure(ctx, "app", cty.ObjectVal(tt.cfg))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.Contains(t, err.Error(), "docker.app")
		})
	}
}

type plainInstance string

func (p plainInstance) Name() string { return string(p) }
