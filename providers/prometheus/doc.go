// Package prometheus is Handrail's Prometheus provider: metric probes for
// check and soak gates, and baselines captured before a deployment for
// later comparison, over the Prometheus HTTP API.
//
//	provider "prometheus" "main" {
//	  url = var.prometheus_url
//	}
//
//	step "prometheus_baseline" "p95_before" {
//	  query  = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
//	  window = "30m"
//	  reduce = "avg"
//	}
//
//	gate "soak" "watch" {
//	  duration = "15m"
//	  every    = "30s"
//	  check "p95" {
//	    query     = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))"
//	    condition = self.value < step.p95_before.value * 1.5
//	  }
//	}
//
// prometheus_query is an instant query evaluated at the run clock's now. A
// scalar or a vector of exactly one series is the sample value; an empty
// vector (or NaN, e.g. 0/0 without traffic) is "no data", which the check's
// no_data policy decides; more than one series is an error: aggregate the
// query (sum, max, ...).
//
// The client speaks the HTTP API directly (POST /api/v1/query and
// /api/v1/query_range): two endpoints with a small JSON envelope do not
// justify github.com/prometheus/client_golang's dependency tree.
package prometheus
