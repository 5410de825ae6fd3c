// Command dcmms-backend serves the fake dcmms-backend of package testbackend.
//
// It is built as a static binary (CGO_ENABLED=0) and baked into the
// dcmms/backend test images by scripts/test-services, which run it FROM
// scratch with
//
//	HEALTHCHECK CMD ["/dcmms-backend", "-healthcheck"]
//
// Usage:
//
//	dcmms-backend [-addr :3000] [-version 0.3.0] [-password P]
//	              [-fail-at-start] [-always-unhealthy] [-fail-rate R] [-latency-ms N]
//	dcmms-backend -healthcheck [-addr :3000]
//
// Every flag defaults to an environment variable: DCMMS_ADDR, DCMMS_VERSION,
// DCMMS_PASSWORD, DCMMS_UNHEALTHY=1, DCMMS_ALWAYS_UNHEALTHY=1,
// DCMMS_FAIL_RATE and DCMMS_LATENCY_MS. With -healthcheck it probes
// /api/v1/health on the loopback address of -addr's port and exits 0 when it
// answers 200, 1 otherwise. It stops gracefully on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/handrail-dev/handrail/internal/testbackend"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	addr        string
	healthcheck bool
	opts        testbackend.Options
}

func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	envBool := func(key string) bool {
		v, err := strconv.ParseBool(getenv(key))
		return err == nil && v
	}
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	defRate, err := strconv.ParseFloat(envOr("DCMMS_FAIL_RATE", "0"), 64)
	if err != nil {
		return c, fmt.Errorf("DCMMS_FAIL_RATE: %w", err)
	}
	defLatency, err := strconv.Atoi(envOr("DCMMS_LATENCY_MS", "0"))
	if err != nil {
		return c, fmt.Errorf("DCMMS_LATENCY_MS: %w", err)
	}

	fs := flag.NewFlagSet("dcmms-backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", envOr("DCMMS_ADDR", ":3000"), "listen address (env DCMMS_ADDR)")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "probe the local health endpoint and exit 0 (healthy) or 1")
	fs.StringVar(&c.opts.Version, "version", envOr("DCMMS_VERSION", testbackend.DefaultVersion), "version to report (env DCMMS_VERSION)")
	fs.StringVar(&c.opts.Password, "password", envOr("DCMMS_PASSWORD", testbackend.DefaultPassword), "login password (env DCMMS_PASSWORD)")
	fs.BoolVar(&c.opts.Unhealthy, "fail-at-start", envBool("DCMMS_UNHEALTHY"), "start unhealthy (env DCMMS_UNHEALTHY=1)")
	fs.BoolVar(&c.opts.AlwaysUnhealthy, "always-unhealthy", envBool("DCMMS_ALWAYS_UNHEALTHY"), "health always fails (env DCMMS_ALWAYS_UNHEALTHY=1)")
	rate := fs.Float64("fail-rate", defRate, "fraction of API requests answering 500 (env DCMMS_FAIL_RATE)")
	latencyMS := fs.Int("latency-ms", defLatency, "latency added to API requests in ms (env DCMMS_LATENCY_MS)")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("parse flags: %w", err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *rate < 0 || *rate > 1 {
		return c, fmt.Errorf("fail rate %v: want a number in [0, 1]", *rate)
	}
	latency := time.Duration(*latencyMS) * time.Millisecond
	if latency < 0 || latency > testbackend.MaxLatency {
		return c, fmt.Errorf("latency %v: want [0, %s]", latency, testbackend.MaxLatency)
	}
	c.opts.FailureRate = *rate
	c.opts.Latency = latency
	return c, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	logger := log.New(stderr, "dcmms-backend: ", log.LstdFlags)
	c, err := parseArgs(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		logger.Print(err)
		return 2
	}
	if c.healthcheck {
		url, err := healthURL(c.addr)
		if err != nil {
			logger.Print(err)
			return 1
		}
		if err := probe(ctx, url, 900*time.Millisecond); err != nil {
			logger.Print(err)
			return 1
		}
		return 0
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		logger.Printf("listen: %v", err)
		return 1
	}
	b := testbackend.New(c.opts)
	logger.Printf("version %s listening on %s (healthy=%t)", b.Version(), ln.Addr(), b.Healthy())
	if err := serve(ctx, ln, b); err != nil {
		logger.Print(err)
		return 1
	}
	logger.Print("stopped")
	return 0
}

// serve serves h on ln until ctx is done, then shuts down gracefully.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// healthURL is the loopback health URL for the port of listen address addr.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.IsUnspecified()):
		host = "127.0.0.1"
	case ip != nil && ip.To4() == nil:
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port + "/api/v1/health", nil
}

// probe GETs url and fails unless it answers 200 within timeout.
func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	return nil
}
