package runbook

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// checkEnd is how one check of a gate ended.
type checkEnd struct {
	tok     *clockToken
	check   int
	outcome Outcome
	reason  string
	last    any
}

func (r *run) runGate(ctx context.Context, i int, n *Node, tok *clockToken) nodeEnd {
	g := n.Gate
	end := nodeEnd{idx: i, tok: tok, attempts: 1}
	if err := r.journal(ctx, Record{Kind: RecNodeStarted, Node: n.Name, Attempt: 1}); err != nil {
		return r.journalFailure(end, n.Name, 1, err)
	}
	r.emit(NodeStarted{Header: r.header(n.Name), NodeKind: "gate", Phase: n.Phase, Attempt: 1})
	start := r.clock.Now()
	var outcome Outcome
	var reason string
	outputs := Outputs{}
	if g.Kind == GateApproval {
		outcome, reason, outputs = r.runApproval(ctx, n)
	} else {
		outcome, reason, outputs = r.runChecks(ctx, n)
	}
	if ctx.Err() != nil && !(g.Kind == GateGuard && errors.Is(context.Cause(ctx), errSpanEnded)) {
		end.state, end.err = StateCancelled, &StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))}
		_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: 1, Final: true, Error: end.err.Error()})
		r.emit(NodeFailed{Header: r.header(n.Name), Attempt: 1, Error: r.red.Redact(end.err.Error()), Final: true})
		return end
	}
	outputs["outcome"] = string(outcome)
	end.outcome = outcome
	if outcome == OutcomePassed {
		if err := r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: n.Name, Attempt: 1, Outputs: r.red.RedactOutputs(outputs)}); err != nil {
			return r.journalFailure(end, n.Name, 1, err)
		}
		r.emit(GatePassed{Header: r.header(n.Name), Outcome: outcome})
		r.emit(NodeSucceeded{Header: r.header(n.Name), Attempt: 1, Duration: r.clock.Now().Sub(start), Outputs: r.red.RedactOutputs(outputs)})
		end.state, end.outputs = StateSucceeded, outputs
		return end
	}
	pol := g.OnFail
	cause := ErrGateFailed
	switch outcome {
	case OutcomeInconclusive:
		pol, cause = g.OnInconclusive, ErrGateInconclusive
		if pol == "" {
			pol = PolicyPause
		}
	case OutcomeFailed:
		if g.Kind == GateApproval {
			cause = ErrDenied
		}
	}
	if pol == "" {
		pol = PolicyRollback
	}
	err := &StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("%w: %s", cause, reason)}
	r.emit(GateFailed{Header: r.header(n.Name), Outcome: outcome, Reason: r.red.Redact(reason), Policy: pol})
	_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: 1, Final: true, Error: err.Error()})
	r.emit(NodeFailed{Header: r.header(n.Name), Attempt: 1, Error: r.red.Redact(err.Error()), Final: true, Policy: pol})
	end.outputs = outputs
	end = r.applyPolicy(ctx, end, n, err, pol, fmt.Sprintf("gate %s %s", n.Name, outcome))
	if end.state == StateWarned {
		end.outputs = outputs
	}
	return end
}

func (r *run) runApproval(ctx context.Context, n *Node) (Outcome, string, Outputs) {
	a := n.Gate.Approval
	d, err := r.ask(ctx, ApprovalRequest{Node: n.Name, Kind: "approval", Message: a.Message, Approvers: a.Approvers, Evidence: r.evidence()}, a.Timeout, a.OnTimeout)
	out := Outputs{}
	if err != nil {
		return OutcomeError, err.Error(), out
	}
	out["approved"] = d.Approved
	out["by"] = d.By
	r.mu.Lock()
	r.res[n.Index].Decision = &d
	r.mu.Unlock()
	if d.Approved {
		return OutcomePassed, "", out
	}
	who := d.By
	if who == "" {
		who = "the approver"
	}
	reason := fmt.Sprintf("denied by %s", who)
	if d.TimedOut {
		reason = fmt.Sprintf("no answer within %s", a.Timeout)
	}
	if d.Comment != "" {
		reason += ": " + d.Comment
	}
	return OutcomeFailed, reason, out
}

// evidence summarises the run so far for an approver.
func (r *run) evidence() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev []string
	for _, i := range r.done {
		nr := r.res[i]
		line := fmt.Sprintf("%s %s", nr.Name, nr.Status)
		if len(nr.Samples) > 0 {
			last := nr.Samples[len(nr.Samples)-1]
			line += fmt.Sprintf(" (last %s = %v, %s)", last.Check, last.Value, last.Verdict)
		}
		ev = append(ev, line)
	}
	return ev
}

// runChecks runs every check of a check, soak or guard gate concurrently and
// combines their outcomes: the first check to fail ends the gate.
func (r *run) runChecks(ctx context.Context, n *Node) (Outcome, string, Outputs) {
	g := n.Gate
	timeout := g.Timeout
	if g.Kind == GateCheck && timeout <= 0 {
		timeout = 5 * time.Minute
	}
	gctx, cancel := clockTimeout(ctx, r.clock, timeout)
	defer cancel()
	cctx, stop := context.WithCancelCause(gctx)
	defer stop(context.Canceled)
	ends := make(chan checkEnd, len(g.Checks))
	var wg sync.WaitGroup
	parent := tokenFrom(ctx)
	for k := range g.Checks {
		tok := holdClock(r.clock)
		wg.Add(1)
		go func(k int, tok *clockToken) {
			defer wg.Done()
			e := r.runCheck(withToken(cctx, tok), n, k)
			// The check stays busy until the gate has taken its result,
			// so that time cannot move between the two.
			e.tok = tok
			ends <- e
		}(k, tok)
	}
	outs := make([]checkEnd, len(g.Checks))
	result, reason := OutcomePassed, ""
	for range g.Checks {
		parent.idle()
		e := <-ends
		parent.resume()
		e.tok.release()
		outs[e.check] = e
		if e.outcome != OutcomePassed && result == OutcomePassed {
			result, reason = e.outcome, e.reason
			stop(errCheckDecided)
		}
	}
	wg.Wait()
	out := Outputs{}
	for k, e := range outs {
		name := g.Checks[k].Name
		if name != "" {
			out[name] = e.last
		}
		if k == 0 {
			out["value"] = e.last
		}
	}
	return result, reason, out
}

var errCheckDecided = errors.New("another check decided the gate")

func (r *run) runCheck(ctx context.Context, n *Node, k int) checkEnd {
	g := n.Gate
	c := &g.Checks[k]
	end := checkEnd{check: k, outcome: OutcomePassed}
	every := c.Every
	if every <= 0 {
		every = g.Every
	}
	if every <= 0 {
		every = 30 * time.Second
		if g.Kind == GateCheck {
			every = 10 * time.Second
		}
	}
	delay := c.InitialDelay
	if delay <= 0 {
		delay = g.InitialDelay
	}
	count := c.Count
	if count <= 0 {
		count = g.Count
	}
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("check%d", k+1)
	}
	start := r.clock.Now()
	stopped := func() checkEnd {
		cause := context.Cause(ctx)
		switch {
		case errors.Is(cause, errSpanEnded), errors.Is(cause, errCheckDecided):
			return end
		case errors.Is(cause, ErrTimeout):
			end.outcome = OutcomeFailed
			end.reason = fmt.Sprintf("check %s did not hold within %s", name, g.Timeout)
			if g.Timeout <= 0 {
				end.reason = fmt.Sprintf("check %s did not hold within %s", name, 5*time.Minute)
			}
			if c.Message != "" {
				end.reason += ": " + c.Message
			}
			if c.DryRun {
				end.outcome = OutcomePassed
			}
			return end
		}
		end.outcome = OutcomeError
		end.reason = fmt.Sprintf("check %s stopped: %v", name, cause)
		return end
	}
	if delay > 0 {
		if r.clock.Sleep(ctx, delay) != nil {
			return stopped()
		}
	}
	var fails, consec, inconc, consecErr int
	for seq := 1; ; seq++ {
		env := r.env(n.Name, seq, nil)
		s, perr := safeSample(ctx, c.Probe, env)
		if ctx.Err() != nil {
			return stopped()
		}
		verdict, value, errText := Classify(g.Kind, c, env, s, perr)
		end.last = value
		rec := SampleRecord{Gate: n.Name, Check: name, Seq: seq, Time: r.clock.Now(), Value: r.red.RedactValue(value), Verdict: verdict, Error: r.red.Redact(errText), DryRun: c.DryRun, Threshold: c.Threshold}
		r.mu.Lock()
		r.res[n.Index].Samples = append(r.res[n.Index].Samples, rec)
		r.mu.Unlock()
		_ = r.journal(ctx, Record{Kind: RecGateSample, Node: n.Name, Sample: &rec})
		r.emit(GateSampled{Header: r.header(n.Name), Sample: rec})
		if !c.DryRun {
			switch verdict {
			case VerdictPass:
				consec, consecErr = 0, 0
				if g.Kind == GateCheck {
					return end
				}
			case VerdictFail:
				fails++
				consec++
				consecErr = 0
				if fails > c.FailureLimit && consec > c.Tolerate {
					end.outcome = OutcomeFailed
					end.reason = fmt.Sprintf("check %s breached: value %v", name, displayValue(rec.Value))
					if c.Threshold != "" {
						end.reason += ", want " + c.Threshold
					}
					if c.Message != "" {
						end.reason += ": " + c.Message
					}
					return end
				}
			case VerdictInconclusive:
				inconc++
				consecErr = 0
				if inconc > c.InconclusiveLimit {
					end.outcome = OutcomeInconclusive
					end.reason = fmt.Sprintf("check %s inconclusive %d times (limit %d)", name, inconc, c.InconclusiveLimit)
					return end
				}
			case VerdictError:
				consecErr++
				if consecErr > c.ErrorLimit {
					end.outcome = OutcomeError
					end.reason = fmt.Sprintf("check %s: probe failed %d times in a row: %s", name, consecErr, r.red.Redact(errText))
					return end
				}
			}
		} else if g.Kind == GateCheck {
			return end
		}
		if g.Kind != GateCheck {
			if count > 0 && seq >= count {
				return end
			}
			if g.Duration > 0 && !r.clock.Now().Before(start.Add(g.Duration)) {
				return end
			}
		}
		wait := every
		if g.Kind != GateCheck && g.Duration > 0 {
			if rest := start.Add(g.Duration).Sub(r.clock.Now()); rest < wait && count <= 0 {
				wait = rest
			}
		}
		if r.clock.Sleep(ctx, wait) != nil {
			return stopped()
		}
	}
}

func displayValue(v any) string {
	if v == nil {
		return "(none)"
	}
	return fmt.Sprint(v)
}

func safeSample(ctx context.Context, p Probe, env *Env) (s Sample, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, x)
		}
	}()
	return p.Sample(ctx, env)
}

// Classify turns one sample of a check into a verdict, the way every runner
// must: a probe error is an error; no data follows the check's NoData
// policy; otherwise the conditions decide (failure first; with both given a
// sample meeting neither is inconclusive; with success alone a miss is
// pending in a check gate and a breach elsewhere). The conditions see the
// sample in env.Self (value and the probe's outputs). It returns the
// verdict, the sample's value and an error text.
func Classify(kind GateKind, c *Check, env *Env, s Sample, perr error) (Verdict, any, string) {
	if perr != nil {
		return VerdictError, nil, perr.Error()
	}
	if s.NoData {
		switch c.NoData {
		case NoDataFail:
			return VerdictFail, nil, "no data"
		case NoDataPass:
			return VerdictPass, nil, "no data"
		case NoDataWait:
			return VerdictNoData, nil, "no data"
		default:
			return VerdictInconclusive, nil, "no data"
		}
	}
	self := Outputs{"value": s.Value}
	for k, v := range s.Outputs {
		if k != "value" {
			self[k] = v
		}
	}
	env.self = self
	var okS, okF bool
	var err error
	if c.Failure != nil {
		if okF, err = safeHolds(c.Failure, env, s.Value); err != nil {
			return VerdictError, s.Value, "failure condition: " + err.Error()
		}
	}
	if c.Success != nil {
		if okS, err = safeHolds(c.Success, env, s.Value); err != nil {
			return VerdictError, s.Value, "success condition: " + err.Error()
		}
	}
	switch {
	case c.Failure != nil && okF:
		return VerdictFail, s.Value, ""
	case c.Success != nil && okS:
		return VerdictPass, s.Value, ""
	case c.Success != nil && c.Failure != nil:
		return VerdictInconclusive, s.Value, ""
	case c.Success != nil:
		if kind == GateCheck {
			return VerdictPending, s.Value, ""
		}
		return VerdictFail, s.Value, ""
	default:
		return VerdictPass, s.Value, ""
	}
}

func safeHolds(c Condition, env *Env, v any) (ok bool, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, x)
		}
	}()
	return c.Holds(env, v)
}
