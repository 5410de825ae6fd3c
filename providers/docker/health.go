package docker

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/runbook"
	"github.com/moby/moby/api/types/container"
)

// pollEvery is how often health is polled.
const pollEvery = 250 * time.Millisecond

// healthWait says how to decide that a started container serves.
type healthWait struct {
	// Timeout bounds the wait, on the run's clock.
	Timeout time.Duration
	// URL, if set, must answer 2xx (probed from the provider's side, or
	// through via).
	URL    string
	client *http.Client
}

// healthOf returns a container's health as docker_inspect reports it:
// healthy, unhealthy, starting, none (no HEALTHCHECK) or, when it is not
// running, its status (exited, created...).
func healthOf(c container.InspectResponse) string {
	if c.State == nil {
		return "unknown"
	}
	if !c.State.Running || c.State.Restarting {
		if c.State.Restarting {
			return "restarting"
		}
		return string(c.State.Status)
	}
	if c.State.Health == nil || c.State.Health.Status == "" {
		return "none"
	}
	return string(c.State.Health.Status)
}

// lastHealthOutput returns the output of the last health check, trimmed.
func lastHealthOutput(c container.InspectResponse) string {
	if c.State == nil || c.State.Health == nil || len(c.State.Health.Log) == 0 {
		return ""
	}
	l := c.State.Health.Log[len(c.State.Health.Log)-1]
	out := strings.TrimSpace(l.Output)
	if len(out) > 200 {
		out = out[:200] + "..."
	}
	return fmt.Sprintf("last check exit %d: %s", l.ExitCode, out)
}

// waitHealthy waits until container id is healthy: its HEALTHCHECK says so
// (when it has one), the URL answers 2xx (when given), and it is running.
// Without either, it must still be running after one poll interval. It
// fails fast when the container exits or its health check reports
// unhealthy. The returned status is the last health seen.
func waitHealthy(ctx context.Context, env *runbook.Env, eng Engine, id, label string, w healthWait) (string, error) {
	clock := env.Clock()
	deadline := clock.Now().Add(w.Timeout)
	seenRunning := 0
	last, lastDetail := "", ""
	for {
		c, err := eng.ContainerInspect(ctx, id)
		if err != nil {
			return last, fmt.Errorf("inspect %s: %w", label, err)
		}
		h := healthOf(c)
		if h != last {
			env.Emit("container health", map[string]string{"container": label, "health": h})
		}
		last = h
		switch h {
		case "exited", "dead", "created", "removing", "paused":
			code := 0
			if c.State != nil {
				code = c.State.ExitCode
			}
			return h, fmt.Errorf("%s is %s (exit code %d): %w", label, h, code, ErrUnhealthy)
		case "unhealthy":
			return h, fmt.Errorf("%s is unhealthy (%s): %w", label, lastHealthOutput(c), ErrUnhealthy)
		case "healthy":
			if w.URL == "" {
				return h, nil
			}
		case "none":
			seenRunning++
			if w.URL == "" && seenRunning >= 2 {
				return h, nil
			}
		}
		if w.URL != "" && (h == "healthy" || h == "none") {
			ok, detail := probeURL(ctx, w.client, w.URL)
			if ok {
				return h, nil
			}
			lastDetail = detail
		}
		if !clock.Now().Before(deadline) {
			msg := fmt.Sprintf("%s not healthy after %s (health %s", label, w.Timeout, h)
			if lastDetail != "" {
				msg += "; " + lastDetail
			} else if out := lastHealthOutput(c); out != "" {
				msg += "; " + out
			}
			return h, fmt.Errorf("%s): %w: %w", msg, runbook.ErrTimeout, ErrUnhealthy)
		}
		if err := clock.Sleep(ctx, pollEvery); err != nil {
			return h, fmt.Errorf("waiting for %s to be healthy: %w", label, err)
		}
	}
}

// probeURL GETs url and reports whether it answered 2xx.
func probeURL(ctx context.Context, c *http.Client, url string) (bool, string) {
	if c == nil {
		c = http.DefaultClient
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(pctx, http.MethodGet, url, nil)
	if err != nil {
		return false, fmt.Sprintf("health_url %s: %v", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, fmt.Sprintf("health_url %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return false, fmt.Sprintf("health_url %s answered %d", url, resp.StatusCode)
	}
	return true, ""
}
