package mdimport

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// emitter writes the model as HCL.
type emitter struct {
	m        *model
	vars     *varTable
	hosts    map[string]*variable // ssh host → its variable
	sshInst  map[string]string    // host → instance name
	sshUser  map[string]string
	sshLine  map[string]int
	httpInst map[string]string // origin → instance name
	httpLine map[string]int
	used     map[string]int // "docker.local" → first line
	body     strings.Builder
	todo     int
}

func newEmitter(m *model) *emitter {
	e := &emitter{m: m, vars: newVarTable(), hosts: map[string]*variable{}, sshInst: map[string]string{},
		sshUser: map[string]string{}, sshLine: map[string]int{}, httpInst: map[string]string{}, httpLine: map[string]int{},
		used: map[string]int{}}
	// The version in the title is the release's: it is "version".
	if v := versionRE.FindString(m.title); v != "" {
		e.vars.find(v, m.titleLine, nil, false)[0].v()
	}
	inst := names{}
	addHost := func(t sshTarget, line int) {
		if t.local() {
			return
		}
		if _, ok := e.sshInst[t.host]; ok {
			return
		}
		base := slug(t.host)
		if a, ok := m.aliases[t.host]; ok {
			base = a
		}
		name := inst.unique(base, "host")
		e.sshInst[t.host] = name
		e.sshUser[t.host] = t.user
		e.sshLine[t.host] = line
		e.hosts[t.host] = e.vars.get("host", t.host, name+"_host", "Host found in the document (ssh).", false, line)
	}
	for _, n := range m.nodes {
		addHost(n.target, n.line)
	}
	for _, c := range m.cands {
		if c.used {
			addHost(c.target, c.line)
		}
	}
	return e
}

func (e *emitter) loc(line int) string { return fmt.Sprintf("%s:%d", e.m.file, line) }

// comment writes "# file.md:12: text" (secrets scrubbed, one line).
func (e *emitter) comment(b *strings.Builder, indent string, line int, text string) {
	text = strings.Join(strings.Fields(strings.Map(printable, scrub(text))), " ")
	if len(text) > 100 {
		text = text[:97] + "..."
	}
	if text != "" {
		fmt.Fprintf(b, "%s# %s: %s\n", indent, e.loc(line), text)
	} else {
		fmt.Fprintf(b, "%s# %s\n", indent, e.loc(line))
	}
}

// str renders s as an HCL string with literals made variables.
func (e *emitter) str(s string, line int, rollback bool) string {
	return hclString(e.vars.subst(s, line, e.hosts, rollback))
}

// lit renders s as an HCL string without variables.
func lit(s string) string { return hclString(escapeTemplate(s)) }

// hclString quotes template content (already escaped), as a heredoc when
// it spans lines.
func hclString(t string) string {
	if strings.Contains(t, "\n") && strings.IndexFunc(t, func(r rune) bool { return r != '\n' && r != '\t' && printable(r) != r }) < 0 {
		marker := "EOT"
		for i := 2; strings.Contains("\n"+t+"\n", "\n"+marker+"\n") || strings.Contains(t, "\n"+marker); i++ {
			marker = "EOT" + strconv.Itoa(i)
		}
		return "<<" + marker + "\n" + strings.TrimSuffix(t, "\n") + "\n" + marker + "\n"
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range t {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f || r == 0xfffd {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (e *emitter) script(lines []logical) string {
	var parts []string
	for _, l := range lines {
		parts = append(parts, l.text)
	}
	return strings.Join(parts, "\n")
}

func (e *emitter) use(inst string, line int) string {
	if _, ok := e.used[inst]; !ok {
		e.used[inst] = line
	}
	return inst
}

func (e *emitter) sshRef(t sshTarget, line int) string {
	return e.use("ssh."+e.sshInst[t.host], line)
}

func (e *emitter) dockerRef(t sshTarget, line int) string {
	if t.local() {
		return e.use("docker.local", line)
	}
	e.sshRef(t, line)
	return e.use("docker."+e.sshInst[t.host], line)
}

func (e *emitter) postgresRef(t sshTarget, line int) string {
	e.vars.get("secret", "", "database_url", "PostgreSQL connection URL (not in the document).", true, line)
	if t.local() {
		return e.use("postgres.main", line)
	}
	e.sshRef(t, line)
	return e.use("postgres."+e.sshInst[t.host], line)
}

func (e *emitter) httpRef(origin string, line int) string {
	name, ok := e.httpInst[origin]
	if !ok {
		u, _ := url.Parse(origin)
		base := "site"
		if u != nil {
			base = slug(u.Hostname())
		}
		if a, ok := e.m.aliases[origin]; ok {
			base = a
		}
		taken := names{}
		for _, n := range e.httpInst {
			taken[n] = true
		}
		name = taken.unique(base, "site")
		e.httpInst[origin] = name
		e.httpLine[origin] = line
		e.vars.url(origin, line)
	}
	return e.use("http."+name, line)
}

// emitBody writes phases and nodes.
func (e *emitter) emitBody() {
	for _, it := range e.m.items {
		switch it := it.(type) {
		case *phase:
			e.body.WriteString("\n")
			e.comment(&e.body, "", it.line, it.title)
			fmt.Fprintf(&e.body, "phase %s {\n", lit(it.name))
			if d := cleanTitle(it.title); d != "" {
				fmt.Fprintf(&e.body, "  description = %s\n", lit(scrub(d)))
			}
			for _, n := range it.nodes {
				e.body.WriteString("\n")
				e.node(n, "  ")
			}
			e.body.WriteString("}\n")
		case *node:
			e.body.WriteString("\n")
			e.node(it, "")
		}
	}
	var left []*candidate
	for _, c := range e.m.cands {
		if !c.used {
			left = append(left, c)
		}
	}
	if len(left) > 0 {
		e.body.WriteString("\n# Rollback commands of the document that undo no step found here; attach them\n# to the steps they undo by hand:\n")
		for _, c := range left {
			e.comment(&e.body, "#   ", c.line, cleanTitle(c.title))
		}
	}
}

func (e *emitter) node(n *node, ind string) {
	b := &e.body
	e.comment(b, ind, n.line, n.title)
	in := ind + "  "
	if n.gate {
		fmt.Fprintf(b, "%sgate \"approval\" %s {\n", ind, lit(n.name))
		fmt.Fprintf(b, "%smessage = %s\n", in, lit(scrub(n.message)))
		if len(n.approvers) > 0 {
			fmt.Fprintf(b, "%sapprovers = %s\n", in, litList(n.approvers))
		}
		if n.budget > 0 {
			fmt.Fprintf(b, "%sbudget = %q\n", in, formatDuration(n.budget))
		}
		fmt.Fprintf(b, "%s}\n", ind)
		return
	}
	mutating := !n.readOnly && !n.natural && n.rollback == nil
	if mutating {
		e.todo++
		fmt.Fprintf(b, "%s# TODO(import): no rollback for this step was found in the document. Add a\n", ind)
		fmt.Fprintf(b, "%s# rollback \"<action>\" { ... } block, or irreversible = true if it cannot be undone.\n", ind)
	}
	fmt.Fprintf(b, "%sstep %q %s {\n", ind, n.action, lit(n.name))
	switch n.action {
	case "ssh_exec":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.sshRef(n.target, n.line))
	case "local_exec":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.use("exec.local", n.line))
	case "manual_task", "manual_checklist":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.use("manual.team", n.line))
	case "docker_pull", "docker_service_update":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.dockerRef(n.target, n.line))
	case "postgres_backup", "postgres_migrate":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.postgresRef(n.target, n.line))
	case "s3_upload":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.use("aws.main", n.line))
	case "http_check":
		fmt.Fprintf(b, "%sprovider = %s\n", in, e.httpRef(strings.TrimPrefix(n.typed.prov, "http:"), n.line))
	}
	if d := cleanTitle(n.title); d != "" && d != n.name {
		fmt.Fprintf(b, "%sdescription = %s\n", in, lit(scrub(d)))
	}
	switch n.action {
	case "ssh_exec":
		fmt.Fprintf(b, "%sscript = %s\n", in, e.str(e.script(n.lines), n.line, false))
	case "local_exec":
		fmt.Fprintf(b, "%scommand = [%q, \"-c\", %s]\n", in, shellOf(n.lang), e.str(e.script(n.lines), n.line, false))
	case "manual_task":
		fmt.Fprintf(b, "%smessage = %s\n", in, lit(scrub(n.message)))
	case "manual_checklist":
		var items []string
		for _, it := range n.items {
			items = append(items, scrub(it))
		}
		fmt.Fprintf(b, "%sitems = %s\n", in, litList(items))
	default:
		for _, a := range n.typed.args {
			fmt.Fprintf(b, "%s%s = %s\n", in, a.name, e.argValue(a, n.line))
		}
	}
	if n.readOnly && (n.action == "ssh_exec" || n.action == "local_exec") {
		fmt.Fprintf(b, "%sread_only = true\n", in)
	}
	if n.budget > 0 {
		fmt.Fprintf(b, "%sbudget = %q\n", in, formatDuration(n.budget))
	}
	if n.pnr {
		fmt.Fprintf(b, "%spoint_of_no_return = true\n", in)
	}
	if c := n.rollback; c != nil {
		t := c.target
		// A rollback runs where its step ran unless its own text says
		// otherwise (a hint, or a host carried over from an earlier chunk).
		if c.scope != nil || c.inherited || t.local() && !n.target.local() && c.lang == "" {
			t = n.target
		}
		b.WriteString("\n")
		e.comment(b, in, c.line, "rollback: "+cleanTitle(c.title))
		src := e.script(c.lines)
		if t.local() {
			fmt.Fprintf(b, "%srollback \"local_exec\" {\n", in)
			fmt.Fprintf(b, "%s  provider = %s\n", in, e.use("exec.local", c.line))
			fmt.Fprintf(b, "%s  command = [%q, \"-c\", %s]\n", in, shellOf(c.lang), e.str(src, c.line, true))
		} else {
			fmt.Fprintf(b, "%srollback \"ssh_exec\" {\n", in)
			fmt.Fprintf(b, "%s  provider = %s\n", in, e.sshRef(t, c.line))
			fmt.Fprintf(b, "%s  script = %s\n", in, e.str(src, c.line, true))
		}
		fmt.Fprintf(b, "%s}\n", in)
	}
	fmt.Fprintf(b, "%s}\n", ind)
}

func shellOf(lang string) string {
	if lang == "bash" || lang == "zsh" {
		return lang
	}
	return "sh"
}

func litList(xs []string) string {
	if len(xs) <= 1 {
		parts := make([]string, len(xs))
		for i, x := range xs {
			parts[i] = lit(x)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("[\n")
	for _, x := range xs {
		b.WriteString(lit(x))
		b.WriteString(",\n")
	}
	b.WriteString("]")
	return b.String()
}

func (e *emitter) argValue(a arg, line int) string {
	switch {
	case a.str != nil:
		if a.name == "bucket" {
			// bucket = "s3://name": only the name, as a variable.
			b := strings.TrimPrefix(*a.str, "s3://")
			return "var." + e.vars.get("bucket", b, slug(b)+"_bucket", "S3 bucket found in the document.", false, line).name
		}
		return e.str(*a.str, line, false)
	case a.num != nil:
		return strconv.Itoa(*a.num)
	case a.smap != nil:
		var b strings.Builder
		b.WriteString("{\n")
		for _, kv := range a.smap {
			fmt.Fprintf(&b, "%s = %s\n", lit(kv[0]), e.str(kv[1], line, false))
		}
		b.WriteString("}")
		return b.String()
	case a.list != nil:
		return litList(a.list)
	}
	return a.raw
}

// emitHead writes the runbook block, variables and providers.
func (e *emitter) emitHead(b *strings.Builder) {
	fmt.Fprintf(b, "# Generated by `handrail import` from %s. Each block's comment names the\n", e.m.file)
	b.WriteString("# Markdown line it came from. Review every TODO(import) before running it.\n\n")
	e.comment(b, "", e.m.titleLine, e.m.title)
	fmt.Fprintf(b, "runbook %s {\n", lit(e.m.name))
	fmt.Fprintf(b, "  description = %s\n", lit(scrub(cleanTitleKeepParens(e.m.title))))
	if e.m.window > 0 {
		fmt.Fprintf(b, "  window = %q # %s\n", formatDuration(e.m.window), e.loc(max(e.m.windowLn, e.m.titleLine)))
	}
	b.WriteString("}\n")

	if len(e.vars.order) > 0 {
		b.WriteString("\n")
	}
	for _, v := range e.vars.order {
		e.comment(b, "", v.line, "")
		fmt.Fprintf(b, "variable %s {\n  type = string\n  description = %s\n", lit(v.name), lit(v.desc))
		if v.sensitive {
			b.WriteString("  sensitive = true\n")
		}
		b.WriteString("}\n")
	}
	insts := make([]string, 0, len(e.used))
	for k := range e.used {
		insts = append(insts, k)
	}
	sort.Slice(insts, func(i, j int) bool {
		if e.used[insts[i]] != e.used[insts[j]] {
			return e.used[insts[i]] < e.used[insts[j]]
		}
		return insts[i] < insts[j]
	})
	// ssh instances first: docker and postgres may go through them.
	sort.SliceStable(insts, func(i, j int) bool {
		return strings.HasPrefix(insts[i], "ssh.") && !strings.HasPrefix(insts[j], "ssh.")
	})
	if len(insts) > 0 {
		b.WriteString("\n")
	}
	for _, inst := range insts {
		typ, name, _ := strings.Cut(inst, ".")
		e.comment(b, "", e.used[inst], "")
		fmt.Fprintf(b, "provider %q %q {\n", typ, name)
		switch typ {
		case "ssh":
			for h, n := range e.sshInst {
				if n == name {
					fmt.Fprintf(b, "  host = var.%s\n", e.hosts[h].name)
					if u := e.sshUser[h]; u != "" {
						fmt.Fprintf(b, "  user = %s\n", lit(u))
					}
				}
			}
		case "docker", "postgres":
			if typ == "postgres" {
				v := e.vars.get("secret", "", "database_url", "PostgreSQL connection URL (not in the document).", true, e.used[inst])
				fmt.Fprintf(b, "  dsn = var.%s\n", v.name)
			}
			if name != "local" && name != "main" {
				fmt.Fprintf(b, "  via = ssh.%s\n", name)
			}
		case "http":
			for o, n := range e.httpInst {
				if n == name {
					fmt.Fprintf(b, "  base_url = var.%s\n", e.vars.url(o, e.httpLine[o]).name)
				}
			}
		}
		b.WriteString("}\n")
	}
}

// hclvars writes the values of the non-sensitive variables.
func (e *emitter) hclvars() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Values found in %s. Secrets are not written here: give them with\n# -var NAME=... or HANDRAIL_VAR_NAME.\n", e.m.file)
	for _, v := range e.vars.order {
		if v.sensitive {
			continue
		}
		fmt.Fprintf(&b, "%s = %s # %s\n", v.name, lit(v.value), e.loc(v.line))
	}
	return b.String()
}

// printable maps control characters (and the replacement character) to
// spaces, for comments and heredocs, which cannot escape them.
func printable(r rune) rune {
	if r < 0x20 || r == 0x7f || r == 0xfffd || r >= 0x80 && r < 0xa0 || r == 0x2028 || r == 0x2029 {
		return ' '
	}
	return r
}
