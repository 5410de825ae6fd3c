package mdimport

import (
	"strings"
	"time"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// unitKind is what a piece of the document becomes.
type unitKind int

const (
	uChunk    unitKind = iota // commands: a step (or several)
	uTasks                    // a checklist
	uApproval                 // an approval gate
	uManual                   // an instruction without a command
)

// unit is one step-producing piece of a section.
type unit struct {
	kind   unitKind
	title  string // as written (numbering removed later)
	id     string // explicit id: a trailing (`name`)
	line   int
	lines  []logical // uChunk: the command lines (title comment removed)
	target sshTarget // uChunk: where they run
	// inherited: the target comes from an `ssh host` line of an earlier
	// chunk of the block, not from the chunk itself.
	inherited bool
	lang      string
	items     []string // uTasks
	itemLn    []int
	text      string // uApproval, uManual: the text
	group     int    // index of the top-level numbered item it belongs to, -1 if none
}

// hint is a rollback command written beside forward steps ("Rollback:
// run `npm run migrate:down`").
type hint struct {
	line  int
	title string
	cmds  []string
}

var (
	numberedComment = lazyre.New(`(?i)^\s*#+\s*(?:(?:step|phase|stage)\s*)?(\d+)\s*[.):]\s*(.*)$`)
	approvalRE      = lazyre.New(`(?i)\b(go\s*/\s*no[- ]?go|approval|approve[sd]?|sign[- ]?offs?|signs? off)\b`)
	rollbackHintRE  = lazyre.New(`(?i)^\s*(rollback|roll back|to roll back|undo|revert)\b`)
	pnrRE           = lazyre.New(`(?i)rollback point\s*:?\s*no\b|point of no return`)
	shellLangs      = map[string]bool{"bash": true, "sh": true, "shell": true, "console": true, "zsh": true, "shell-session": true, "terminal": true, "": true, "ksh": true, "shellsession": true}
	imperative      = map[string]bool{
		"check": true, "verify": true, "run": true, "deploy": true, "notify": true, "announce": true, "open": true,
		"update": true, "confirm": true, "ensure": true, "monitor": true, "restart": true, "stop": true, "start": true,
		"enable": true, "disable": true, "switch": true, "drain": true, "wait": true, "post": true, "send": true,
		"create": true, "remove": true, "delete": true, "scale": true, "merge": true, "tag": true, "build": true,
		"push": true, "pull": true, "backup": true, "back": true, "restore": true, "execute": true, "apply": true,
		"rollout": true, "roll": true, "promote": true, "flip": true, "put": true, "take": true, "inform": true,
		"page": true, "email": true, "tell": true, "ask": true, "review": true, "watch": true, "test": true,
		"install": true, "upgrade": true, "migrate": true, "reload": true, "flush": true, "clear": true,
		"purge": true, "invalidate": true, "snapshot": true, "copy": true, "upload": true, "download": true,
		"log": true, "record": true, "close": true, "resolve": true, "set": true, "mark": true, "cut": true,
		"freeze": true, "unfreeze": true, "lock": true, "unlock": true, "smoke": true, "validate": true,
		"communicate": true, "schedule": true, "document": true, "capture": true, "export": true, "import": true,
		"add": true, "configure": true, "reboot": true, "pause": true, "resume": true, "cordon": true, "uncordon": true,
	}
)

// unitsOf reads a section's blocks into units, in order. hints collects
// rollback commands written beside forward steps.
func unitsOf(sec *section, hints *[]hint) []unit {
	var out []unit
	prevText := ""
	group := -1
	for i, b := range sec.blocks {
		if b.kind != bItem {
			group = -1
		}
		switch b.kind {
		case bPara:
			switch {
			case rollbackHintRE.MatchString(b.text) || strings.HasPrefix(strings.ToLower(b.text), "rollback point"):
				var cmds []string
				for _, sp := range b.spans {
					if looksLikeCommand(sp) {
						cmds = append(cmds, sp)
					}
				}
				if len(cmds) > 0 {
					*hints = append(*hints, hint{line: b.line, title: b.text, cmds: cmds})
				}
			case approvalRE.MatchString(b.text):
				title, id := splitID(b.text)
				out = append(out, unit{kind: uApproval, title: title, id: id, text: title, line: b.line, group: group})
			default:
				if cmds := commandSpans(b.spans); len(cmds) > 0 && startsImperative(b.text) {
					title, id := splitID(b.text)
					out = append(out, spanChunk(title, id, b.line, cmds, group))
				}
			}
			prevText = b.text
		case bCode:
			title := ""
			if i > 0 && (sec.blocks[i-1].kind == bPara || sec.blocks[i-1].kind == bItem) {
				title = prevText
			}
			if title == "" {
				title = sec.title
			}
			out = append(out, chunksOf(b, title, group)...)
			prevText = ""
		case bTasks:
			group = -1
			u := unit{kind: uTasks, title: sec.title, line: b.line, group: group}
			if i > 0 && sec.blocks[i-1].kind == bPara {
				u.title, u.id = splitID(sec.blocks[i-1].text)
			}
			for _, t := range b.tasks {
				u.items = append(u.items, t.text)
				u.itemLn = append(u.itemLn, t.line)
			}
			out = append(out, u)
		case bItem:
			if b.depth == 0 {
				group = -1
				if b.ordered {
					group = b.line
				}
			}
			title, id := splitID(b.text)
			switch {
			case len(b.code) > 0:
				for _, c := range b.code {
					us := chunksOf(c, b.text, group)
					out = append(out, us...)
				}
			case approvalRE.MatchString(b.text) && (b.ordered || startsImperative(b.text) || strings.Contains(strings.ToLower(b.text), "go/no")):
				out = append(out, unit{kind: uApproval, title: title, id: id, text: title, line: b.line, group: group})
			case len(commandSpans(b.spans)) > 0 && (b.ordered || startsImperative(b.text)):
				out = append(out, spanChunk(title, id, b.line, commandSpans(b.spans), group))
			case groupHeader(sec.blocks, i):
				// "2. Upgrade the nodes" over numbered sub-steps: a title only.
			case b.ordered && (startsImperative(b.text) || id != ""):
				text := title
				// Bullets under the instruction are part of it.
				for _, sub := range sec.blocks[i+1:] {
					if sub.kind != bItem || sub.depth <= b.depth || sub.ordered || len(sub.code) > 0 {
						break
					}
					text += "\n- " + sub.text
				}
				out = append(out, unit{kind: uManual, title: title, id: id, text: text, line: b.line, group: group})
			}
			prevText = b.text
		}
	}
	return out
}

func commandSpans(spans []string) []string {
	var out []string
	for _, s := range spans {
		if looksLikeCommand(s) {
			out = append(out, s)
		}
	}
	return out
}

func spanChunk(title, id string, line int, cmds []string, group int) unit {
	u := unit{kind: uChunk, title: title, id: id, line: line, group: group}
	var lines []logical
	for _, c := range cmds {
		lines = append(lines, logical{text: c, line: line})
	}
	u.lines, u.target = retarget(lines)
	return u
}

// retarget handles `ssh host 'cmd'` lines: when every command line runs
// on the same host, the unit runs there with the inner commands.
func retarget(lines []logical) ([]logical, sshTarget) {
	var t sshTarget
	var out []logical
	for _, l := range lines {
		if l.comment() {
			out = append(out, l)
			continue
		}
		st, rest, ok := parseSSH(l.text)
		if !ok || rest == "" || (t.host != "" && st != t) {
			return lines, sshTarget{}
		}
		t = st
		out = append(out, logical{text: rest, line: l.line})
	}
	return out, t
}

var promptRE = lazyre.New(`^(\s*)\$ `)

// chunksOf splits a code block into units: at numbered comments
// ("# 2. Enable maintenance page"), at `ssh host` lines that change where
// commands run, and otherwise as one script titled by title.
func chunksOf(b block, title string, group int) []unit {
	if !shellLangs[b.lang] {
		return nil
	}
	code := b.text
	if b.lang == "console" || b.lang == "shell-session" || b.lang == "shellsession" || b.lang == "terminal" {
		var kept []string
		for _, l := range strings.Split(code, "\n") {
			if promptRE.MatchString(l) {
				kept = append(kept, promptRE.ReplaceAllString(l, "$1"))
			}
		}
		code = strings.Join(kept, "\n")
	}
	lines := logicalLines(code, b.line)
	if b.lang == "" {
		first := ""
		for _, l := range lines {
			if !l.comment() {
				first = l.text
				break
			}
		}
		if !looksLikeCommand(first) {
			return nil
		}
	}
	lang := b.lang
	if lang != "bash" && lang != "zsh" {
		lang = "sh"
	}
	var out []unit
	title, id := splitID(title)
	cur := unit{kind: uChunk, title: title, id: id, line: b.line, group: group, lang: lang}
	target := sshTarget{}
	numbered := false
	var psql string // an interactive psql session opened in the block
	flush := func() {
		if cur.target != target {
			cur.inherited = true
		}
		cur.target = target
		has := false
		for _, l := range cur.lines {
			if !l.comment() {
				has = true
			}
		}
		if has || numbered && cur.title != title {
			// Comment lines before and after the commands stay with them.
			out = append(out, cur)
		}
	}
	for _, l := range lines {
		if m := numberedComment.FindStringSubmatch(l.text); m != nil {
			flush()
			numbered = true
			cur = unit{kind: uChunk, title: strings.TrimSpace(m[2]), line: l.line, group: group, lang: lang}
			cur.title, cur.id = splitID(cur.title)
			continue
		}
		if l.comment() {
			if len(cur.lines) > 0 || numbered {
				cur.lines = append(cur.lines, l)
			}
			continue
		}
		if t, rest, ok := parseSSH(l.text); ok && rest == "" {
			// `ssh host` alone: what follows runs there.
			if hasCommands(cur.lines) && t != target {
				flush()
				cur = unit{kind: uChunk, title: cur.title, line: l.line, group: group, lang: lang, id: cur.id}
			}
			target = t
			cur.target = t
			psql = ""
			continue
		}
		if w := stripWrappers(words(l.text)); len(w) > 0 && (w[0] == "exit" || w[0] == "logout") && len(w) == 1 {
			if psql != "" {
				psql = ""
				continue
			}
			if hasCommands(cur.lines) {
				flush()
				cur = unit{kind: uChunk, title: cur.title, line: l.line, group: group, lang: lang, id: cur.id}
			}
			target = sshTarget{}
			continue
		}
		if interactivePSQL(l.text) {
			psql = strings.TrimSpace(l.text)
			continue
		}
		if psql != "" && sqlLine(l.text) {
			cur.lines = append(cur.lines, logical{text: psql + " <<'SQL'\n" + strings.TrimSpace(l.text) + "\nSQL", line: l.line})
			continue
		}
		if t, rest, ok := parseSSH(l.text); ok && rest != "" && target.local() {
			if hasCommands(cur.lines) && !sameInline(cur, t) {
				flush()
				cur = unit{kind: uChunk, title: cur.title, line: l.line, group: group, lang: lang, id: cur.id}
			}
			cur.lines = append(cur.lines, l)
			continue
		}
		cur.lines = append(cur.lines, l)
	}
	flush()
	for i := range out {
		if out[i].target.local() {
			out[i].lines, out[i].target = retarget(out[i].lines)
		}
		out[i].lines = trimComments(out[i].lines)
	}
	return out
}

func sameInline(cur unit, t sshTarget) bool {
	for _, l := range cur.lines {
		if l.comment() {
			continue
		}
		st, rest, ok := parseSSH(l.text)
		if !ok || rest == "" || st != t {
			return false
		}
	}
	return true
}

func hasCommands(lines []logical) bool {
	for _, l := range lines {
		if !l.comment() {
			return true
		}
	}
	return false
}

// trimComments drops blank lines at both ends.
func trimComments(lines []logical) []logical {
	for len(lines) > 0 && strings.TrimSpace(lines[0].text) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1].text) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func interactivePSQL(s string) bool {
	w := stripWrappers(words(s))
	if len(w) == 0 || w[0] != "psql" || strings.ContainsAny(s, "<|") {
		return false
	}
	for _, a := range w[1:] {
		if a == "-c" || a == "-f" || a == "--command" || a == "--file" || strings.HasPrefix(a, "--command=") || strings.HasPrefix(a, "--file=") {
			return false
		}
	}
	return true
}

var sqlStart = lazyre.New(`(?i)^\s*(select|insert|update|delete|create|alter|drop|with|show|explain|begin|commit|grant|revoke|truncate|vacuum|analyze|set|\\[a-z])\b`)

func sqlLine(s string) bool { return sqlStart.MatchString(s) }

func startsImperative(s string) bool {
	s = strings.TrimLeft(stepPrefix.ReplaceAllString(s, ""), "*_ ")
	w := strings.Fields(strings.ToLower(s))
	if len(w) == 0 {
		return false
	}
	return imperative[strings.Trim(w[0], ":,.`*")]
}

// rollback candidates, read from a rollback procedure or a hint.
type candidate struct {
	title  string
	id     string
	line   int
	lines  []logical
	target sshTarget
	lang   string
	scope  *phase // a hint only undoes a step of its own phase
	// inherited: its host was set by an earlier chunk of its block.
	inherited bool
	used      bool
}

// readOnlyUnit reports whether a chunk only reads.
func (c *candidate) readOnly() bool { return readOnlyScript(c.lines) }

// durations in a title: "(T-0:20, 20 minutes)".
var titleDuration = lazyre.New(`\(([^()]*)\)`)

func titleBudget(title string) (time.Duration, string) {
	for _, m := range titleDuration.FindAllStringSubmatch(title, -1) {
		label := ""
		for _, part := range strings.Split(m[1], ",") {
			part = strings.TrimSpace(part)
			if timeLabel.MatchString(part) {
				label = part
			}
		}
		if d, ok := parseDuration(m[1]); ok && !strings.Contains(strings.ToLower(m[1]), "window") {
			return d, label
		}
		if label != "" {
			return 0, label
		}
	}
	return 0, ""
}

var timeLabel = lazyre.New(`^(?i)T\s*[-+]\s*\d+(:\d\d)?$|^\d{1,2}:\d\d$`)

// groupHeader reports an item whose deeper items carry steps (code,
// commands or numbers): the item names them and is no step itself.
func groupHeader(blocks []block, i int) bool {
	b := blocks[i]
	for _, sub := range blocks[i+1:] {
		if sub.kind != bItem || sub.depth <= b.depth {
			return false
		}
		if sub.ordered || len(sub.code) > 0 || len(commandSpans(sub.spans)) > 0 {
			return true
		}
	}
	return false
}
