package mdimport

import (
	"encoding/json"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// phase is a generated phase block.
type phase struct {
	name, title string
	line        int
	nodes       []*node
	budget      time.Duration
	label       string // "T-0:20" from its title
}

// node is a generated step or gate.
type node struct {
	name, title string
	line        int
	phase       *phase

	gate      bool   // approval gate
	message   string // approval, manual_task
	approvers []string

	action   string // "ssh_exec", "local_exec", "http_check", ...
	target   sshTarget
	lines    []logical // exec: the script
	lang     string
	items    []string // manual_checklist
	typed    typedAction
	readOnly bool
	natural  bool
	rollback *candidate
	budget   time.Duration
	pnr      bool
}

// typedAction is a recognised command turned into a provider action.
type typedAction struct {
	args []arg
	// provider kind: "http:<origin>", "docker", "postgres", "aws"
	prov string
}

// arg is one argument; exactly one of the value fields is used.
type arg struct {
	name string
	str  *string // a template, substituted
	num  *int
	list []string
	smap [][2]string // ordered string map (header name, value)
	raw  string      // an HCL expression as is
}

func sarg(name, v string) arg { return arg{name: name, str: &v} }

// model is the whole generated runbook.
type model struct {
	file      string
	name      string
	title     string
	titleLine int
	window    time.Duration
	windowLn  int
	items     []any // *phase or *node, in order
	phases    []*phase
	nodes     []*node
	cands     []*candidate
	hints     []hint
	roles     []string
	names     names
	phaseName names
	timeline  []timelineRow
	pnrParas  []*phase
	aliases   map[string]string // host or URL → instance name, from a table
}

type timelineRow struct {
	line     int
	label    string
	activity string
	id       string
	dur      time.Duration
	noRB     bool
}

var (
	windowRE    = lazyre.New(`(?i)(\d+(?:\.\d+)?)\s*-?\s*(hours?|hrs?|h|minutes?|mins?|m)\b[^.\n]{0,20}?\bwindow|window\b[^0-9\n]{0,30}?(\d+(?:\.\d+)?\s*-?\s*(?:hours?|hrs?|h|minutes?|mins?|m)\b|\d+h(?:\d+m)?(?:\d+s)?)`)
	metaKV      = lazyre.New(`(?i)^\s*(runbook|window|maintenance window|duration|estimated duration|total duration|expected duration)\s*:\s*(.+)$`)
	roleRE      = lazyre.New(`\b((?:[A-Z][A-Za-z]*|QA|SRE|DBA|CTO|VP) )*(Lead|Manager|Owner|Engineer|Administrator|Director|Commander|Approver|Architect|DBA|CTO|SRE|On-call|Captain)\b`)
	noPhase     = lazyre.New(`(?i)\(no phase\)\s*$`)
	runbookName = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	curlHealth  = lazyre.New(`(?i)/health|/healthz|/ready|/readyz|/live|/livez|/status|/ping`)
)

// build turns the outline into the model.
func build(o *outline, file string) *model {
	m := &model{file: file, names: names{}, phaseName: names{}}
	// The title: the first heading of the smallest level if it is alone.
	var titleSec *section
	minLevel, count := 7, 0
	for _, s := range o.sections[1:] {
		if s.level < minLevel {
			minLevel, count = s.level, 0
		}
		if s.level == minLevel {
			count++
		}
	}
	if len(o.sections) > 1 {
		first := o.sections[1]
		m.title, m.titleLine = first.title, first.line
		if first.level == minLevel && count == 1 {
			titleSec = first
		}
	}
	if m.title == "" {
		m.title = strings.TrimSuffix(path.Base(file), path.Ext(file))
		m.titleLine = 1
	}
	title, id := splitID(m.title)
	m.title = title
	m.name = id
	if m.name == "" {
		m.name = strings.ReplaceAll(slug(cleanTitleKeepParens(title)), "_", "-")
	}
	if m.name == "" {
		m.name = "runbook"
	}
	m.readMeta(o, titleSec)

	for _, sec := range o.sections {
		for _, b := range sec.blocks {
			if b.kind == bTable {
				m.readTable(b)
			}
		}
	}
	for _, sec := range o.sections {
		if sec.rollback {
			m.readRollback(sec)
			continue
		}
		units := unitsOf(sec, &m.hints)
		if len(units) == 0 {
			continue
		}
		top := sec == titleSec || sec.level == 0 || noPhase.MatchString(sec.title)
		if !top {
			ph := m.newPhase(sec.title, sec.line)
			for _, u := range units {
				m.addUnit(u, ph)
			}
			for _, b := range sec.blocks {
				if b.kind == bPara && pnrRE.MatchString(b.text) {
					m.pnrParas = append(m.pnrParas, ph)
				}
			}
			continue
		}
		// Under the title: a numbered item holding several units is a phase.
		groups := map[int]int{}
		for _, u := range units {
			if u.group >= 0 {
				groups[u.group]++
			}
		}
		var ph *phase
		cur := -1
		for _, u := range units {
			if u.group >= 0 && groups[u.group] >= 2 {
				if u.group != cur {
					cur = u.group
					ph = m.newPhase(groupTitle(sec, u.group), u.group)
				}
				m.addUnit(u, ph)
				continue
			}
			cur, ph = -1, nil
			m.addUnit(u, nil)
		}
	}
	m.applyHints()
	m.matchRollbacks()
	m.applyTimeline()
	return m
}

func cleanTitleKeepParens(t string) string {
	return strings.NewReplacer("`", "", "*", "").Replace(t)
}

func groupTitle(sec *section, line int) string {
	for _, b := range sec.blocks {
		if b.kind == bItem && b.line == line {
			return b.text
		}
	}
	return "phase"
}

func (m *model) readMeta(o *outline, titleSec *section) {
	texts := []struct {
		s    string
		line int
	}{{m.title, m.titleLine}}
	for _, sec := range o.sections {
		if sec == titleSec || sec.level == 0 {
			for _, b := range sec.blocks {
				if b.kind == bPara || b.kind == bItem {
					for i, l := range strings.Split(b.text, "  ") {
						texts = append(texts, struct {
							s    string
							line int
						}{l, b.line + i})
					}
				}
			}
		} else {
			texts = append(texts, struct {
				s    string
				line int
			}{sec.title, sec.line})
		}
	}
	for _, t := range texts {
		for _, part := range splitMeta(t.s) {
			if kv := metaKV.FindStringSubmatch(part); kv != nil {
				key := strings.ToLower(kv[1])
				val := strings.Trim(strings.TrimSpace(kv[2]), "`*")
				if key == "runbook" {
					if runbookName.MatchString(val) {
						m.name = val
					}
					continue
				}
				if d, ok := parseDuration(val); ok && m.window == 0 {
					m.window, m.windowLn = d, t.line
				}
			}
		}
		if m.window == 0 {
			if w := windowRE.FindStringSubmatch(t.s); w != nil {
				txt := w[3]
				if txt == "" {
					txt = w[1] + w[2]
				}
				if d, ok := parseDuration(txt); ok {
					m.window, m.windowLn = d, t.line
				}
			}
		}
	}
}

// splitMeta splits "**Runbook:** x **Window:** 4h" style lines.
var metaSplit = lazyre.New(`\s+(?:\*\*)?(?:Runbook|Window|Duration)\s*:`)

func splitMeta(s string) []string {
	s = strings.ReplaceAll(s, "**", "")
	idx := metaSplit.FindAllStringIndex(s, -1)
	var out []string
	last := 0
	for _, ix := range idx {
		out = append(out, s[last:ix[0]])
		last = ix[0]
	}
	return append(out, s[last:])
}

func (m *model) newPhase(title string, line int) *phase {
	t, id := splitID(title)
	name := id
	if name == "" {
		name = slug(cleanTitle(t))
	}
	ph := &phase{name: m.phaseName.unique(name, "phase"), title: t, line: line}
	ph.budget, ph.label = titleBudget(t)
	m.phases = append(m.phases, ph)
	m.items = append(m.items, ph)
	return ph
}

func (m *model) addNode(n *node, ph *phase, id, fallback string) {
	base := id
	if base == "" {
		base = slug(cleanTitle(withoutCode(n.title)))
	}
	n.name = m.names.unique(base, fallback)
	n.phase = ph
	m.nodes = append(m.nodes, n)
	if ph != nil {
		ph.nodes = append(ph.nodes, n)
	} else {
		m.items = append(m.items, n)
	}
}

// addUnit turns one unit into nodes.
func (m *model) addUnit(u unit, ph *phase) {
	title := u.title
	if title == "" && ph != nil {
		title = ph.title
	}
	switch u.kind {
	case uTasks:
		n := &node{title: title, line: u.line, action: "manual_checklist", items: u.items, readOnly: true}
		m.addNode(n, ph, u.id, "checklist")
	case uApproval:
		n := &node{title: title, line: u.line, gate: true, message: u.text}
		n.approvers = m.rolesIn(u.text)
		base := u.id
		if base == "" {
			base = slug(cleanTitle(approvalLabel(u.text)))
			if ph != nil && !strings.Contains(base, ph.name) {
				base += "_" + ph.name
			}
		}
		m.addNode(n, ph, base, "approval")
	case uManual:
		n := &node{title: title, line: u.line, action: "manual_task", message: u.text, readOnly: true}
		m.addNode(n, ph, u.id, "manual")
	case uChunk:
		m.addChunk(u, title, ph)
	}
}

// approvalLabel is the part of an approval's text before a colon, or the
// keyword itself.
func approvalLabel(s string) string {
	if i := strings.Index(s, ":"); i > 0 && i < 60 {
		return s[:i]
	}
	if loc := approvalRE.FindString(s); loc != "" {
		return loc
	}
	return "approval"
}

func (m *model) rolesIn(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range m.roles {
		if strings.Contains(strings.ToLower(s), strings.ToLower(r)) && !seen[r] {
			seen[r] = true
			out = append(out, strings.ReplaceAll(slug(r), "_", "-"))
		}
	}
	if len(out) == 0 {
		for _, r := range roleRE.FindAllString(s, -1) {
			k := strings.ReplaceAll(slug(r), "_", "-")
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// addChunk turns a chunk of commands into one step, or several when it
// holds several recognisable actions (three `docker pull`s).
func (m *model) addChunk(u unit, title string, ph *phase) {
	cmds := commandLines(u.lines)
	if len(cmds) == 0 {
		var msg []string
		msg = append(msg, cleanTitle(title))
		for _, l := range u.lines {
			if t := strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l.text), "#")); t != "" {
				msg = append(msg, t)
			}
		}
		n := &node{title: title, line: u.line, action: "manual_task", message: strings.Join(msg, "\n"), readOnly: true}
		m.addNode(n, ph, u.id, "manual")
		return
	}
	if typed := m.recognise(u, cmds, ph); len(typed) > 0 {
		for i, n := range typed {
			n.line = u.line
			id := u.id
			if len(typed) > 1 || id == "" && n.title != "" {
				id = ""
			}
			if len(typed) == 1 {
				n.title = title
			}
			m.addNode(n, ph, id, n.action)
			if len(typed) > 1 && i < len(cmds) && len(typed) == len(cmds) {
				n.line = cmds[i].line
			}
		}
		return
	}
	n := &node{title: title, line: u.line, target: u.target, lines: u.lines, lang: u.lang}
	if u.target.local() {
		n.action = "local_exec"
	} else {
		n.action = "ssh_exec"
	}
	n.readOnly = readOnlyScript(u.lines)
	m.addNode(n, ph, u.id, "step")
}

func commandLines(lines []logical) []logical {
	var out []logical
	for _, l := range lines {
		if !l.comment() {
			out = append(out, l)
		}
	}
	return out
}

var (
	expectStatusRE = lazyre.New(`(?i)\b(?:HTTP|status|returns?|return)\D{0,12}\b([1-5][0-9][0-9])\b`)
	expectJSONRE   = lazyre.New(`(?i)^\s*#\s*expected\s*:?\s*(\{.*\})\s*$`)
	composeUp      = lazyre.New(`^(?:docker-compose|docker compose)\b`)
)

// recognise returns typed steps for a chunk whose commands are clearly
// one of the known actions; nil otherwise.
func (m *model) recognise(u unit, cmds []logical, ph *phase) []*node {
	var segs [][][]string
	for _, c := range cmds {
		s := segments(c.text)
		if len(s) != 1 || hasWriteRedirect(c.text) && !strings.Contains(c.text, "pg_dump") {
			return nil
		}
		segs = append(segs, s)
	}
	first := segs[0][0]
	remote := !u.target.local()
	// curl GET → http_check.
	if len(cmds) == 1 && first[0] == "curl" {
		if n := m.curlCheck(u, first); n != nil {
			return []*node{n}
		}
		return nil
	}
	// docker pull / docker compose up.
	allDocker := true
	for _, s := range segs {
		w := s[0]
		if !(len(w) >= 3 && w[0] == "docker" && w[1] == "pull") && !isComposeVerb(w, "up", "stop", "pull") {
			allDocker = false
		}
	}
	if allDocker {
		return m.dockerSteps(u, segs, ph)
	}
	if len(cmds) == 1 && first[0] == "pg_dump" {
		file := ""
		for i, a := range first {
			if (a == "-f" || a == "--file") && i+1 < len(first) {
				file = first[i+1]
			} else if strings.HasPrefix(a, "--file=") {
				file = strings.TrimPrefix(a, "--file=")
			}
		}
		if file == "" {
			if i := strings.LastIndex(cmds[0].text, ">"); i >= 0 {
				if w := words(cmds[0].text[i+1:]); len(w) == 1 {
					file = w[0]
				}
			}
		}
		if file == "" || strings.ContainsAny(file, "$`") {
			return nil
		}
		n := &node{action: "postgres_backup", target: u.target, readOnly: true}
		n.typed = typedAction{prov: "postgres", args: []arg{sarg("file", file)}}
		return []*node{n}
	}
	if len(cmds) == 1 && len(first) >= 5 && first[0] == "aws" && first[1] == "s3" && first[2] == "cp" && !remote {
		var pos []string
		for _, a := range first[3:] {
			if strings.HasPrefix(a, "-") {
				return nil // options change the meaning: keep the command
			}
			pos = append(pos, a)
		}
		if len(pos) != 2 || strings.HasPrefix(pos[0], "s3://") || !strings.HasPrefix(pos[1], "s3://") || strings.ContainsAny(pos[0], "$`*?") {
			return nil
		}
		rest := strings.TrimPrefix(pos[1], "s3://")
		bucket, key, _ := strings.Cut(rest, "/")
		n := &node{action: "s3_upload", natural: true}
		args := []arg{sarg("source", pos[0]), sarg("bucket", "s3://"+bucket)}
		if key == "" || strings.HasSuffix(key, "/") {
			if key != "" {
				args = append(args, sarg("prefix", key))
			}
		} else {
			args = append(args, sarg("key", key))
		}
		n.typed = typedAction{prov: "aws", args: args}
		return []*node{n}
	}
	// golang-migrate, or psql running NNN_name.up.sql files.
	if len(cmds) == 1 && first[0] == "migrate" {
		dir, up := "", false
		for i, a := range first {
			switch {
			case (a == "-path" || a == "--path" || a == "-source" || a == "--source") && i+1 < len(first):
				dir = strings.TrimPrefix(first[i+1], "file://")
			case strings.HasPrefix(a, "-path=") || strings.HasPrefix(a, "--path="):
				dir = a[strings.Index(a, "=")+1:]
			case a == "up" && i == len(first)-1:
				up = true
			}
		}
		if dir != "" && up && !strings.ContainsAny(dir, "$`") {
			n := &node{action: "postgres_migrate", target: u.target, natural: true}
			n.typed = typedAction{prov: "postgres", args: []arg{sarg("dir", dir)}}
			return []*node{n}
		}
		return nil
	}
	dir := ""
	for _, s := range segs {
		w := s[0]
		if w[0] != "psql" {
			return nil
		}
		f := ""
		for i, a := range w {
			if (a == "-f" || a == "--file") && i+1 < len(w) {
				f = w[i+1]
			}
		}
		if !upFile.MatchString(path.Base(f)) || dir != "" && path.Dir(f) != dir {
			return nil
		}
		dir = path.Dir(f)
	}
	if dir != "" && !strings.ContainsAny(dir, "$`") {
		n := &node{action: "postgres_migrate", target: u.target, natural: true}
		n.typed = typedAction{prov: "postgres", args: []arg{sarg("dir", dir)}}
		return []*node{n}
	}
	return nil
}

var upFile = lazyre.New(`^[0-9]+_[A-Za-z0-9_-]+\.up\.sql$`)

func isComposeVerb(w []string, verbs ...string) bool {
	j := strings.Join(w, " ")
	if !composeUp.MatchString(j) {
		return false
	}
	_, verb, _ := composeArgs(w)
	for _, v := range verbs {
		if verb == v {
			return true
		}
	}
	return false
}

// composeArgs returns a compose command's project, verb and services.
func composeArgs(w []string) (project, verb string, services []string) {
	i := 1
	if w[0] == "docker" {
		i = 2
	}
	for ; i < len(w); i++ {
		a := w[i]
		switch {
		case a == "-p" || a == "--project-name":
			if i+1 < len(w) {
				project = w[i+1]
			}
			i++
		case a == "-f" || a == "--file" || a == "--env-file" || a == "--profile":
			i++
		case strings.HasPrefix(a, "-"):
		case verb == "":
			verb = a
		default:
			services = append(services, a)
		}
	}
	return project, verb, services
}

// dockerSteps reads `docker pull IMAGE` and `docker compose up -d SVC`
// lines: pulls alone become docker_pull steps; an `up` whose services'
// images are known (pulled in this chunk or earlier in the phase) becomes
// one docker_service_update per service, which pulls by itself.
func (m *model) dockerSteps(u unit, segs [][][]string, ph *phase) []*node {
	images := map[string]string{} // service → image
	var pulls []string
	if ph != nil {
		for _, n := range ph.nodes {
			if n.action == "docker_pull" && n.target == u.target {
				img := *n.typed.args[0].str
				images[imageService(img)] = img
			}
		}
	}
	var ups [][]string
	var others []string // services stopped or pulled by compose
	project := ""
	for _, s := range segs {
		w := s[0]
		if !isComposeVerb(w, "up") && isComposeVerb(w, "stop", "pull") {
			_, _, svcs := composeArgs(w)
			if len(svcs) == 0 {
				return nil
			}
			others = append(others, svcs...)
			continue
		}
		if w[0] == "docker" && w[1] == "pull" {
			img := w[len(w)-1]
			if strings.HasPrefix(img, "-") || strings.ContainsAny(img, "$`") {
				return nil
			}
			pulls = append(pulls, img)
			images[imageService(img)] = img
			continue
		}
		p, _, svcs := composeArgs(w)
		if len(svcs) == 0 {
			return nil
		}
		project = p
		ups = append(ups, svcs)
	}
	var out []*node
	if len(ups) == 0 && len(others) > 0 {
		return nil
	}
	for _, o := range others {
		found := false
		for _, svcs := range ups {
			for _, s := range svcs {
				found = found || s == o
			}
		}
		if !found {
			return nil // stopping a service not brought up again: keep the commands
		}
	}
	if len(ups) == 0 {
		for _, img := range pulls {
			n := &node{action: "docker_pull", target: u.target, readOnly: true, title: "pull " + imageService(img)}
			n.typed = typedAction{prov: "docker", args: []arg{sarg("image", img)}}
			out = append(out, n)
		}
		return out
	}
	for _, svcs := range ups {
		for _, s := range svcs {
			img, ok := images[s]
			if !ok {
				return nil
			}
			n := &node{action: "docker_service_update", target: u.target, natural: true, title: "deploy " + s}
			args := []arg{sarg("service", s), sarg("image", img)}
			if project != "" {
				args = append(args, sarg("project", project))
			}
			n.typed = typedAction{prov: "docker", args: args}
			out = append(out, n)
		}
	}
	return out
}

// imageService is the last path element of an image without its tag.
func imageService(img string) string {
	base := path.Base(img)
	if i := strings.IndexAny(base, ":@"); i >= 0 {
		base = base[:i]
	}
	return base
}

// curlCheck reads a GET curl as an http_check.
func (m *model) curlCheck(u unit, w []string) *node {
	var rawURL, method string
	var headers [][2]string
	for i := 1; i < len(w); i++ {
		a := w[i]
		switch {
		case a == "-H" || a == "--header":
			if i+1 >= len(w) {
				return nil
			}
			k, v, ok := strings.Cut(w[i+1], ":")
			if !ok {
				return nil
			}
			headers = append(headers, [2]string{strings.TrimSpace(k), strings.TrimSpace(v)})
			i++
		case a == "-X" || a == "--request":
			if i+1 >= len(w) {
				return nil
			}
			method = strings.ToUpper(w[i+1])
			i++
		case a == "-s" || a == "-S" || a == "-f" || a == "-L" || a == "-sS" || a == "-fsS" || a == "-fsSL" || a == "-sf" || a == "-fs" || a == "-sSf" || a == "-sL" || a == "--silent" || a == "--fail" || a == "--show-error" || a == "--location" || a == "-i" || a == "-v":
		case strings.HasPrefix(a, "-"):
			return nil
		default:
			if rawURL != "" {
				return nil
			}
			rawURL = a
		}
	}
	if method != "" && method != "GET" && method != "HEAD" {
		return nil
	}
	pu, err := url.Parse(rawURL)
	if err != nil || pu.Scheme != "http" && pu.Scheme != "https" || pu.Host == "" || strings.ContainsAny(rawURL, "$`") {
		return nil
	}
	origin := pu.Scheme + "://" + pu.Host
	if isLocal(origin) && !u.target.local() {
		return nil // localhost of a remote host: keep the command there
	}
	n := &node{action: "http_check", readOnly: true}
	p := pu.EscapedPath()
	if p == "" {
		p = "/"
	}
	if pu.RawQuery != "" {
		p += "?" + pu.RawQuery
	}
	args := []arg{sarg("url", p)}
	if method == "HEAD" {
		args = append(args, sarg("method", method))
	}
	if len(headers) > 0 {
		args = append(args, arg{name: "headers", smap: headers})
	}
	for _, l := range u.lines {
		if !l.comment() {
			continue
		}
		if mm := expectJSONRE.FindStringSubmatch(l.text); mm != nil {
			var obj map[string]any
			if json.Unmarshal([]byte(mm[1]), &obj) == nil && len(obj) > 0 {
				var kv [][2]string
				keys := make([]string, 0, len(obj))
				for k := range obj {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				flat := true
				for _, k := range keys {
					switch v := obj[k].(type) {
					case string:
						kv = append(kv, [2]string{k, v})
					default:
						flat = false
					}
				}
				if flat {
					args = append(args, arg{name: "expect", smap: kv})
				}
			}
			continue
		}
		if mm := expectStatusRE.FindStringSubmatch(l.text); mm != nil {
			code, _ := strconv.Atoi(mm[1])
			args = append(args, arg{name: "expect_status", num: &code})
		}
	}
	n.typed = typedAction{prov: "http:" + origin, args: args}
	_ = curlHealth
	return n
}

// readTable reads a timeline table, or a team table naming roles.
func (m *model) readTable(b block) {
	if len(b.rows) < 2 {
		return
	}
	head := b.rows[0]
	col := func(re string) int {
		r := regexp.MustCompile(`(?i)` + re)
		for i, h := range head {
			if r.MatchString(h) {
				return i
			}
		}
		return -1
	}
	// A table naming hosts or URLs: | Name | Address |.
	if name, addr := col(`^\s*(name|alias|id)\s*$`), col(`host|address|url|endpoint|server`); name >= 0 && addr >= 0 && name != addr {
		for _, r := range b.rows[1:] {
			if name < len(r) && addr < len(r) {
				n := slug(strings.Trim(r[name], "`* "))
				a := strings.Trim(r[addr], "`* ")
				if n != "" && a != "" {
					if m.aliases == nil {
						m.aliases = map[string]string{}
					}
					m.aliases[strings.TrimRight(a, "/")] = n
				}
			}
		}
	}
	if role := col(`^\s*role\s*$`); role >= 0 {
		for _, r := range b.rows[1:] {
			if role < len(r) && strings.TrimSpace(r[role]) != "" {
				m.roles = append(m.roles, strings.TrimSpace(r[role]))
			}
		}
	}
	act := col(`activity|task|step|phase|stage|action|what|description`)
	dur := col(`duration|length|minutes|budget|estimate|time box|mins`)
	if act < 0 || dur < 0 || act == dur {
		return
	}
	when := col(`^\s*(time|start|when|at|t)\s*$`)
	rb := col(`rollback`)
	for i, r := range b.rows[1:] {
		row := timelineRow{line: b.line + 2 + i}
		if act < len(r) {
			row.activity, row.id = splitID(r[act])
			row.activity = strings.Trim(row.activity, "*` ")
			if row.activity == "" && row.id != "" {
				row.activity = row.id
			}
		}
		if dur < len(r) {
			row.dur, _ = parseDuration(r[dur])
		}
		if when >= 0 && when < len(r) {
			row.label = strings.Trim(r[when], "* ")
		}
		if rb >= 0 && rb < len(r) {
			row.noRB = regexp.MustCompile(`(?i)^\W*no\b`).MatchString(r[rb])
		}
		m.timeline = append(m.timeline, row)
	}
}

// applyTimeline gives phases and nodes the budgets of their rows, the
// runbook its window, and the first "Rollback Point: No" row's first step
// the point of no return.
func (m *model) applyTimeline() {
	var total time.Duration
	usedPhase := map[*phase]bool{}
	usedNode := map[*node]bool{}
	pnrDone := false
	// Titles and their words, computed once: a timeline row is compared
	// with every node and phase.
	nodeTitle := make(map[*node]string, len(m.nodes))
	for _, n := range m.nodes {
		nodeTitle[n] = cleanTitle(n.title)
	}
	phaseWords := make(map[*phase]map[string]bool, len(m.phases))
	for _, p := range m.phases {
		phaseWords[p] = tokens(cleanTitle(p.title))
	}
	for _, row := range m.timeline {
		total += row.dur
		var ph *phase
		var nd *node
		key := row.id
		if key == "" {
			key = row.activity
		}
		for _, n := range m.nodes {
			if !usedNode[n] && (n.name == key || row.id == "" && strings.EqualFold(nodeTitle[n], row.activity)) {
				nd = n
				break
			}
		}
		if nd == nil {
			for _, p := range m.phases {
				if !usedPhase[p] && (p.name == key || row.label != "" && strings.EqualFold(p.label, row.label)) {
					ph = p
					break
				}
			}
		}
		if nd == nil && ph == nil {
			best := 0.0
			rt := tokens(row.activity)
			for _, p := range m.phases {
				if usedPhase[p] {
					continue
				}
				if s := jaccard(rt, phaseWords[p]); s > best && s >= 0.3 {
					best, ph = s, p
				}
			}
		}
		switch {
		case nd != nil:
			usedNode[nd] = true
			if row.dur > 0 {
				nd.budget = row.dur
			}
			if row.noRB && !pnrDone {
				pnrDone = true
				if !nd.gate {
					nd.pnr = true
				}
			}
		case ph != nil:
			usedPhase[ph] = true
			if row.dur > 0 {
				ph.budget = row.dur
			}
			if row.noRB && !pnrDone {
				pnrDone = true
				for _, n := range ph.nodes {
					if !n.gate {
						n.pnr = true
						break
					}
				}
			}
		}
	}
	if m.window == 0 && total > 0 {
		m.window = total
	}
	var sum time.Duration
	for _, p := range m.phases {
		sum += p.budget
		if p.budget <= 0 || len(p.nodes) == 0 {
			continue
		}
		free := 0
		left := p.budget
		for _, n := range p.nodes {
			if n.budget > 0 {
				left -= n.budget
			} else {
				free++
			}
		}
		if free == 0 || left <= 0 {
			continue
		}
		each := (left / time.Duration(free)).Truncate(time.Second)
		for _, n := range p.nodes {
			if n.budget == 0 {
				n.budget = each
			}
		}
	}
	if m.window == 0 && sum > 0 {
		m.window = sum
	}
	// A paragraph "Rollback Point: No" in a phase marks its first step.
	if !pnrDone {
		for _, h := range m.pnrParas {
			for _, p := range m.phases {
				if p == h && len(p.nodes) > 0 {
					for _, n := range p.nodes {
						if !n.gate {
							n.pnr = true
							return
						}
					}
				}
			}
		}
	}
}

var codeSpanRE = lazyre.New("`[^`]*`")

// withoutCode drops the code spans of a title when enough words remain
// ("Run `kubectl ...` to add the nodes" names "run_to_add_the_nodes").
func withoutCode(t string) string {
	s := codeSpanRE.ReplaceAllString(t, " ")
	if len(strings.Fields(cleanTitle(s))) >= 2 {
		return s
	}
	return t
}
