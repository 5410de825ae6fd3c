package ssh_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/runbook"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// benchCommands is the number of commands of one benchmark operation.
const benchCommands = 200

// plan200 builds a plan of n sequential ssh_exec /bin/true steps.
func planOf(b *testing.B, n int, mk func(i int) runbook.Action) *runbook.Plan {
	b.Helper()
	bl := runbook.NewBuilder("bench")
	for i := 0; i < n; i++ {
		bl.Step(runbook.Step{Name: fmt.Sprintf("s%03d", i), Action: mk(i), Irreversible: true})
	}
	p, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSSH200ReusedConnection runs 200 /bin/true steps through the
// executor, over the instance's one shared connection (connected before
// the timer starts, as it stays connected across a run's steps).
func BenchmarkSSH200ReusedConnection(b *testing.B) {
	tgt := testenv.SSH(b)
	host, port, _ := net.SplitHostPort(tgt.Addr)
	p, _ := strconv.Atoi(port)
	in, err := ssh.New("bench", ssh.Config{Host: host, Port: p, User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath}, KnownHostsFiles: []string{tgt.KnownHostsPath}})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	plan := planOf(b, benchCommands, func(int) runbook.Action {
		a, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"/bin/true"}})
		if err != nil {
			b.Fatal(err)
		}
		return a
	})
	if _, err := in.RunCommand(context.Background(), []string{"/bin/true"}, nil, nil, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*benchCommands), "ms/cmd")
}

// BenchmarkSSH200NewConnectionEach runs 200 /bin/true with a new
// x/crypto/ssh connection (dial, handshake, auth) per command.
func BenchmarkSSH200NewConnectionEach(b *testing.B) {
	tgt := testenv.SSH(b)
	key, err := os.ReadFile(tgt.KeyPath)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := xssh.ParsePrivateKey(key)
	if err != nil {
		b.Fatal(err)
	}
	hk, err := knownhosts.New(tgt.KnownHostsPath)
	if err != nil {
		b.Fatal(err)
	}
	cfg := &xssh.ClientConfig{User: tgt.User, Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 10 * time.Second}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < benchCommands; j++ {
			c, err := xssh.Dial("tcp", tgt.Addr, cfg)
			if err != nil {
				b.Fatal(err)
			}
			s, err := c.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Run("/bin/true"); err != nil {
				b.Fatal(err)
			}
			s.Close()
			c.Close()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*benchCommands), "ms/cmd")
}

// BenchmarkSSHFanOut runs 20 fan-out steps of /bin/true over the hosts in
// HANDRAIL_BENCH_FANOUT_HOSTS (comma-separated host:port, each a distinct
// connection; bench/ssh/run.sh starts an sshd on 127.0.0.1-10 for them)
// with max_parallel 1, 5 and 10.
func BenchmarkSSHFanOut(b *testing.B) {
	tgt := testenv.SSH(b)
	hostsEnv, kh := os.Getenv("HANDRAIL_BENCH_FANOUT_HOSTS"), os.Getenv("HANDRAIL_BENCH_FANOUT_KNOWN_HOSTS")
	if hostsEnv == "" || kh == "" {
		b.Skip("set HANDRAIL_BENCH_FANOUT_HOSTS and HANDRAIL_BENCH_FANOUT_KNOWN_HOSTS (bench/ssh/run.sh does)")
	}
	hosts := strings.Split(hostsEnv, ",")
	for _, par := range []int{1, 5, 10} {
		b.Run(fmt.Sprintf("max_parallel=%d", par), func(b *testing.B) {
			in, err := ssh.New("fleet", ssh.Config{Host: hosts[0], User: tgt.User, PrivateKeyFiles: []string{tgt.KeyPath}, KnownHostsFiles: []string{kh}})
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			plan := planOf(b, 20, func(int) runbook.Action {
				a, err := ssh.NewExec(in, ssh.ExecOptions{Command: []string{"/bin/true"}, Hosts: hosts, MaxParallel: par})
				if err != nil {
					b.Fatal(err)
				}
				return a
			})
			// Connect every host before timing (a run keeps them).
			for _, h := range hosts {
				if _, err := in.Run(context.Background(), h, ssh.Command{Argv: []string{"/bin/true"}}, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := (&runbook.Executor{}).Run(context.Background(), plan, runbook.RunOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*20*len(hosts)), "ms/cmd")
		})
	}
}
