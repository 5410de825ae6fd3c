package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/handrail-dev/handrail/journal"
	"github.com/handrail-dev/handrail/runbook"
)

//go:embed web
var webFS embed.FS

// Store is a journal the console can list and read (`handrail serve`).
type Store interface {
	runbook.Journal
	runbook.RunLister
}

// Options configure a console.
type Options struct {
	// Addr is where to listen (default 127.0.0.1:8080). An address that is
	// not loopback needs Auth or TrustHeader.
	Addr string
	// Auth checks sign-ins; nil means nobody can sign in (and so nobody can
	// approve from the console; signed links still work).
	Auth Authenticator
	// TrustHeader names a header set by a reverse proxy in front of the
	// console that carries the signed-in user's name (X-Forwarded-User);
	// TrustGroupsHeader their comma-separated groups. Trusted only when set,
	// and only on requests that come from a loopback address (the proxy).
	TrustHeader       string
	TrustGroupsHeader string
	// Insecure accepts approvals over plain HTTP from addresses that are not
	// loopback. Without it they are refused: a session cookie or a link sent
	// in the clear can be replayed.
	Insecure bool
	// TLSCert and TLSKey serve HTTPS.
	TLSCert, TLSKey string
	// LinkKey signs approval links (default: random, valid for this process).
	LinkKey []byte
	// BaseURL is the console's address as approvers reach it, for links
	// (default http(s)://Addr).
	BaseURL string
	// Links, if set, receives one signed link per named approver whenever
	// an approval gate asks (for chat or email).
	Links io.Writer
	// LinkTTL bounds a link's life (default: the approval's deadline, or 4h).
	LinkTTL time.Duration
	// Store serves the runs of a state directory or journal.
	Store Store
	// Report renders a finished run of Store as the HTML report.
	Report func(ctx context.Context, w io.Writer, recs []runbook.Record) error
	// PlanFor rebuilds the plan of a run in Store, when it can (nil: none).
	PlanFor func(ctx context.Context, recs []runbook.Record) *runbook.Plan
	// Redactor knows the secrets: everything served passes through it.
	Redactor *runbook.Redactor
	// Logger receives the console's diagnostics.
	Logger *slog.Logger
	// Poll is how often runs in progress in Store are re-read (default 1s).
	Poll time.Duration
}

// Server is a release console.
type Server struct {
	opts     Options
	red      *runbook.Redactor
	log      *slog.Logger
	broker   *Broker
	sessions sessions
	limit    *limiter
	tmpl     *template.Template
	static   http.Handler
	linkKey  []byte
	loopback bool

	mu   sync.Mutex
	live map[string]*tracker // runs of this process, by id
	ord  []string
	plan *runbook.Plan

	srv *http.Server
	ln  net.Listener
}

// New checks opts and builds a console; Start serves it.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8080"
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("console: address %q: want host:port, e.g. 127.0.0.1:8080", opts.Addr)
	}
	s := &Server{opts: opts, red: opts.Redactor, log: opts.Logger, broker: &Broker{}, live: map[string]*tracker{}}
	s.loopback = host != "" && isLoopback(host)
	if !s.loopback && opts.Auth == nil && opts.TrustHeader == "" {
		return nil, fmt.Errorf("console: %s is not a loopback address: the console listens beyond this machine only with authentication (-ui-users FILE, or -ui-trust-header behind a proxy that signs people in)", opts.Addr)
	}
	if (opts.TLSCert == "") != (opts.TLSKey == "") {
		return nil, errors.New("console: give both a TLS certificate and its key, or neither")
	}
	if s.red == nil {
		s.red = runbook.NewRedactor()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.linkKey = opts.LinkKey
	if len(s.linkKey) == 0 {
		s.linkKey = make([]byte, 32)
		_, _ = rand.Read(s.linkKey)
	}
	if s.opts.Poll <= 0 {
		s.opts.Poll = time.Second
	}
	s.sessions.ttl = 12 * time.Hour
	s.limit = newLimiter(5, 5*time.Minute)
	s.tmpl, err = template.New("").Funcs(template.FuncMap{"short": func(h string) string {
		if len(h) > 12 {
			return h[:12]
		}
		return h
	}}).ParseFS(webFS, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: templates: %w", err)
	}
	sub, _ := fs.Sub(webFS, "web")
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return s, nil
}

// Broker is the approver to give the executor (set its Next to the
// terminal's approver).
func (s *Server) Broker() *Broker { return s.broker }

// Watch returns the observer that feeds the live page of runs of plan
// (its events, as the CLI sees them).
func (s *Server) Watch(plan *runbook.Plan) runbook.Observer {
	s.mu.Lock()
	s.plan = plan
	s.mu.Unlock()
	return runbook.MultiObserver{s.broker, runbook.ObserverFunc(s.observe)}
}

func (s *Server) observe(e runbook.Event) {
	id := e.EventHeader().Run
	s.mu.Lock()
	t, ok := s.live[id]
	if !ok {
		t = newTracker(id, s.plan, s.red)
		s.live[id] = t
		s.ord = append(s.ord, id)
	}
	s.mu.Unlock()
	t.Observe(e)
	if ev, ok := e.(runbook.ApprovalRequested); ok && s.opts.Links != nil {
		s.printLinks(ev.Request)
	}
}

func (s *Server) printLinks(req runbook.ApprovalRequest) {
	for _, who := range req.Approvers {
		if strings.HasPrefix(who, "group:") {
			continue
		}
		u := s.SignLink(req.Run, req.Node, req.PlanHash, who, req.Deadline)
		fmt.Fprintf(s.opts.Links, "Approval link for %s (%s): %s\n", who, req.Node, u)
	}
}

// SignLink returns a signed approval link for run's gate, bound to
// planHash, usable by as until expires (zero: LinkTTL or 4h from now).
func (s *Server) SignLink(run, gate, planHash, as string, expires time.Time) string {
	if expires.IsZero() {
		ttl := s.opts.LinkTTL
		if ttl <= 0 {
			ttl = 4 * time.Hour
		}
		expires = time.Now().Add(ttl)
	}
	l := Link{Run: run, Gate: gate, PlanHash: planHash, As: as, Expires: expires}
	return s.BaseURL() + "/link?" + l.Query(s.linkKey).Encode()
}

// BaseURL is where approvers reach the console.
func (s *Server) BaseURL() string {
	if s.opts.BaseURL != "" {
		return strings.TrimSuffix(s.opts.BaseURL, "/")
	}
	scheme := "http"
	if s.opts.TLSCert != "" {
		scheme = "https"
	}
	addr := s.opts.Addr
	if s.ln != nil {
		addr = s.ln.Addr().String()
	}
	return scheme + "://" + addr
}

// Start listens and serves in the background until ctx ends or Close.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		var err error
		if s.opts.TLSCert != "" {
			err = s.srv.ServeTLS(ln, s.opts.TLSCert, s.opts.TLSKey)
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("console stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	return nil
}

// Addr returns the address the console listens on (after Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.opts.Addr
	}
	return s.ln.Addr().String()
}

// Close stops serving.
func (s *Server) Close() error {
	if s.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	return err
}

// Handler returns the console's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /{$}", s.handleList)
	mux.HandleFunc("GET /runs/{id}", s.handleRun)
	mux.HandleFunc("GET /runs/{id}/state", s.handleState)
	mux.HandleFunc("GET /runs/{id}/events", s.handleEvents)
	mux.HandleFunc("POST /runs/{id}/answer", s.handleAnswer)
	mux.HandleFunc("GET /signin", s.handleSignInPage)
	mux.HandleFunc("POST /signin", s.handleSignIn)
	mux.HandleFunc("POST /signout", s.handleSignOut)
	mux.HandleFunc("GET /link", s.handleLinkPage)
	mux.HandleFunc("POST /link", s.handleLinkAnswer)
	return s.secure(mux)
}

// secure sets the headers every response carries and refuses
// cross-origin state changes.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin") // "no-referrer" makes browsers send Origin: null
		h.Set("X-Frame-Options", "DENY")
		if r.Method == http.MethodPost && !s.sameOrigin(r) {
			http.Error(w, "Refused: this request comes from another site (Origin does not match).", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Browsers send Origin on every POST; a client without one (curl)
		// still needs the CSRF token.
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

const sessionCookie = "handrail_session"

// identity returns who makes the request: a session, or a trusted proxy's
// header.
func (s *Server) identity(r *http.Request) (Identity, *session, bool) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := s.sessions.get(c.Value); ok {
			return ss.id, ss, true
		}
	}
	if s.opts.TrustHeader != "" && isLoopback(r.RemoteAddr) {
		if name := strings.TrimSpace(r.Header.Get(s.opts.TrustHeader)); name != "" {
			id := Identity{Name: name, Method: "header"}
			if s.opts.TrustGroupsHeader != "" {
				id.Groups = splitGroups(r.Header.Get(s.opts.TrustGroupsHeader))
			}
			return id, nil, true
		}
	}
	return Identity{}, nil, false
}

// mayView: on loopback anyone on this machine may watch; elsewhere only
// signed-in people.
func (s *Server) mayView(w http.ResponseWriter, r *http.Request) bool {
	if s.loopback {
		return true
	}
	if _, _, ok := s.identity(r); ok {
		return true
	}
	http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	return false
}

// transportOK refuses approvals sent in the clear from another machine.
func (s *Server) transportOK(r *http.Request) error {
	if r.TLS != nil || s.opts.Insecure || isLoopback(r.RemoteAddr) {
		return nil
	}
	return fmt.Errorf("approvals are not accepted over plain HTTP from %s: serve the console over HTTPS (or behind a TLS proxy), or start it with -ui-insecure", clientHost(r))
}

func (s *Server) tracker(ctx context.Context, id string) (*tracker, []runbook.Record, error) {
	s.mu.Lock()
	t, ok := s.live[id]
	s.mu.Unlock()
	if ok {
		return t, nil, nil
	}
	if s.opts.Store == nil {
		return nil, nil, fmt.Errorf("%w: %s", runbook.ErrRunNotFound, id)
	}
	recs, err := s.opts.Store.Load(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	var plan *runbook.Plan
	if s.opts.PlanFor != nil {
		plan = s.opts.PlanFor(ctx, recs)
	}
	return fromRecords(id, recs, plan, s.red), recs, nil
}

func finished(recs []runbook.Record) bool {
	return len(recs) > 0 && recs[len(recs)-1].Kind == runbook.RecRunFinished
}

type runRow struct {
	ID, Runbook, State, Started, Took, LeftToUndo string
	Live                                          bool
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if !s.mayView(w, r) {
		return
	}
	s.mu.Lock()
	ids := append([]string(nil), s.ord...)
	s.mu.Unlock()
	if s.opts.Store == nil && len(ids) == 1 {
		http.Redirect(w, r, "/runs/"+url.PathEscape(ids[0]), http.StatusSeeOther)
		return
	}
	var rows []runRow
	seen := map[string]bool{}
	for i := len(ids) - 1; i >= 0; i-- {
		t, _, _ := s.tracker(r.Context(), ids[i])
		if t == nil {
			continue
		}
		t.mu.Lock()
		rows = append(rows, runRow{ID: t.v.ID, Runbook: t.v.Runbook, State: t.v.Status, Started: t.v.Started.Format("2006-01-02 15:04:05"), Live: t.v.Live, LeftToUndo: strings.Join(t.v.LeftToUndo, ", ")})
		t.mu.Unlock()
		seen[ids[i]] = true
	}
	if s.opts.Store != nil {
		runs, err := s.opts.Store.Runs(r.Context())
		if err != nil {
			s.fail(w, http.StatusInternalServerError, fmt.Sprintf("listing runs: %v", err))
			return
		}
		for _, id := range runs {
			if seen[id] {
				continue
			}
			recs, err := s.opts.Store.Load(r.Context(), id)
			if err != nil {
				continue
			}
			sum, err := journal.Summarize(recs, nil)
			if err != nil {
				continue
			}
			rows = append(rows, runRow{ID: sum.ID, Runbook: sum.Runbook, State: sum.State, Started: sum.StartedAt.Format("2006-01-02 15:04:05"),
				Took: sum.Duration.Round(time.Second).String(), LeftToUndo: strings.Join(sum.LeftToUndo, ", "), Live: !finished(recs)})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Started > rows[j].Started })
	id, _, signed := s.identity(r)
	s.render(w, "list.html", map[string]any{"Runs": rows, "Me": id, "Signed": signed})
}

func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	if !s.mayView(w, r) {
		return
	}
	id := r.PathValue("id")
	t, recs, err := s.tracker(r.Context(), id)
	if err != nil {
		s.fail(w, http.StatusNotFound, fmt.Sprintf("%v", err))
		return
	}
	if recs != nil && finished(recs) && s.opts.Report != nil && r.URL.Query().Get("view") != "live" {
		var buf bytes.Buffer
		if err := s.opts.Report(r.Context(), &buf, recs); err != nil {
			s.fail(w, http.StatusInternalServerError, fmt.Sprintf("report: %v", err))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, s.red.Redact(buf.String()))
		return
	}
	me, ss, signed := s.identity(r)
	state, _, err := t.snapshot(s.personal(r))
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	csrf := ""
	if ss != nil {
		csrf = ss.csrf
	}
	t.mu.Lock()
	title := t.v.Runbook
	t.mu.Unlock()
	s.render(w, "run.html", map[string]any{"ID": id, "Title": title, "State": template.JS(state), "CSRF": csrf, "Me": me, "Signed": signed,
		"CanSignIn": s.opts.Auth != nil})
}

// personal adds who is looking to a snapshot.
func (s *Server) personal(r *http.Request) func(*View) {
	me, _, signed := s.identity(r)
	return func(v *View) {
		if signed {
			m := me
			v.Me = &m
			v.CanApprove = s.transportOK(r) == nil
		}
	}
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	if !s.mayView(w, r) {
		return
	}
	t, _, err := s.tracker(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, http.StatusNotFound, err.Error())
		return
	}
	b, _, err := t.snapshot(s.personal(r))
	if err != nil {
		s.fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// handleEvents streams the run's view as server-sent events: one "state"
// event now and one after every change (changes that come together are sent
// together). Runs of a journal in progress are re-read every Poll.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if !s.mayView(w, r) {
		return
	}
	id := r.PathValue("id")
	t, recs, err := s.tracker(r.Context(), id)
	if err != nil {
		s.fail(w, http.StatusNotFound, err.Error())
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, http.StatusInternalServerError, "streaming unsupported")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	polled := recs != nil
	seen := len(recs)
	personal := s.personal(r)
	for {
		b, changed, err := t.snapshot(personal)
		if err != nil {
			return
		}
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return
		}
		fl.Flush()
		var tick <-chan time.Time
		if polled {
			tick = time.After(s.opts.Poll)
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
			// Let a burst of events land, then send one state.
			select {
			case <-time.After(40 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		case <-tick:
			recs, err := s.opts.Store.Load(r.Context(), id)
			if err != nil || len(recs) == seen {
				if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
					return
				}
				fl.Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(s.opts.Poll):
				}
				continue
			}
			seen = len(recs)
			var plan *runbook.Plan
			if s.opts.PlanFor != nil {
				plan = s.opts.PlanFor(r.Context(), recs)
			}
			t = fromRecords(id, recs, plan, s.red)
		case <-time.After(15 * time.Second):
			if _, err := io.WriteString(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

type answerReply struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
}

func (s *Server) reply(w http.ResponseWriter, code int, ok bool, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(answerReply{OK: ok, Message: s.red.Redact(msg)})
}

// handleAnswer takes a decision from a signed-in person on the run page.
func (s *Server) handleAnswer(w http.ResponseWriter, r *http.Request) {
	me, ss, signed := s.identity(r)
	if !signed {
		s.reply(w, http.StatusUnauthorized, false, "Sign in to approve.")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.reply(w, http.StatusBadRequest, false, "bad form")
		return
	}
	// A session proves itself with its CSRF token; a proxy's header is
	// trusted with the proxy's own protection, plus the Origin check.
	if ss != nil && subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ss.csrf)) != 1 {
		s.reply(w, http.StatusForbidden, false, "Refused: the form's anti-forgery token is missing or wrong; reload the page.")
		return
	}
	if err := s.transportOK(r); err != nil {
		s.reply(w, http.StatusForbidden, false, "Refused: "+err.Error())
		return
	}
	s.answer(w, r, r.PathValue("id"), r.PostForm.Get("node"), r.PostForm.Get("plan"), me, "console")
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, run, node, plan string, me Identity, via string) {
	req, ok := s.broker.Waiting(node)
	if !ok || req.Run != run {
		msg := fmt.Sprintf("Nothing waits for an answer on %s now.", node)
		if err := s.broker.Answer(node, runbook.Decision{}); errors.Is(err, ErrNotWaiting) {
			msg = err.Error()
		}
		s.reply(w, http.StatusConflict, false, msg)
		return
	}
	if ev := r.PostForm.Get("evidence"); ev != evidenceDigest(req) {
		s.reply(w, http.StatusConflict, false, "Refused: the evidence changed since this page showed it; look again and decide.")
		return
	}
	var approved bool
	choice := ""
	switch a := r.PostForm.Get("answer"); a {
	case "approve":
		approved = true
	case "deny":
	default:
		if len(req.Choices) == 0 || !contains(req.Choices, a) {
			s.reply(w, http.StatusBadRequest, false, fmt.Sprintf("unknown answer %q", a))
			return
		}
		approved, choice = a != "compensate", a
	}
	comment := r.PostForm.Get("comment")
	if len(comment) > 2000 {
		comment = comment[:2000]
	}
	d := runbook.Decision{Approved: approved, Choice: choice, By: me.Name, Groups: me.Groups, Comment: comment, Via: via,
		From: clientHost(r), PlanHash: plan, Seen: seenLines(req)}
	if err := s.broker.Answer(node, d); err != nil {
		s.log.Warn("answer refused", "run", run, "node", node, "by", me.Name, "via", via, "reason", s.red.Redact(err.Error()))
		s.reply(w, http.StatusForbidden, false, "Refused: "+strings.TrimPrefix(err.Error(), "runbook: decision refused: "))
		return
	}
	verb := "Approved"
	if !approved {
		verb = "Denied"
	}
	s.reply(w, http.StatusOK, true, fmt.Sprintf("%s %s as %s.", verb, node, me.Name))
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

const signinCSRFCookie = "handrail_signin"

func (s *Server) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	tok := newToken()
	http.SetCookie(w, &http.Cookie{Name: signinCSRFCookie, Value: tok, Path: "/signin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	s.render(w, "signin.html", map[string]any{"CSRF": tok, "Next": safeNext(r.URL.Query().Get("next")), "Error": "", "Enabled": s.opts.Auth != nil})
}

func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

func (s *Server) handleSignIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(signinCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		http.Error(w, "Refused: the sign-in form's anti-forgery token is missing or wrong; open /signin again.", http.StatusForbidden)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	again := func(code int, msg string) {
		tok := newToken()
		http.SetCookie(w, &http.Cookie{Name: signinCSRFCookie, Value: tok, Path: "/signin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		w.WriteHeader(code)
		s.render(w, "signin.html", map[string]any{"CSRF": tok, "Next": next, "Error": msg, "Enabled": s.opts.Auth != nil})
	}
	if s.opts.Auth == nil {
		again(http.StatusForbidden, "Sign-in is not configured on this console (-ui-users FILE).")
		return
	}
	if err := s.transportOK(r); err != nil {
		again(http.StatusForbidden, "Refused: "+strings.Replace(err.Error(), "approvals are", "sign-ins are", 1))
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	keys := []string{"addr:" + clientHost(r), "user:" + name}
	for _, k := range keys {
		if wait := s.limit.blocked(k); wait > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
			again(http.StatusTooManyRequests, fmt.Sprintf("Too many failed sign-ins; try again in %s.", wait.Round(time.Second)))
			return
		}
	}
	id, err := s.opts.Auth.Authenticate(r.Context(), name, r.PostForm.Get("password"))
	if err != nil {
		for _, k := range keys {
			s.limit.fail(k)
		}
		s.log.Warn("sign-in failed", "name", name, "from", clientHost(r))
		again(http.StatusUnauthorized, "Wrong name or password.")
		return
	}
	key, _ := s.sessions.create(id)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(s.sessions.ttl.Seconds())})
	s.log.Info("signed in", "name", id.Name, "from", clientHost(r))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleSignOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if ss, ok := s.sessions.get(c.Value); ok {
			if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(ss.csrf)) != 1 {
				http.Error(w, "Refused: anti-forgery token missing.", http.StatusForbidden)
				return
			}
		}
		s.sessions.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLinkPage(w http.ResponseWriter, r *http.Request) {
	l, err := ParseLink(r.URL.Query(), s.linkKey, time.Now())
	if err != nil {
		s.fail(w, http.StatusForbidden, err.Error())
		return
	}
	data := map[string]any{"Link": l, "Query": r.URL.RawQuery, "CSRF": csrfFor(s.linkKey, r.URL.Query().Get("sig"))}
	req, waiting := s.broker.Waiting(l.Gate)
	if waiting && req.Run == l.Run {
		data["Req"] = req
		data["Seen"] = seenLines(req)
		data["Evidence"] = evidenceDigest(req)
		if req.PlanHash != l.PlanHash {
			data["Stale"] = fmt.Sprintf("This link was made for plan %.12s; the run now executes plan %.12s. An answer from it will be refused.", l.PlanHash, req.PlanHash)
		}
	} else {
		msg := fmt.Sprintf("Nothing waits for an answer on %s in run %s now.", l.Gate, l.Run)
		if err := s.broker.Answer(l.Gate, runbook.Decision{}); err != nil && strings.Contains(err.Error(), "already decided") {
			msg = strings.TrimPrefix(err.Error(), "console: nothing waits for an answer there: ")
		}
		data["Closed"] = msg
	}
	s.render(w, "link.html", data)
}

func (s *Server) handleLinkAnswer(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.reply(w, http.StatusBadRequest, false, "bad form")
		return
	}
	q, err := url.ParseQuery(r.PostForm.Get("link"))
	if err != nil {
		s.reply(w, http.StatusBadRequest, false, "bad link")
		return
	}
	l, err := ParseLink(q, s.linkKey, time.Now())
	if err != nil {
		s.reply(w, http.StatusForbidden, false, err.Error())
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(csrfFor(s.linkKey, q.Get("sig")))) != 1 {
		s.reply(w, http.StatusForbidden, false, "Refused: the form's anti-forgery token is missing or wrong; open the link again.")
		return
	}
	if err := s.transportOK(r); err != nil {
		s.reply(w, http.StatusForbidden, false, "Refused: "+err.Error())
		return
	}
	id := Identity{Name: l.As, Method: "link"}
	if dir, ok := s.opts.Auth.(Directory); ok {
		if known, ok := dir.Lookup(l.As); ok {
			id.Groups = known.Groups
		}
	}
	s.answer(w, r, l.Run, l.Gate, l.PlanHash, id, "link")
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("template", "name", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, s.red.Redact(buf.String()))
}

func (s *Server) fail(w http.ResponseWriter, code int, msg string) {
	w.WriteHeader(code)
	s.render(w, "error.html", map[string]any{"Code": code, "Message": msg})
}
