package testenv

import (
	"encoding/binary"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// These tests use the real services of scripts/test-services: they skip
// without them, and fail in CI.

func TestLivePostgres(t *testing.T) {
	dsn := PostgresDSN(t)
	network, addr, err := postgresAddr(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout(network, addr, dialTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(dialTimeout)); err != nil {
		t.Fatal(err)
	}
	// An SSLRequest: a PostgreSQL server answers with one byte, 'S' or 'N'.
	msg := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 8), 80877103)
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 1)
	if _, err := io.ReadFull(conn, reply); err != nil {
		t.Fatalf("read SSLRequest reply: %v", err)
	}
	if reply[0] != 'N' && reply[0] != 'S' {
		t.Errorf("%s answered %q to an SSLRequest: not PostgreSQL", addr, reply)
	}
}

func TestLiveSSH(t *testing.T) {
	target := SSH(t)
	if target.User == "" || target.KeyPath == "" || target.KnownHostsPath == "" {
		t.Fatalf("incomplete target %+v", target)
	}
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("no ssh client to log in with")
	}
	host, port, err := net.SplitHostPort(target.Addr)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(ssh, "-p", port, "-i", target.KeyPath,
		"-o", "UserKnownHostsFile="+target.KnownHostsPath, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
		target.User+"@"+host, "id -un").CombinedOutput()
	if err != nil {
		t.Fatalf("ssh login: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != target.User {
		t.Errorf("logged in as %q, want %q", got, target.User)
	}
}

func TestLiveBinaries(t *testing.T) {
	out, err := exec.Command(PrometheusBin(t), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "prometheus") {
		t.Errorf("prometheus --version: %v\n%s", err, out)
	}
	out, err = exec.Command(DotBin(t), "-V").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "graphviz") {
		t.Errorf("dot -V: %v\n%s", err, out)
	}
}

func TestLiveDockerImages(t *testing.T) {
	imgs := DockerImages(t)
	for _, name := range []string{imgs.V029, imgs.V030, imgs.V030Broken} {
		code, body, err := dockerGet(imgs.DockerHost, "/images/"+name+"/json")
		if err != nil || code != 200 {
			t.Fatalf("inspect %s: %d %v", name, code, err)
		}
		if !strings.Contains(body, `"DCMMS_VERSION=`) || !strings.Contains(body, "-healthcheck") {
			t.Errorf("%s lacks DCMMS_VERSION or its HEALTHCHECK", name)
		}
	}
}
