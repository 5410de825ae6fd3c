// Package console serves the live release console: a page per run that is
// the run's report while it happens (timeline, countdowns on soaks and
// approvals, gate samples plotted against their thresholds, the rollback
// path and what is left to undo), pushed to browsers as server-sent events
// from the same events the CLI prints; and approvals answered from the
// terminal, the console or an HMAC-signed link, the first valid answer
// winning.
//
// Everything served passes through the run's redactor. Listening beyond
// loopback needs authentication: a users file ([Users], bcrypt passwords or
// static tokens behind the [Authenticator] interface) or a reverse proxy's
// identity header trusted explicitly ([Options.TrustHeader]). Every POST
// carries a CSRF token and must come from the console's own origin; sign-in
// is rate-limited; approvals and sign-ins over plain HTTP from another
// machine are refused unless [Options.Insecure].
//
// The executor decides what counts ([runbook.ApprovalRequest.Admit]: the
// plan hash, approvers, quorum, separation from the starter) and journals
// every answer, counted or refused; the console only refuses early and shows.
package console
