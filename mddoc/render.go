package mddoc

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// naturalRollback names the actions that undo themselves, and how.
var naturalRollback = map[string]string{
	"docker_service_update": "puts the previous container back",
	"postgres_migrate":      "migrates down to the version found before the step",
	"s3_upload":             "deletes the objects the step created",
	"elbv2_weights":         "restores the previous weights",
	"statuspage_incident":   "resolves the incident",
	"ssh_upload":            "restores the previous file",
}

// readOnlyActions change nothing.
var readOnlyActions = map[string]bool{
	"http_check": true, "http_request": true, "docker_pull": true, "docker_inspect": true, "docker_logs_check": true,
	"postgres_query": true, "postgres_backup": true, "postgres_ping": true, "manual_task": true, "manual_checklist": true,
	"prometheus_query": true, "prometheus_baseline": true, "s3_object_exists": true, "s3_download": true,
	"elbv2_target_health": true, "k6_run": true, "slack_message": true, "email": true, "statuspage_update": true,
	"statuspage_resolve": true,
}

type row struct {
	start  time.Duration
	title  string
	name   string
	budget time.Duration
	rb     string
}

func (r *renderer) render() string {
	title := r.description
	if title == "" {
		title = r.name
	}
	fmt.Fprintf(&r.b, "# %s\n\n", escape(title))
	fmt.Fprintf(&r.b, "**Runbook:** %s\n\n", code(r.name))
	if r.window != "" {
		fmt.Fprintf(&r.b, "**Window:** %s\n\n", escape(r.window))
	}
	// Steps outside any phase that come before the first phase.
	i := 0
	n := 1
	for ; i < len(r.items); i++ {
		b, ok := r.items[i].(*hclsyntax.Block)
		if !ok {
			break
		}
		r.node(b, n)
		n++
	}
	r.hosts()
	r.timeline()
	if i < len(r.items) {
		r.b.WriteString("## Procedure\n\n")
	}
	outside := 0
	for ; i < len(r.items); i++ {
		switch it := r.items[i].(type) {
		case *phase:
			r.phase(it)
			outside = 0
		case *hclsyntax.Block:
			if outside == 0 {
				r.b.WriteString("### Outside any phase (no phase)\n\n")
			}
			outside++
			r.node(it, outside)
		}
	}
	r.rollbacks()
	return strings.TrimRight(r.b.String(), "\n") + "\n"
}

func (r *renderer) phase(ph *phase) {
	fmt.Fprintf(&r.b, "### %s (%s)\n\n", escape(r.title(ph.block.Body, ph.name)), code(ph.name))
	if r.boolAttr(ph.block.Body, "parallel") {
		r.b.WriteString("_The steps of this phase run in parallel._\n\n")
	}
	if fe := r.source(ph.block.Body, "for_each"); fe != "" {
		fmt.Fprintf(&r.b, "_This phase runs once for each value of %s (`each.value`)._\n\n", code(r.exprText(ph.block.Body.Attributes["for_each"].Expr)))
	}
	for i, b := range ph.nodes {
		r.node(b, i+1)
	}
}

// nodes returns every step and gate in plan order.
func (r *renderer) nodes() []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, it := range r.items {
		switch it := it.(type) {
		case *phase:
			out = append(out, it.nodes...)
		case *hclsyntax.Block:
			out = append(out, it)
		}
	}
	return out
}

func (r *renderer) timeline() {
	var rows []row
	var at time.Duration
	pnr := false
	for _, it := range r.items {
		var group []*hclsyntax.Block
		parallel := false
		switch it := it.(type) {
		case *phase:
			group = it.nodes
			parallel = r.boolAttr(it.block.Body, "parallel")
		case *hclsyntax.Block:
			group = []*hclsyntax.Block{it}
		}
		var longest time.Duration
		for _, b := range group {
			d := r.duration(b.Body, "budget")
			if b.Type == "gate" && d == 0 {
				d = r.duration(b.Body, "duration")
			}
			rb := r.rollbackPoint(b, &pnr)
			rows = append(rows, row{start: at, title: r.title(b.Body, nodeName(b)), name: nodeName(b), budget: d, rb: rb})
			if parallel {
				if d > longest {
					longest = d
				}
			} else {
				at += d
			}
		}
		at += longest
	}
	if len(rows) == 0 {
		return
	}
	r.b.WriteString("## Timeline\n\n| Time | Activity | Duration | Rollback Point |\n|------|----------|----------|----------------|\n")
	for _, rw := range rows {
		dur := "—"
		if rw.budget > 0 {
			dur = formatDuration(rw.budget)
		}
		fmt.Fprintf(&r.b, "| T+%d:%02d | %s (%s) | %s | %s |\n", int(rw.start.Hours()), int(rw.start.Minutes())%60,
			strings.ReplaceAll(escape(rw.title), "|", `\|`), code(rw.name), dur, rw.rb)
	}
	if at > 0 {
		fmt.Fprintf(&r.b, "\nTotal of the budgets: %s.\n", formatDuration(at))
	}
	r.b.WriteString("\n")
}

// rollbackPoint says whether a node can still be undone.
func (r *renderer) rollbackPoint(b *hclsyntax.Block, pnr *bool) string {
	switch {
	case *pnr:
		return "No"
	case b.Type == "gate":
		return "N/A"
	case r.boolAttr(b.Body, "point_of_no_return"):
		*pnr = true
		return "No (point of no return)"
	case r.boolAttr(b.Body, "irreversible"):
		return "Irreversible"
	case r.hasRollback(b):
		return "Yes"
	case r.readOnly(b):
		return "N/A"
	}
	return "Missing"
}

func (r *renderer) hasRollback(b *hclsyntax.Block) bool {
	for _, c := range b.Body.Blocks {
		if c.Type == "rollback" {
			return true
		}
	}
	if r.source(b.Body, "rollback_script") != "" || r.source(b.Body, "rollback_command") != "" {
		return true
	}
	_, natural := naturalRollback[nodeType(b)]
	return natural
}

func (r *renderer) readOnly(b *hclsyntax.Block) bool {
	return readOnlyActions[nodeType(b)] || r.boolAttr(b.Body, "read_only")
}

// node writes one step or gate.
func (r *renderer) node(b *hclsyntax.Block, n int) {
	name, typ := nodeName(b), nodeType(b)
	title := r.title(b.Body, name)
	if b.Type == "gate" {
		r.gate(b, typ, name, title)
		return
	}
	switch typ {
	case "manual_task":
		msg := r.text(b.Body, "message")
		lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
		fmt.Fprintf(&r.b, "%d. %s (%s)\n", n, escape(lines[0]), code(name))
		for _, l := range lines[1:] {
			if l = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "-*")); l != "" {
				fmt.Fprintf(&r.b, "   - %s\n", escape(l))
			}
		}
		r.b.WriteString("\n")
		r.notes(b)
		return
	}
	fmt.Fprintf(&r.b, "**%d. %s** (%s)\n\n", n, escape(title), code(name))
	if lang, lines, ok := r.commands(b, typ); ok {
		r.fence(lang, lines...)
	} else if typ == "manual_checklist" {
		items, _ := r.strings(b.Body, "items")
		for _, it := range items {
			fmt.Fprintf(&r.b, "- [ ] %s\n", escape(it))
		}
		r.b.WriteString("\n")
	} else {
		fmt.Fprintf(&r.b, "Action %s:\n\n", code(typ))
		r.attributes(b.Body)
	}
	r.notes(b)
}

// attributes lists a block's arguments.
func (r *renderer) attributes(body *hclsyntax.Body) {
	skip := map[string]bool{"description": true, "budget": true, "point_of_no_return": true, "depends_on": true}
	for _, a := range sortedAttrs(body) {
		if skip[a.Name] {
			continue
		}
		fmt.Fprintf(&r.b, "- %s: %s\n", code(a.Name), code(strings.Join(strings.Fields(r.exprText(a.Expr)), " ")))
	}
	r.b.WriteString("\n")
}

func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		out = append(out, a)
	}
	// Source order reads as the author wrote it.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].SrcRange.Start.Byte < out[j-1].SrcRange.Start.Byte; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// notes writes a step's budget, timeout, retries and flags.
func (r *renderer) notes(b *hclsyntax.Block) {
	var parts []string
	if d := r.text(b.Body, "budget"); d != "" {
		parts = append(parts, "budget "+d)
	}
	if d := r.text(b.Body, "timeout"); d != "" {
		parts = append(parts, "timeout "+d)
	}
	if r.boolAttr(b.Body, "sudo") {
		parts = append(parts, "runs with sudo")
	}
	for _, c := range b.Body.Blocks {
		if c.Type == "retry" {
			parts = append(parts, fmt.Sprintf("retried %s times, %s apart", r.text(c.Body, "attempts"), r.text(c.Body, "delay")))
		}
	}
	if r.boolAttr(b.Body, "irreversible") {
		parts = append(parts, "irreversible")
	}
	if r.boolAttr(b.Body, "point_of_no_return") {
		parts = append(parts, "**point of no return**: after it, a failure stops the run instead of rolling back")
	}
	if f := r.text(b.Body, "on_fail"); f != "" {
		parts = append(parts, "on failure: "+f)
	}
	if len(parts) > 0 {
		fmt.Fprintf(&r.b, "_%s._\n\n", strings.Join(parts, "; "))
	}
}

func (r *renderer) gate(b *hclsyntax.Block, kind, name, title string) {
	switch kind {
	case "approval":
		msg := r.text(b.Body, "message")
		fmt.Fprintf(&r.b, "%s (%s)\n\n", escape(strings.Join(strings.Fields(msg), " ")), code(name))
		var parts []string
		if who, ok := r.strings(b.Body, "approvers"); ok && len(who) > 0 {
			parts = append(parts, "decided by "+strings.Join(who, ", "))
		} else if s := r.source(b.Body, "approvers"); s != "" {
			parts = append(parts, "decided by "+s)
		}
		if t := r.text(b.Body, "timeout"); t != "" {
			parts = append(parts, "waits "+t)
		}
		if d := r.text(b.Body, "budget"); d != "" {
			parts = append(parts, "budget "+d)
		}
		if len(parts) > 0 {
			fmt.Fprintf(&r.b, "_%s._\n\n", strings.Join(parts, "; "))
		}
		return
	}
	fmt.Fprintf(&r.b, "Gate %s (%s):", code(name), escape(kind))
	for _, k := range []string{"duration", "every", "timeout", "from", "until"} {
		if v := r.source(b.Body, k); v != "" {
			fmt.Fprintf(&r.b, " %s %s;", k, code(r.exprText(b.Body.Attributes[k].Expr)))
		}
	}
	r.b.WriteString(" it holds when\n\n")
	for _, c := range b.Body.Blocks {
		if c.Type != "check" {
			continue
		}
		cn := ""
		if len(c.Labels) > 0 {
			cn = c.Labels[0]
		}
		line := fmt.Sprintf("- %s: %s", code(cn), code(r.source(c.Body, "condition")))
		if q := r.text(c.Body, "query"); q != "" {
			line += " where `self.value` is " + code(q)
		} else if p := r.text(c.Body, "probe"); p != "" {
			line += " (probe " + code(p) + ")"
		}
		if m := r.text(c.Body, "error_message"); m != "" {
			line += " — else " + escape(m)
		}
		if r.boolAttr(c.Body, "dry_run") {
			line += " (dry run: recorded, never fails)"
		}
		r.b.WriteString(line + "\n")
	}
	r.b.WriteString("\n")
	if d := r.text(b.Body, "budget"); d != "" {
		fmt.Fprintf(&r.b, "_budget %s._\n\n", d)
	}
}

// commands renders a step as the commands a person would type; ok is
// false for actions that have none.
func (r *renderer) commands(b *hclsyntax.Block, typ string) (string, []string, bool) {
	body := b.Body
	var lines []string
	lang := "bash"
	remote := func(p *hclsyntax.Block) {
		if login := r.sshLogin(p); login != "" {
			lines = append(lines, "ssh "+login)
		}
	}
	switch typ {
	case "ssh_exec":
		remote(r.instance(body, "ssh"))
		if s := r.text(body, "script"); s != "" {
			lines = append(lines, strings.TrimRight(s, "\n"))
		} else if words, ok := r.strings(body, "command"); ok {
			lines = append(lines, shellJoin(words))
		} else {
			return "", nil, false
		}
	case "local_exec":
		words, ok := r.strings(body, "command")
		if !ok {
			return "", nil, false
		}
		if len(words) == 3 && (words[0] == "bash" || words[0] == "sh") && words[1] == "-c" {
			lang = words[0]
			lines = append(lines, strings.TrimRight(words[2], "\n"))
		} else {
			lines = append(lines, shellJoin(words))
		}
	case "http_check":
		p := r.instance(body, "http")
		base := ""
		if p != nil {
			base = strings.TrimRight(r.text(p.Body, "base_url"), "/")
		}
		cmd := "curl -fsS"
		if m := r.text(body, "method"); m != "" && m != "GET" {
			cmd += " -X " + m
		}
		if a, ok := body.Attributes["headers"]; ok {
			if v, ok := r.value(a.Expr); ok && (v.Type().IsObjectType() || v.Type().IsMapType()) {
				for k, hv := range v.AsValueMap() {
					if hv.Type().FriendlyName() == "string" {
						cmd += " -H " + shellQuote(k+": "+hv.AsString())
					}
				}
			}
		}
		lines = append(lines, cmd+" "+shellQuote(base+r.text(body, "url")))
		if s := r.text(body, "expect_status"); s != "" {
			lines = append(lines, "# Expected: HTTP "+s)
		}
		if a, ok := body.Attributes["expect"]; ok {
			if v, ok := r.value(a.Expr); ok && (v.Type().IsObjectType() || v.Type().IsMapType()) {
				var kv []string
				for _, k := range sortedKeys(v.AsValueMap()) {
					ev := v.AsValueMap()[k]
					if ev.Type().FriendlyName() != "string" {
						return "", nil, false
					}
					kv = append(kv, fmt.Sprintf("%q: %q", k, ev.AsString()))
				}
				lines = append(lines, "# Expected: {"+strings.Join(kv, ", ")+"}")
			}
		}
	case "docker_pull":
		remote(r.via(r.instance(body, "docker")))
		lines = append(lines, "docker pull "+r.text(body, "image"))
	case "docker_service_update":
		svc := r.text(body, "service")
		if svc == "" {
			return "", nil, false
		}
		remote(r.via(r.instance(body, "docker")))
		up := "docker compose"
		if p := r.text(body, "project"); p != "" {
			up += " -p " + p
		}
		lines = append(lines, "docker pull "+r.text(body, "image"), up+" up -d "+svc)
	case "postgres_backup":
		f := r.text(body, "file")
		if f == "" {
			return "", nil, false
		}
		remote(r.via(r.instance(body, "postgres")))
		lines = append(lines, "pg_dump -f "+shellQuote(f))
	case "postgres_migrate":
		if r.boolAttr(body, "dry_run") || r.source(body, "target") != "" {
			return "", nil, false
		}
		remote(r.via(r.instance(body, "postgres")))
		lines = append(lines, "migrate -path "+shellQuote(r.text(body, "dir"))+` -database "$DATABASE_URL" up`)
	case "s3_upload":
		dst := "s3://" + r.text(body, "bucket") + "/"
		if k := r.text(body, "key"); k != "" {
			dst += k
		} else {
			dst += r.text(body, "prefix")
		}
		lines = append(lines, "aws s3 cp "+shellQuote(r.text(body, "source"))+" "+shellQuote(dst))
	default:
		return "", nil, false
	}
	return lang, lines, true
}

// rollbacks writes the rollback procedure: every step that can be undone,
// in the order a failed run undoes them (reverse).
func (r *renderer) rollbacks() {
	all := r.nodes()
	var out strings.Builder
	n, natural := 0, 0
	for i := len(all) - 1; i >= 0; i-- {
		b := all[i]
		if b.Type != "step" {
			continue
		}
		name, typ := nodeName(b), nodeType(b)
		title := r.title(b.Body, name)
		wrote := false
		for _, c := range b.Body.Blocks {
			if c.Type != "rollback" || len(c.Labels) == 0 {
				continue
			}
			n++
			wrote = true
			fmt.Fprintf(&out, "**%d. Undo %s** (%s)\n\n", n, escape(title), code(name))
			r2 := &renderer{src: r.src, providers: r.providers, vars: r.vars, ctx: r.ctx}
			if lang, lines, ok := r2.commands(c, c.Labels[0]); ok {
				r2.fence(lang, lines...)
			} else {
				fmt.Fprintf(&r2.b, "Action %s:\n\n", code(c.Labels[0]))
				r2.attributes(c.Body)
			}
			out.WriteString(r2.b.String())
		}
		if wrote {
			continue
		}
		if s := r.text(b.Body, "rollback_script"); s != "" {
			n++
			fmt.Fprintf(&out, "**%d. Undo %s** (%s)\n\n", n, escape(title), code(name))
			r2 := &renderer{src: r.src, providers: r.providers, vars: r.vars, ctx: r.ctx}
			var lines []string
			if login := r.sshLogin(r.instance(b.Body, "ssh")); login != "" {
				lines = append(lines, "ssh "+login)
			}
			r2.fence("bash", append(lines, strings.TrimRight(s, "\n"))...)
			out.WriteString(r2.b.String())
			continue
		}
		if how, ok := naturalRollback[typ]; ok && !r.boolAttr(b.Body, "irreversible") && !r.boolAttr(b.Body, "dry_run") {
			natural++
			fmt.Fprintf(&out, "- %s — undone by its action, which %s.\n\n", code(name), how)
		}
	}
	if n+natural == 0 {
		return
	}
	r.b.WriteString("## Rollback procedure\n\nWhen a step fails, the steps already done are undone in this order, the last\ndone first.\n\n")
	r.b.WriteString(out.String())
}

func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=@%+,", c))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellJoin(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = shellQuote(w)
	}
	return strings.Join(q, " ")
}

// hosts lists the provider instances that name a host or URL, so that a
// reader knows where commands run (and an import keeps their names).
func (r *renderer) hosts() {
	var rows []string
	seen := map[string]bool{}
	for _, k := range sortedBlocks(r.providers) {
		p := r.providers[k]
		addr := ""
		switch p.Labels[0] {
		case "ssh":
			addr = r.text(p.Body, "host")
		case "http":
			addr = strings.TrimRight(r.text(p.Body, "base_url"), "/")
		}
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		rows = append(rows, fmt.Sprintf("| %s | %s | %s |", code(p.Labels[1]), escape(addr), p.Labels[0]))
	}
	if len(rows) == 0 {
		return
	}
	r.b.WriteString("## Hosts\n\n| Name | Address | Provider |\n|------|---------|----------|\n")
	r.b.WriteString(strings.Join(rows, "\n"))
	r.b.WriteString("\n\n")
}

func sortedBlocks(m map[string]*hclsyntax.Block) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
