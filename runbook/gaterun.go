package runbook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/handrail-dev/handrail/runbook/engine"
)

// checkEnd is how one check of a gate ended.
type checkEnd struct {
	tok     *clockToken
	check   int
	outcome engine.Outcome
	reason  string
	last    any
	// why is the decision's record: the rule, the tally, the query.
	why CheckDecision
}

func (r *run) runGate(ctx context.Context, i int, n *Node, tok *clockToken) nodeEnd {
	g := n.Gate
	end := nodeEnd{idx: i, tok: tok, attempts: 1}
	if err := r.journal(ctx, Record{Kind: RecNodeStarted, Node: n.Name, Attempt: 1}); err != nil {
		return r.journalFailure(end, n.Name, 1, err)
	}
	r.emit(NodeStarted{Header: r.header(n.Name), NodeKind: "gate", Phase: n.Phase, Attempt: 1})
	start := r.clock.Now()
	var outcome engine.Outcome
	var reason string
	var dec *GateDecision
	var outputs Outputs
	if g.Kind == GateApproval {
		outcome, reason, outputs = r.runApproval(ctx, n)
	} else {
		outcome, reason, outputs, dec = r.runChecks(ctx, n)
	}
	if ctx.Err() != nil && !(g.Kind == GateGuard && errors.Is(context.Cause(ctx), errSpanEnded)) {
		end.state, end.err = StateCancelled, &StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))}
		// A gate cancelled because the run lock was lost is not failed for
		// good: whoever continues the run evaluates it again.
		_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: 1, Final: !errors.Is(context.Cause(ctx), ErrLockLost), Error: end.err.Error()})
		r.emit(NodeFailed{Header: r.header(n.Name), Attempt: 1, Error: r.red.Redact(end.err.Error()), Final: true})
		return end
	}
	outputs["outcome"] = string(outcome)
	end.outcome = outcome
	if dec != nil {
		if err := r.journal(ctx, Record{Kind: RecGateDecided, Node: n.Name, Gate: dec}); err != nil {
			return r.journalFailure(end, n.Name, 1, err)
		}
	}
	if outcome == engine.OutcomePassed {
		if err := r.journal(ctx, Record{Kind: RecNodeSucceeded, Node: n.Name, Attempt: 1, Outputs: r.red.RedactOutputs(outputs)}); err != nil {
			return r.journalFailure(end, n.Name, 1, err)
		}
		r.emit(GatePassed{Header: r.header(n.Name), Outcome: outcome, Decision: dec})
		r.emit(NodeSucceeded{Header: r.header(n.Name), Attempt: 1, Duration: r.clock.Now().Sub(start), Outputs: r.red.RedactOutputs(outputs)})
		end.state, end.outputs = StateSucceeded, outputs
		return end
	}
	pol := Policy(engine.FailurePolicy(outcome, string(g.OnFail), string(g.OnInconclusive)))
	cause := ErrGateFailed
	switch {
	case outcome == engine.OutcomeInconclusive:
		cause = ErrGateInconclusive
	case outcome == engine.OutcomeFailed && g.Kind == GateApproval:
		cause = ErrDenied
	}
	err := &StepError{Node: n.Name, Attempt: 1, Err: fmt.Errorf("%w: %s", cause, reason)}
	r.emit(GateFailed{Header: r.header(n.Name), Outcome: outcome, Reason: r.red.Redact(reason), Policy: pol, Decision: dec})
	_ = r.journal(ctx, Record{Kind: RecNodeFailed, Node: n.Name, Attempt: 1, Final: true, Error: err.Error()})
	r.emit(NodeFailed{Header: r.header(n.Name), Attempt: 1, Error: r.red.Redact(err.Error()), Final: true, Policy: pol})
	end.outputs = outputs
	end = r.applyPolicy(ctx, end, n, err, pol, fmt.Sprintf("gate %s %s", n.Name, outcome))
	if end.state == StateWarned {
		end.outputs = outputs
	}
	return end
}

func (r *run) runApproval(ctx context.Context, n *Node) (engine.Outcome, string, Outputs) {
	a := n.Gate.Approval
	out := Outputs{}
	quorum := max(a.Quorum, 1)
	req := ApprovalRequest{Run: r.info.ID, Node: n.Name, Kind: "approval", Message: r.red.Redact(a.Message), Approvers: a.Approvers,
		Evidence: r.evidence(), Samples: r.recentSamples(5), PlanHash: r.p.hash, Quorum: quorum, SeparateFrom: a.SeparateFrom,
		StartedBy: r.starter, OnTimeout: a.OnTimeout}
	for i, ev := range req.Evidence {
		req.Evidence[i] = r.red.Redact(ev)
	}
	if a.Timeout > 0 {
		req.Deadline = r.clock.Now().Add(a.Timeout)
	}
	r.emit(ApprovalRequested{Header: r.header(n.Name), Request: req})
	if r.appr == nil {
		return engine.OutcomeError, fmt.Sprintf("%v (approval)", ErrNoApprover), out
	}
	actx, cancel := clockTimeout(ctx, r.clock, a.Timeout)
	defer cancel()
	refuser, canRefuse := r.appr.(DecisionRefuser)
	var d Decision
	for {
		// As in ask: the runner keeps its clock token while people decide.
		var err error
		d, err = r.appr.Approve(actx, req)
		if err != nil {
			if a.Timeout > 0 && errors.Is(context.Cause(actx), ErrTimeout) && ctx.Err() == nil {
				d = Decision{Approved: a.OnTimeout, By: "timeout", TimedOut: true}
			} else {
				return engine.OutcomeError, r.red.Redact(fmt.Sprintf("approval: %v", err)), out
			}
		}
		d = r.completeAnswer(d, req)
		if aerr := req.Admit(d); aerr != nil {
			d.Refused = r.red.Redact(aerr.Error())
			rec := d // the record keeps its own copy: d is reused
			if jerr := r.journal(ctx, Record{Kind: RecDecision, Node: n.Name, Decision: &rec}); jerr != nil {
				return engine.OutcomeError, fmt.Sprintf("journal: %v", jerr), out
			}
			r.emit(ApprovalRefused{Header: r.header(n.Name), Decision: d, Reason: d.Refused})
			if !canRefuse {
				return engine.OutcomeError, d.Refused, out
			}
			refuser.Refused(req, d, aerr)
			continue
		}
		rec := d
		if jerr := r.journal(ctx, Record{Kind: RecDecision, Node: n.Name, Decision: &rec}); jerr != nil {
			return engine.OutcomeError, fmt.Sprintf("journal: %v", jerr), out
		}
		if d.TimedOut || !d.Approved || d.Override || len(req.Votes)+1 >= quorum {
			break
		}
		req.Votes = append(req.Votes, d)
		r.emit(ApprovalVoted{Header: r.header(n.Name), Decision: d, Have: len(req.Votes), Need: quorum})
	}
	if d.Approved && !d.TimedOut && len(req.Votes) > 0 {
		names := make([]string, 0, len(req.Votes)+1)
		for _, v := range req.Votes {
			names = append(names, v.By)
		}
		d.By = strings.Join(append(names, d.By), ", ")
	}
	r.emit(ApprovalDecided{Header: r.header(n.Name), Decision: d})
	out["approved"] = d.Approved
	out["by"] = d.By
	r.mu.Lock()
	r.res[n.Index].Decision = &d
	r.mu.Unlock()
	if d.Approved {
		return engine.OutcomePassed, "", out
	}
	return engine.OutcomeFailed, engine.DenialReason(d.By, d.TimedOut, a.Timeout, d.Comment), out
}

// completeAnswer fills in what an approver's answer d to req leaves out:
// when, the plan, what the person saw; its comment is redacted.
func (r *run) completeAnswer(d Decision, req ApprovalRequest) Decision {
	if d.At.IsZero() {
		d.At = r.clock.Now()
	}
	d.Comment = r.red.Redact(d.Comment)
	if d.PlanHash == "" {
		d.PlanHash = r.p.hash
	}
	if d.Seen == nil && !d.TimedOut {
		d.Seen = req.Evidence
	}
	return d
}

// recentSamples returns the last k samples of every check of the gates
// done so far, redacted (they were recorded redacted).
func (r *run) recentSamples(k int) []SampleRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SampleRecord
	for _, i := range r.done {
		ss := r.res[i].Samples
		count := map[string]int{}
		keep := make([]bool, len(ss))
		for j := len(ss) - 1; j >= 0; j-- {
			if count[ss[j].Check] < k {
				count[ss[j].Check]++
				keep[j] = true
			}
		}
		for j, s := range ss {
			if keep[j] {
				out = append(out, s)
			}
		}
	}
	return out
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
func (r *run) runChecks(ctx context.Context, n *Node) (engine.Outcome, string, Outputs, *GateDecision) {
	g := n.Gate
	timeout := engine.GateTimeout(string(g.Kind), g.Timeout)
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
	ge := engine.NewGateEnd()
	for range g.Checks {
		parent.idle()
		e := <-ends
		parent.resume()
		e.tok.release()
		outs[e.check] = e
		if ge.Add(e.check, e.outcome, e.reason) {
			stop(errCheckDecided)
		}
	}
	result, reason, decider := ge.Outcome, ge.Reason, ge.Decider
	wg.Wait()
	out := Outputs{}
	dec := &GateDecision{Gate: n.Name, Kind: g.Kind, Outcome: result, Duration: g.Duration, Count: g.Count, Timeout: timeout, Time: r.clock.Now()}
	for k, e := range outs {
		name := g.Checks[k].Name
		if name != "" {
			out[name] = e.last
		}
		if k == 0 {
			out["value"] = e.last
		}
		dec.Checks = append(dec.Checks, e.why)
		if k == decider {
			dec.Decider = e.why.Check
		}
	}
	return result, reason, out, dec
}

var errCheckDecided = errors.New("another check decided the gate")

// checkSpec is check k of gate g for the engine.
func checkSpec(g *Gate, k int) engine.CheckSpec {
	c := &g.Checks[k]
	return engine.CheckSpec{Kind: string(g.Kind), Index: k, Name: c.Name, Every: c.Every, InitialDelay: c.InitialDelay, Count: c.Count,
		GateEvery: g.Every, GateInitialDelay: g.InitialDelay, GateCount: g.Count, Duration: g.Duration, Timeout: g.Timeout,
		Limits: c.Limits(), Threshold: c.Threshold, Message: c.Message}
}

// runCheck drives check k of gate node n through the engine's machine:
// it samples, classifies, records and sleeps; the machine decides.
func (r *run) runCheck(ctx context.Context, n *Node, k int) checkEnd {
	g := n.Gate
	c := &g.Checks[k]
	m := engine.NewCheck(checkSpec(g, k), r.clock.Now())
	end := checkEnd{check: k}
	end.why = CheckDecision{Check: m.Name(), Probe: Describe(c.Probe), Threshold: c.Threshold, NoData: string(c.NoData),
		Every: m.Every(), InitialDelay: m.InitialDelay(), Count: m.Count()}
	wait := m.InitialDelay()
	for {
		if wait > 0 && r.clock.Sleep(ctx, wait) != nil {
			m.Stop(stopOf(context.Cause(ctx)), fmt.Sprint(context.Cause(ctx)))
			break
		}
		seq := m.Seq()
		env := r.env(n.Name, seq, nil)
		s, perr := safeSample(ctx, c.Probe, env)
		if ctx.Err() != nil {
			m.Stop(stopOf(context.Cause(ctx)), fmt.Sprint(context.Cause(ctx)))
			break
		}
		verdict, value, errText := c.Classify(g.Kind, env, s, perr)
		end.last = value
		if s.Query != "" {
			end.why.Query = r.red.Redact(s.Query)
		}
		rec := SampleRecord{Gate: n.Name, Check: m.Name(), Seq: seq, Time: r.clock.Now(), Value: r.red.RedactValue(value), Verdict: verdict, Error: r.red.Redact(errText), DryRun: c.DryRun, Threshold: c.Threshold}
		r.mu.Lock()
		r.res[n.Index].Samples = append(r.res[n.Index].Samples, rec)
		r.mu.Unlock()
		_ = r.journal(ctx, Record{Kind: RecGateSample, Node: n.Name, Sample: &rec})
		r.emit(GateSampled{Header: r.header(n.Name), Sample: rec})
		var done bool
		if done, wait = m.Observe(verdict, rec.Value, rec.Error, r.clock.Now()); done {
			break
		}
	}
	end.outcome, end.reason = m.Outcome(), m.Reason()
	end.why.Outcome, end.why.Rule, end.why.Tally, end.why.Explanation = m.Outcome(), m.Rule(), m.Tally(), m.Explanation()
	return end
}

// stopOf says why a check's context ended.
func stopOf(cause error) engine.Stop {
	switch {
	case errors.Is(cause, errSpanEnded):
		return engine.StopSpanEnded
	case errors.Is(cause, errCheckDecided):
		return engine.StopDecided
	case errors.Is(cause, ErrTimeout):
		return engine.StopTimeout
	}
	return engine.StopCancelled
}

func safeSample(ctx context.Context, p Probe, env *Env) (s Sample, err error) {
	defer engine.Recover(&err, ErrPanic, false)
	return p.Sample(ctx, env)
}

// Classify turns one sample of the check into a verdict, the way every
// runner must (runners call it; runbook authors do not need it): a probe
// error is an error; no data follows the check's NoData policy; otherwise
// the conditions decide (failure first; with both given a sample meeting
// neither is inconclusive; with success alone a miss is pending in a check
// gate and a breach elsewhere). The conditions see the sample in env.Self
// (value and the probe's outputs). It returns the verdict, the sample's
// value and an error text.
func (c *Check) Classify(kind GateKind, env *Env, s Sample, perr error) (engine.Verdict, any, string) {
	if perr != nil {
		return engine.VerdictError, nil, perr.Error()
	}
	if s.NoData {
		switch c.NoData {
		case NoDataFail:
			return engine.VerdictFail, nil, "no data"
		case NoDataPass:
			return engine.VerdictPass, nil, "no data"
		case NoDataWait:
			return engine.VerdictNoData, nil, "no data"
		default:
			return engine.VerdictInconclusive, nil, "no data"
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
			return engine.VerdictError, s.Value, "failure condition: " + err.Error()
		}
	}
	if c.Success != nil {
		if okS, err = safeHolds(c.Success, env, s.Value); err != nil {
			return engine.VerdictError, s.Value, "success condition: " + err.Error()
		}
	}
	switch {
	case c.Failure != nil && okF:
		return engine.VerdictFail, s.Value, ""
	case c.Success != nil && okS:
		return engine.VerdictPass, s.Value, ""
	case c.Success != nil && c.Failure != nil:
		return engine.VerdictInconclusive, s.Value, ""
	case c.Success != nil:
		if kind == GateCheck {
			return engine.VerdictPending, s.Value, ""
		}
		return engine.VerdictFail, s.Value, ""
	default:
		return engine.VerdictPass, s.Value, ""
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
