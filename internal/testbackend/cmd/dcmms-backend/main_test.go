package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/handrail-dev/handrail/internal/testbackend"
)

func TestHealthURL(t *testing.T) {
	cases := map[string]string{
		":3000":          "http://127.0.0.1:3000/api/v1/health",
		"0.0.0.0:8080":   "http://127.0.0.1:8080/api/v1/health",
		"[::]:3000":      "http://127.0.0.1:3000/api/v1/health",
		"127.0.0.2:3000": "http://127.0.0.2:3000/api/v1/health",
		"[::1]:3000":     "http://[::1]:3000/api/v1/health",
	}
	for addr, want := range cases {
		got, err := healthURL(addr)
		if err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := healthURL("3000"); err == nil {
		t.Error("healthURL(\"3000\") succeeded")
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseArgs(t *testing.T) {
	c, err := parseArgs(nil, env(map[string]string{
		"DCMMS_VERSION": "0.2.9", "DCMMS_UNHEALTHY": "1", "DCMMS_FAIL_RATE": "0.5", "DCMMS_LATENCY_MS": "20",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":3000" || c.opts.Version != "0.2.9" || !c.opts.Unhealthy || c.opts.AlwaysUnhealthy ||
		c.opts.FailureRate != 0.5 || c.opts.Latency != 20*time.Millisecond || c.opts.Password != testbackend.DefaultPassword {
		t.Errorf("from env: %+v", c)
	}
	c, err = parseArgs([]string{"-addr", "127.0.0.1:9", "-version", "1.0.0", "-always-unhealthy", "-healthcheck"},
		env(map[string]string{"DCMMS_VERSION": "0.2.9"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != "127.0.0.1:9" || c.opts.Version != "1.0.0" || !c.opts.AlwaysUnhealthy || !c.healthcheck {
		t.Errorf("from flags: %+v", c)
	}
	for _, bad := range [][]string{{"-fail-rate", "2"}, {"-latency-ms", "-5"}, {"extra"}, {"-nope"}} {
		if _, err := parseArgs(bad, env(nil), io.Discard); err == nil {
			t.Errorf("parseArgs(%q) succeeded", bad)
		}
	}
	if _, err := parseArgs(nil, env(map[string]string{"DCMMS_FAIL_RATE": "x"}), io.Discard); err == nil {
		t.Error("bad DCMMS_FAIL_RATE accepted")
	}
}

func TestProbe(t *testing.T) {
	b := testbackend.New(testbackend.Options{})
	srv := httptest.NewServer(b)
	defer srv.Close()
	url := srv.URL + "/api/v1/health"
	if err := probe(context.Background(), url, time.Second); err != nil {
		t.Errorf("healthy probe: %v", err)
	}
	b.SetHealthy(false)
	if err := probe(context.Background(), url, time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("unhealthy probe: %v", err)
	}
	b.Reset()
	if err := b.SetLatency(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := probe(context.Background(), url, 50*time.Millisecond); err == nil {
		t.Error("slow probe succeeded")
	}
}

func TestRunServesAndHealthchecks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, testbackend.New(testbackend.Options{Version: "0.2.9"})) }()

	if code := run(context.Background(), []string{"-healthcheck", "-addr", addr}, env(nil), io.Discard); code != 0 {
		t.Errorf("healthcheck exit %d, want 0", code)
	}
	resp, err := http.Post("http://"+addr+"/control/unhealthy", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := run(context.Background(), []string{"-healthcheck", "-addr", addr}, env(nil), io.Discard); code != 1 {
		t.Errorf("unhealthy healthcheck exit %d, want 1", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not stop")
	}
	if code := run(context.Background(), []string{"-healthcheck", "-addr", addr}, env(nil), io.Discard); code != 1 {
		t.Errorf("healthcheck of stopped server exit %d, want 1", code)
	}
}
