// Package http is Handrail's HTTP provider: health checks with expectations
// on the JSON body, and requests whose response becomes step outputs (a
// login whose token feeds the next call of a smoke chain).
//
// In HCL:
//
//	provider "http" "app" {
//	  base_url = "https://dcmms.com"
//	  timeout  = "10s"
//	}
//
//	step "http_check" "health" {
//	  url    = "/api/v1/health"
//	  expect = { status = "healthy", version = var.version, database = "connected" }
//	  match  = { "uptime_seconds" = { gt = 0 } }
//	}
//
//	step "http_request" "login" {
//	  method            = "POST"
//	  url               = "/api/v1/auth/login"
//	  body              = { email = var.smoke_user, password = var.smoke_password }
//	  extract           = { token = "token" }
//	  sensitive_outputs = ["token"]
//	}
//
//	step "http_check" "work_orders" {
//	  url     = "/api/v1/work-orders"
//	  headers = { Authorization = "Bearer ${step.login.extracted.token}" }
//	  match   = { "data" = { exists = true } }
//	}
//
// Extracted values are outputs of their own too (step.login.token) at run
// time; a front end accepts that reference at plan time when it declares
// the outputs that [Provider.RequestOutputs] computes from the arguments.
// step.login.extracted.<name> works everywhere.
//
// http_check is also a probe for check and soak gates: the sample value is
// the decoded JSON body (or the body text when it is not JSON), and self
// also holds status_code, latency_ms, body, ok (status and expectations
// met) and failures.
//
// Secrets: values of sensitive headers (Authorization, Cookie, anything
// named like a token, key, secret or password, and those listed in
// sensitive_headers) are registered with the run's redactor before the
// request is sent, and no error or event ever shows a header value or a
// response body. Outputs listed in sensitive_outputs are returned as
// runbook.Secret and registered too.
//
// The package name shadows net/http; import it under another name when
// both are needed (httpprov "github.com/handrail-dev/handrail/providers/http").
package http
