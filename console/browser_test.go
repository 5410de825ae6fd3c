package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/handrail-dev/handrail/console"
	"github.com/handrail-dev/handrail/internal/testenv"
	"github.com/handrail-dev/handrail/runbook"
)

// envChromium names the Chromium binary, in the environment or in
// scripts/test-services' services.env.
const envChromium = "HANDRAIL_TEST_CHROMIUM"

// envUpdateDocs, set to 1, writes the screenshots into docs/.
const envUpdateDocs = "HANDRAIL_UPDATE_DOCS"

func chromiumBin(t *testing.T) string {
	t.Helper()
	if p, err := testenv.Lookup(envChromium); err == nil && p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.InCI() {
		t.Fatalf("Chromium not available in CI: install Debian's chromium package (scripts/test-services start, or apt-get install -y chromium) or set %s", envChromium)
	}
	t.Skipf("Chromium not found: run scripts/test-services start (or apt-get install -y chromium), or set %s", envChromium)
	return ""
}

// shared is the one headless Chromium of the package's tests, started by
// the first test that needs it (starting Chromium is the slow part).
var shared struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

// browser returns the shared Chromium with the viewport set for the test;
// each person gets a browser context of their own (their own cookies) from
// newPerson.
func browser(t *testing.T, width, height int) context.Context {
	t.Helper()
	bin := chromiumBin(t)
	shared.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
			chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-gpu", true), chromedp.Flag("hide-scrollbars", true))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		shared.ctx, shared.cancel = ctx, func() { cancel(); cancelAlloc() }
		shared.err = chromedp.Do(ctx)
	})
	require.NoError(t, shared.err, "start Chromium")
	return withViewport{shared.ctx, width, height}.context()
}

// withViewport carries the viewport a test's pages get.
type withViewport struct {
	ctx           context.Context
	width, height int
}

type viewportKey struct{}

func (w withViewport) context() context.Context {
	return context.WithValue(w.ctx, viewportKey{}, [2]int{w.width, w.height})
}

func newPerson(t *testing.T, root context.Context) context.Context {
	ctx, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx))
	if vp, ok := root.Value(viewportKey{}).([2]int); ok {
		opts := []chromedp.EmulateViewportOption{}
		if vp[0] < 600 {
			opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(int64(vp[0]), int64(vp[1]), opts...)))
	}
	return ctx
}

// within runs actions with a deadline (never on a context's first run).
func within(t *testing.T, ctx context.Context, d time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, actions...), what)
}

// waitJS waits until the JavaScript expression is true on the page,
// through navigations.
func waitJS(t *testing.T, ctx context.Context, d time.Duration, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(actx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("%s: not true within %s (%v)\npage text:\n%s", what, d, last, body)
}

func evalString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	require.NoError(t, err, expr)
	return s
}

// users writes a users file: bcrypt hashes made here, the passwords known
// to the test.
func users(t *testing.T, names ...string) *console.Users {
	t.Helper()
	var b strings.Builder
	for _, n := range names {
		h, err := bcrypt.GenerateFromPassword([]byte(n+"-pw"), bcrypt.MinCost)
		require.NoError(t, err)
		fmt.Fprintf(&b, "%s:%s:release\n", n, h)
	}
	path := filepath.Join(t.TempDir(), "users")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	u, err := console.LoadUsers(path)
	require.NoError(t, err)
	return u
}

// release is a run in progress on the real clock, with its console.
type release struct {
	srv  *console.Server
	plan *runbook.Plan
	j    *runbook.MemJournal
	done chan *runbook.Result
	url  string
	mu   sync.Mutex
	undo []string
	// open is closed by the test once its pages are open: the release's
	// first step waits for it, so the pages see the run from its start.
	open     chan struct{}
	openOnce sync.Once
}

// start lets the release's first step finish.
func (r *release) start() { r.openOnce.Do(func() { close(r.open) }) }

// preflight is a step that waits until the test's pages are open.
func (r *release) preflight() runbook.Step {
	return runbook.Step{Name: "preflight", Irreversible: true,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			select {
			case <-r.open:
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})}
}

func (r *release) undone() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.undo...)
}

// samples feeds a check: each call returns the next value (the last one
// repeats).
func samples(vals ...float64) runbook.Probe {
	var mu sync.Mutex
	i := 0
	return runbook.ProbeFunc(func(context.Context, *runbook.Env) (runbook.Sample, error) {
		mu.Lock()
		defer mu.Unlock()
		v := vals[min(i, len(vals)-1)]
		i++
		return runbook.Sample{Value: v}, nil
	})
}

func below(limit float64) runbook.Condition {
	return runbook.ConditionFunc(func(_ *runbook.Env, v any) (bool, error) {
		f, ok := v.(float64)
		return ok && f < limit, nil
	})
}

func startRelease(t *testing.T, id string, build func(b *runbook.Builder, r *release), auth console.Authenticator, starter string) *release {
	t.Helper()
	r := &release{j: &runbook.MemJournal{}, done: make(chan *runbook.Result, 1), open: make(chan struct{})}
	b := runbook.NewBuilder("checkout-release")
	b.Step(r.preflight())
	build(b, r)
	p, err := b.Build()
	require.NoError(t, err)
	r.plan = p
	red := runbook.NewRedactor("hunter2-secret-token")
	srv, err := console.New(console.Options{Addr: "127.0.0.1:0", Auth: auth, Redactor: red})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, srv.Start(ctx))
	r.srv, r.url = srv, srv.BaseURL()
	// The console learns of the run from its first event, sent from the
	// run's goroutine: startRelease returns once the console has seen it,
	// so that a page or stream opened next finds the run.
	known := make(chan struct{})
	var knownOnce sync.Once
	obs := runbook.MultiObserver{srv.Watch(p), runbook.ObserverFunc(func(e runbook.Event) {
		if _, ok := e.(runbook.RunStarted); ok {
			knownOnce.Do(func() { close(known) })
		}
	})}
	ex := &runbook.Executor{Journal: r.j, Approver: srv.Broker(), Observer: obs, Redactor: red,
		RollbackRetry: &runbook.Retry{Attempts: 1}}
	go func() {
		res, _ := ex.Run(ctx, p, runbook.RunOptions{RunID: id, StartedBy: starter})
		r.done <- res
	}()
	t.Cleanup(func() {
		r.start()
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("the run did not stop")
		}
		_ = srv.Close()
	})
	select {
	case <-known:
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not start within 30s")
	}
	return r
}

func (r *release) step(name string, took time.Duration) runbook.Step {
	return runbook.Step{Name: name, Budget: took,
		Action: runbook.ActionFunc(func(ctx context.Context, env *runbook.Env) (runbook.Outputs, error) {
			select {
			case <-time.After(took):
				return runbook.Outputs{"version": "0.3.0"}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}),
		Rollbacks: []runbook.Rollback{runbook.RollbackFunc(func(ctx context.Context, env *runbook.Env) error {
			time.Sleep(2 * took)
			r.mu.Lock()
			r.undo = append(r.undo, name)
			r.mu.Unlock()
			return nil
		})}}
}

func (r *release) result(t *testing.T) *runbook.Result {
	t.Helper()
	select {
	case res := <-r.done:
		r.done <- res
		return res
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not finish")
		return nil
	}
}

func signIn(t *testing.T, ctx context.Context, base, name, next string) {
	t.Helper()
	within(t, ctx, 60*time.Second, "sign in as "+name,
		chromedp.Navigate(base+"/signin?next="+next),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SendKeys(chromedp.ID("password"), name+"-pw"),
		chromedp.Click(chromedp.ID("signin-submit")),
	)
	waitJS(t, ctx, 60*time.Second, name+" is signed in", `!!document.querySelector(".me") && document.querySelector(".me").textContent.includes(`+jsString(name)+`)`)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// clickAnswer presses a button on the card of node and returns what the
// console replied.
func clickAnswer(t *testing.T, ctx context.Context, node, answer string) string {
	t.Helper()
	sel := fmt.Sprintf(`.ask[data-node=%q] button[data-answer=%q]`, node, answer)
	waitJS(t, ctx, 60*time.Second, "the "+answer+" button of "+node, `!!document.querySelector(`+jsString(sel)+`) && !document.querySelector(`+jsString(sel)+`).disabled`)
	evalString(t, ctx, `document.getElementById("flash").textContent = ""; ""`)
	within(t, ctx, 30*time.Second, "click "+answer, chromedp.Click(chromedp.CSS(sel)))
	waitJS(t, ctx, 60*time.Second, "the console's reply", `(function(){var f=document.getElementById("flash");return f.textContent.length>0 && f.textContent!=="Sending…"})()`)
	return evalString(t, ctx, `document.getElementById("flash").textContent`)
}

func TestBrowserApprovalsQuorumSeparationAndLiveTimeline(t *testing.T) {
	root := browser(t, 1400, 1000)
	r := startRelease(t, "rel-go", func(b *runbook.Builder, r *release) {
		b.Step(r.step("deploy_canary", 400*time.Millisecond))
		b.Gate(runbook.Gate{Name: "canary", Kind: runbook.GateSoak, Every: 300 * time.Millisecond, Duration: 4 * time.Second,
			Checks: []runbook.Check{{Name: "error_rate", Probe: samples(0.004, 0.006, 0.005, 0.007, 0.004, 0.006, 0.005), Success: below(0.05), Threshold: "< 0.05"}}})
		b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{
			Message: "Promote 0.3.0 to every user?", Approvers: []string{"alice", "bob", "carol"}, Quorum: 2,
			SeparateFrom: runbook.SeparateFromStarter, Timeout: 10 * time.Minute}})
		b.Step(r.step("promote", 300*time.Millisecond))
	}, users(t, "alice", "bob", "carol"), "carol")
	run := r.url + "/runs/rel-go"

	// A watcher who is not signed in sees the timeline advance and the
	// first gate sample arrive, live.
	watcher := newPerson(t, root)
	within(t, watcher, 60*time.Second, "open the console", chromedp.Navigate(run), chromedp.WaitVisible(chromedp.ID("timeline")))
	waitJS(t, watcher, 60*time.Second, "the run waits for its preflight", `!!document.querySelector('.node[data-node="preflight"].n-running')`)
	r.start()
	waitJS(t, watcher, 60*time.Second, "deploy_canary running or done", `!!document.querySelector('.node[data-node="deploy_canary"].n-running, .node[data-node="deploy_canary"].n-succeeded')`)
	waitJS(t, watcher, 60*time.Second, "deploy_canary succeeded", `!!document.querySelector('.node[data-node="deploy_canary"].n-succeeded')`)
	waitJS(t, watcher, 60*time.Second, "a gate sample plotted", `document.querySelectorAll('.chart[data-check="canary/error_rate"] circle.sample').length >= 1`)
	first := evalString(t, watcher, `String(document.querySelectorAll('.chart[data-check="canary/error_rate"] circle.sample').length)`)
	waitJS(t, watcher, 60*time.Second, "more samples arrive while the page is open", `document.querySelectorAll('.chart[data-check="canary/error_rate"] circle.sample').length > `+first)
	waitJS(t, watcher, 30*time.Second, "the soak counts down", `/^\d\d:\d\d$/.test((document.querySelector('.node[data-node="canary"] .time.count')||{textContent:""}).textContent) || !!document.querySelector('.node[data-node="canary"].n-succeeded')`)
	assert.Equal(t, "1", evalString(t, watcher, `String(document.querySelectorAll('.chart[data-check="canary/error_rate"] line.limit').length)`), "the threshold is drawn")
	waitJS(t, watcher, 60*time.Second, "the approval is asked", `!!document.querySelector('.ask[data-node="go_no_go"]')`)
	assert.Contains(t, evalString(t, watcher, `document.querySelector('.ask[data-node="go_no_go"]').innerText`), "Sign in")
	waitJS(t, watcher, 30*time.Second, "the approval counts down", `/^\d\d:\d\d$/.test(document.querySelector('.ask[data-node="go_no_go"] .countdown').textContent)`)

	// The starter signs in and is refused: separate_from = "starter".
	carol := newPerson(t, root)
	signIn(t, carol, r.url, "carol", "/runs/rel-go")
	reply := clickAnswer(t, carol, "go_no_go", "approve")
	assert.Contains(t, reply, "carol started this run and may not approve it")

	// alice approves: one of two.
	alice := newPerson(t, root)
	signIn(t, alice, r.url, "alice", "/runs/rel-go")
	reply = clickAnswer(t, alice, "go_no_go", "approve")
	assert.Contains(t, reply, "Approved go_no_go as alice")
	waitJS(t, watcher, 60*time.Second, "everyone sees 1 of 2", `(document.querySelector('.ask[data-node="go_no_go"] .quorum')||{textContent:""}).textContent.startsWith("1 of 2 approvals (alice)")`)
	select {
	case <-r.done:
		t.Fatal("the run went on with one approval of a quorum of two")
	case <-time.After(300 * time.Millisecond):
	}
	// alice again does not make two.
	reply = clickAnswer(t, alice, "go_no_go", "approve")
	assert.Contains(t, reply, "alice has already approved go_no_go")

	// bob approves: the quorum is reached and the run continues.
	bob := newPerson(t, root)
	signIn(t, bob, r.url, "bob", "/runs/rel-go")
	reply = clickAnswer(t, bob, "go_no_go", "approve")
	assert.Contains(t, reply, "Approved go_no_go as bob")
	waitJS(t, watcher, 60*time.Second, "promote runs", `!!document.querySelector('.node[data-node="promote"].n-running, .node[data-node="promote"].n-succeeded')`)
	waitJS(t, watcher, 60*time.Second, "the run succeeded", `document.getElementById("status").textContent.includes("succeeded")`)
	assert.Empty(t, evalString(t, watcher, `Array.from(document.querySelectorAll('.ask')).map(function(e){return e.dataset.node}).join(",")`), "the question is gone for everyone")
	decisions := evalString(t, watcher, `document.getElementById("decisions").innerText`)
	assert.Contains(t, decisions, "refused go_no_go by carol via console")
	assert.Contains(t, decisions, "approved go_no_go by alice, bob")

	res := r.result(t)
	require.Equal(t, runbook.StatusSucceeded, res.Status)
	assert.Equal(t, "alice, bob", res.Nodes["go_no_go"].Outputs["by"])
	recs, err := r.j.Load(context.Background(), "rel-go")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	var counted []string
	for _, d := range st.Decisions["go_no_go"] {
		assert.Equal(t, r.plan.Hash(), d.PlanHash, "every decision is bound to the plan")
		if d.Refused == "" {
			counted = append(counted, d.By)
			assert.Equal(t, "console", d.Via)
			assert.Equal(t, "127.0.0.1", d.From)
			assert.NotEmpty(t, d.Seen, "what they saw is journaled")
			assert.Contains(t, strings.Join(d.Seen, "\n"), "canary/error_rate")
		}
	}
	assert.Equal(t, []string{"alice", "bob"}, counted)
	assert.Equal(t, "carol", st.StartedBy)
}

func TestBrowserSignedLinks(t *testing.T) {
	root := browser(t, 1400, 1000)
	r := startRelease(t, "rel-link", func(b *runbook.Builder, r *release) {
		b.Step(r.step("migrate", 200*time.Millisecond))
		b.Gate(runbook.Gate{Name: "go_no_go", Kind: runbook.GateApproval, Approval: &runbook.Approval{
			Message: "Migrated. Go?", Approvers: []string{"alice", "dave"}, Timeout: 10 * time.Minute}})
		b.Step(r.step("switch", 200*time.Millisecond))
	}, users(t, "alice"), "carol")
	watcher := newPerson(t, root)
	within(t, watcher, 60*time.Second, "open the console", chromedp.Navigate(r.url+"/runs/rel-link"))
	r.start()
	waitJS(t, watcher, 60*time.Second, "the approval is asked", `!!document.querySelector('.ask[data-node="go_no_go"]')`)

	// A link made for another plan (the runbook changed since) is refused,
	// and the refusal is journaled.
	stale := r.srv.SignLink("rel-link", "go_no_go", strings.Repeat("ab", 32), "alice", time.Now().Add(time.Hour))
	alice := newPerson(t, root)
	within(t, alice, 60*time.Second, "open the stale link", chromedp.Navigate(stale), chromedp.WaitVisible(chromedp.ID("stale")))
	assert.Contains(t, evalString(t, alice, `document.getElementById("stale").textContent`), "This link was made for plan abababababab")
	within(t, alice, 30*time.Second, "approve from the stale link", chromedp.Click(chromedp.ID("link-approve")))
	waitJS(t, alice, 60*time.Second, "the link's answer is refused", `document.getElementById("result").className.includes("error")`)
	assert.Contains(t, evalString(t, alice, `document.getElementById("result").textContent`), "the decision is for plan abababababab, the run executes plan "+r.plan.Hash()[:12])
	waitJS(t, watcher, 60*time.Second, "the watcher sees the refusal", `document.getElementById("decisions").innerText.includes("refused go_no_go by alice via link")`)

	// A tampered link is refused outright.
	within(t, alice, 60*time.Second, "open a tampered link", chromedp.Navigate(strings.Replace(r.srv.SignLink("rel-link", "go_no_go", r.plan.Hash(), "alice", time.Time{}), "as=alice", "as=mallory", 1)),
		chromedp.WaitVisible(chromedp.ID("error")))
	assert.Contains(t, evalString(t, alice, `document.getElementById("error").textContent`), "the signature does not match")

	// dave, who has no account, answers from his signed link: the first
	// valid answer wins and the run continues; everyone sees it at once.
	dave := newPerson(t, root)
	within(t, dave, 60*time.Second, "open dave's link", chromedp.Navigate(r.srv.SignLink("rel-link", "go_no_go", r.plan.Hash(), "dave", time.Time{})), chromedp.WaitVisible(chromedp.ID("link-approve")))
	within(t, dave, 30*time.Second, "write a comment and approve", chromedp.SendKeys(chromedp.CSS("textarea[name=comment]"), "checked the dashboards"), chromedp.Click(chromedp.ID("link-approve")))
	waitJS(t, dave, 60*time.Second, "dave's answer is taken", `document.getElementById("result").className.includes("ok")`)
	waitJS(t, watcher, 60*time.Second, "the watcher sees the run go on", `!document.querySelector('.ask[data-node="go_no_go"]') && document.getElementById("decisions").innerText.includes("approved go_no_go by dave via link")`)

	// alice's valid link, opened now, says it was already decided.
	within(t, alice, 60*time.Second, "open alice's link after the decision", chromedp.Navigate(r.srv.SignLink("rel-link", "go_no_go", r.plan.Hash(), "alice", time.Time{})), chromedp.WaitVisible(chromedp.ID("closed")))
	assert.Contains(t, evalString(t, alice, `document.getElementById("closed").textContent`), "already decided by dave")

	res := r.result(t)
	require.Equal(t, runbook.StatusSucceeded, res.Status)
	recs, err := r.j.Load(context.Background(), "rel-link")
	require.NoError(t, err)
	st, err := runbook.Replay(recs)
	require.NoError(t, err)
	ds := st.Decisions["go_no_go"]
	require.Len(t, ds, 2)
	assert.Contains(t, ds[0].Refused, "the decision is for plan abababababab")
	assert.Equal(t, "dave", ds[1].By)
	assert.Equal(t, "link", ds[1].Via)
	assert.Equal(t, "checked the dashboards", ds[1].Comment)
}

func TestBrowserBreachShowsTheRollbackPathLive(t *testing.T) {
	root := browser(t, 1400, 1000)
	r := startRelease(t, "rel-breach", func(b *runbook.Builder, r *release) {
		b.Phase("prepare", func(b *runbook.Builder) {
			b.Step(r.step("snapshot_db", 200*time.Millisecond))
			b.Step(r.step("migrate_schema", 300*time.Millisecond))
		})
		b.Phase("canary", func(b *runbook.Builder) {
			b.Step(r.step("deploy_canary", 300*time.Millisecond))
			b.Step(r.step("shift_10_percent", 200*time.Millisecond))
			b.Gate(runbook.Gate{Name: "canary_soak", Kind: runbook.GateSoak, Every: 200 * time.Millisecond, Duration: 3 * time.Second,
				Checks: []runbook.Check{
					{Name: "error_rate", Probe: samples(0.004, 0.006, 0.005, 0.009, 0.021, 0.064), Success: below(0.05), Threshold: "< 0.05", Message: "5xx above 5%"},
					{Name: "p95_ms", Probe: samples(180, 190, 185, 210, 260, 300), Success: below(800), Threshold: "< 800"},
				}})
		})
		b.Phase("rollout", func(b *runbook.Builder) {
			b.Step(r.step("shift_100_percent", 200*time.Millisecond))
		})
	}, nil, "carol")
	watcher := newPerson(t, root)
	within(t, watcher, 60*time.Second, "open the console", chromedp.Navigate(r.url+"/runs/rel-breach"), chromedp.WaitVisible(chromedp.ID("timeline")))
	r.start()
	waitJS(t, watcher, 60*time.Second, "the rollback path appears", `!document.getElementById("rollback").hidden && document.querySelectorAll("#path li").length === 4`)
	order := evalString(t, watcher, `Array.from(document.querySelectorAll("#path li")).map(function(l){return l.dataset.step}).join(",")`)
	assert.Equal(t, "shift_10_percent,deploy_canary,migrate_schema,snapshot_db", order, "the rollback path, in reverse order")
	waitJS(t, watcher, 60*time.Second, "a compensation in progress, steps left to undo", `!!document.querySelector("#path li.compensating") && !document.getElementById("undo").innerText.includes("nothing")`)
	assert.Contains(t, evalString(t, watcher, `document.getElementById("rollback").innerText`), "5xx above 5%")
	if os.Getenv(envUpdateDocs) == "1" {
		waitJS(t, watcher, 60*time.Second, "mid-rollback", `document.querySelectorAll("#path li.compensated").length >= 2 && !!document.querySelector("#path li.compensating")`)
		shot, err := chromedp.Run(watcher, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "console.png"), shot, 0o644))
	}
	waitJS(t, watcher, 60*time.Second, "the rollback completes", `document.querySelectorAll("#path li.compensated").length === 4 && document.getElementById("status").textContent.includes("rolled back")`)
	assert.Equal(t, "nothing", strings.TrimSpace(evalString(t, watcher, `document.getElementById("undo").innerText`)))
	assert.NotContains(t, evalString(t, watcher, `document.body.innerHTML`), "hunter2-secret-token")
	res := r.result(t)
	assert.Equal(t, runbook.StatusRolledBack, res.Status)
	assert.Equal(t, []string{"shift_10_percent", "deploy_canary", "migrate_schema", "snapshot_db"}, r.undone())
}

func TestBrowserPhoneLayout(t *testing.T) {
	root := browser(t, 390, 844)
	r := startRelease(t, "rel-phone", func(b *runbook.Builder, r *release) {
		b.Step(r.step("deploy", 200*time.Millisecond))
		b.Gate(runbook.Gate{Name: "canary", Kind: runbook.GateSoak, Every: 200 * time.Millisecond, Duration: time.Second,
			Checks: []runbook.Check{{Name: "error_rate", Probe: samples(0.004, 0.006, 0.09), Success: below(0.05), Threshold: "< 0.05"}}})
	}, nil, "")
	p := newPerson(t, root)
	within(t, p, 60*time.Second, "open the console", chromedp.Navigate(r.url+"/runs/rel-phone"))
	r.start()
	waitJS(t, p, 60*time.Second, "the run ends", `document.getElementById("status").textContent.includes("rolled back")`)
	// Nothing is wider than the screen.
	assert.Equal(t, "true", evalString(t, p, `String(document.documentElement.scrollWidth <= window.innerWidth)`))
	if os.Getenv(envUpdateDocs) == "1" {
		shot, err := chromedp.Run(p, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "docs", "console-phone.png"), shot, 0o644))
	}
	_ = http.StatusOK
}
