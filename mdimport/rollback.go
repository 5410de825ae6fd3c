package mdimport

import (
	"strings"
)

// readRollback reads a rollback procedure's commands as candidates.
func (m *model) readRollback(sec *section) {
	var ignored []hint
	for _, u := range unitsOf(sec, &ignored) {
		if u.kind != uChunk || !hasCommands(u.lines) {
			continue
		}
		c := &candidate{title: u.title, id: u.id, line: u.line, lines: u.lines, target: u.target, lang: u.lang, inherited: u.inherited}
		if c.readOnly() {
			continue // verifying the rollback undoes nothing
		}
		m.cands = append(m.cands, c)
	}
	for _, h := range ignored {
		m.hintCands(h, nil)
	}
}

func (m *model) hintCands(h hint, scope *phase) {
	var lines []logical
	for _, c := range h.cmds {
		lines = append(lines, logical{text: c, line: h.line})
	}
	lines, t := retarget(lines)
	c := &candidate{title: h.title, line: h.line, lines: lines, target: t, lang: "sh", scope: scope}
	if !c.readOnly() {
		m.cands = append(m.cands, c)
	}
}

// applyHints turns "Rollback: run `x`" paragraphs into candidates scoped
// to the phase they were written in.
func (m *model) applyHints() {
	for _, h := range m.hints {
		var scope *phase
		for _, p := range m.phases {
			if p.line <= h.line && (scope == nil || p.line > scope.line) {
				scope = p
			}
		}
		m.hintCands(h, scope)
	}
}

var (
	positiveVerbs = map[string]bool{"enable": true, "ln": true, "up": true, "start": true, "create": true, "add": true,
		"deploy": true, "apply": true, "install": true, "upload": true, "push": true, "insert": true, "mount": true,
		"attach": true, "register": true, "open": true, "on": true, "scale": true, "activate": true, "promote": true,
		"forward": true, "lock": true, "freeze": true, "cordon": true, "drain": true, "pause": true, "upgrade": true}
	negativeVerbs = map[string]bool{"disable": true, "rm": true, "down": true, "stop": true, "delete": true,
		"remove": true, "revert": true, "rollback": true, "roll": true, "undo": true, "uninstall": true, "detach": true,
		"unmount": true, "deregister": true, "drop": true, "destroy": true, "close": true, "off": true,
		"deactivate": true, "restore": true, "unlock": true, "unfreeze": true, "uncordon": true,
		"resume": true, "downgrade": true}
)

// profile is what a step or candidate does to what.
type profile struct {
	objects  map[string]bool
	polarity int // +1 does, -1 undoes, 0 unknown
	host     string
}

func profileOf(title string, lines []logical, t sshTarget) profile {
	var b strings.Builder
	b.WriteString(title)
	for _, l := range lines {
		if !l.comment() {
			b.WriteString(" ")
			b.WriteString(l.text)
		}
	}
	p := profile{objects: map[string]bool{}, host: t.host}
	pos, neg := 0, 0
	for w := range tokens(b.String()) {
		switch {
		case positiveVerbs[w]:
			pos++
		case negativeVerbs[w]:
			neg++
		default:
			p.objects[w] = true
		}
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(b.String()), func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		if w == "up" || w == "on" || w == "off" || w == "down" || w == "ln" || w == "rm" {
			if positiveVerbs[w] {
				pos++
			} else {
				neg++
			}
		}
	}
	switch {
	case pos > neg:
		p.polarity = 1
	case neg > pos:
		p.polarity = -1
	}
	return p
}

// matchRollbacks gives each candidate to the forward step it undoes best:
// the same objects (service, file, command family), the same host, and
// the opposite direction (rm undoes ln, down undoes up). A candidate
// naming a step (`name`) goes to that step.
func (m *model) matchRollbacks() {
	type pair struct {
		c     *candidate
		n     *node
		score float64
	}
	var pairs []pair
	// Words found in many steps (the product's name, its base folder) say
	// nothing about which step a command undoes.
	profiles := map[*node]profile{}
	df := map[string]int{}
	for _, n := range m.nodes {
		if n.gate {
			continue
		}
		p := profileOf(cleanTitle(n.title), n.lines, n.target)
		profiles[n] = p
		for w := range p.objects {
			df[w]++
		}
	}
	limit := len(profiles) / 5
	if limit < 3 {
		limit = 3
	}
	distinct := func(objs map[string]bool) map[string]bool {
		out := map[string]bool{}
		for w := range objs {
			if df[w] <= limit {
				out[w] = true
			}
		}
		return out
	}
	for _, c := range m.cands {
		if c.id != "" {
			for _, n := range m.nodes {
				if n.name == c.id && n.rollback == nil && !n.gate {
					n.rollback = c
					c.used = true
				}
			}
			continue
		}
		cp := profileOf(cleanTitle(c.title), c.lines, c.target)
		cobj := distinct(cp.objects)
		for _, n := range m.nodes {
			if n.gate || n.readOnly || n.natural || n.action == "manual_task" || n.action == "manual_checklist" {
				continue
			}
			if c.scope != nil && n.phase != c.scope {
				continue
			}
			np := profiles[n]
			s := overlap(cobj, distinct(np.objects))
			if cp.host != "" && cp.host == np.host {
				s += 0.15
			}
			switch {
			case cp.polarity != 0 && np.polarity != 0 && cp.polarity != np.polarity:
				s += 0.3
			case cp.polarity != 0 && cp.polarity == np.polarity:
				s -= 0.4
			}
			if c.scope != nil {
				s += 0.2
			}
			if s >= 0.6 {
				pairs = append(pairs, pair{c, n, s})
			}
		}
	}
	// Best pairs first; each step and candidate used once.
	for {
		best := -1
		for i, p := range pairs {
			if p.c.used || p.n.rollback != nil {
				continue
			}
			if best < 0 || p.score > pairs[best].score {
				best = i
			}
		}
		if best < 0 {
			break
		}
		pairs[best].n.rollback = pairs[best].c
		pairs[best].c.used = true
	}
}
