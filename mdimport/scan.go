package mdimport

import (
	"bytes"
	"sort"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	east "github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

// outline is a Markdown document reduced to what the importer reads:
// sections (one per heading) holding blocks in document order.
type outline struct {
	sections []*section
}

// section is the content under one heading, up to the next heading of
// any level. The first section (level 0) holds what precedes every heading.
type section struct {
	title    string // plain text, code spans kept in backquotes
	line     int
	level    int
	parent   *section
	blocks   []block
	rollback bool // the heading or an ancestor names a rollback procedure
}

// blockKind says what a block is.
type blockKind int

const (
	bPara blockKind = iota
	bCode
	bTasks
	bTable
	bItem // an item of a list that is not a task list
)

// block is one piece of a section.
type block struct {
	kind    blockKind
	line    int
	text    string     // bPara, bItem: plain text; bCode: the code
	lang    string     // bCode: info string's first word
	tasks   []task     // bTasks
	rows    [][]string // bTable: header first
	ordered bool       // bItem: of an ordered list
	depth   int        // bItem: nesting depth of its list (0 = top level)
	code    []block    // bItem: fenced code blocks inside the item
	spans   []string   // bPara, bItem: inline code spans, in order
}

type task struct {
	text string
	line int
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(src []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range src {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) line(off int) int {
	return sort.Search(len(l), func(i int) bool { return l[i] > off })
}

// parseMarkdown parses src (CommonMark with the GFM tables and task lists).
func parseMarkdown(src []byte) *outline {
	md := goldmark.New(goldmark.WithExtensions(east.Table, east.TaskList, east.Strikethrough))
	root := md.Parser().Parse(text.NewReader(src))
	s := &scanner{src: src, lines: newLineIndex(src)}
	s.cur = &section{line: 1}
	s.out.sections = append(s.out.sections, s.cur)
	for n := root.FirstChild(); n != nil; n = n.NextSibling() {
		s.top(n)
	}
	return &s.out
}

type scanner struct {
	src   []byte
	lines lineIndex
	out   outline
	cur   *section
}

var rollbackHeading = lazyre.New(`(?i)\b(roll[ -]?back|revert|back[ -]?out|undo)\b`)

func (s *scanner) top(n ast.Node) {
	switch n := n.(type) {
	case *ast.Heading:
		title := s.inline(n)
		sec := &section{title: title, line: s.lineOf(n), level: n.Level}
		// The parent is the nearest section above of a lower level.
		for p := s.cur; p != nil; p = p.parent {
			if p.level < n.Level {
				sec.parent = p
				break
			}
		}
		sec.rollback = rollbackHeading.MatchString(title) && !strings.Contains(strings.ToLower(title), "point") ||
			sec.parent != nil && sec.parent.rollback
		s.cur = sec
		s.out.sections = append(s.out.sections, sec)
	case *ast.Paragraph, *ast.TextBlock:
		s.cur.blocks = append(s.cur.blocks, block{kind: bPara, line: s.lineOf(n), text: s.inline(n), spans: s.spans(n)})
	case *ast.FencedCodeBlock:
		s.cur.blocks = append(s.cur.blocks, s.code(n, string(n.Language(s.src))))
	case *ast.CodeBlock:
		s.cur.blocks = append(s.cur.blocks, s.code(n, ""))
	case *ast.List:
		s.list(n, 0, &s.cur.blocks)
	case *extast.Table:
		s.cur.blocks = append(s.cur.blocks, s.table(n))
	case *ast.Blockquote:
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			s.top(c)
		}
	}
}

func (s *scanner) code(n ast.Node, lang string) block {
	var buf bytes.Buffer
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		buf.Write(seg.Value(s.src))
	}
	line := 0
	if lines.Len() > 0 {
		line = s.lines.line(lines.At(0).Start)
	} else if p := n.PreviousSibling(); p != nil {
		line = s.lineOf(p) + 1
	}
	if f := strings.Fields(lang); len(f) > 0 {
		lang = strings.ToLower(f[0])
	}
	return block{kind: bCode, line: line, text: buf.String(), lang: lang}
}

// list appends the list's items: a task list as one bTasks block, other
// lists as one bItem per item (nested lists follow their item).
func (s *scanner) list(l *ast.List, depth int, out *[]block) {
	var tasks []task
	for it := l.FirstChild(); it != nil; it = it.NextSibling() {
		if box := taskBox(it); box {
			tasks = append(tasks, task{text: s.itemText(it), line: s.lineOf(it)})
			continue
		}
		b := block{kind: bItem, line: s.lineOf(it), ordered: l.IsOrdered(), depth: depth}
		var nested []*ast.List
		var texts []string
		for c := it.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Paragraph, *ast.TextBlock:
				texts = append(texts, s.inline(c))
				b.spans = append(b.spans, s.spans(c)...)
			case *ast.FencedCodeBlock:
				b.code = append(b.code, s.code(c, string(c.Language(s.src))))
			case *ast.CodeBlock:
				b.code = append(b.code, s.code(c, ""))
			case *ast.List:
				nested = append(nested, c)
			}
		}
		b.text = strings.Join(texts, " ")
		*out = append(*out, b)
		for _, nl := range nested {
			s.list(nl, depth+1, out)
		}
	}
	if len(tasks) > 0 {
		*out = append(*out, block{kind: bTasks, line: tasks[0].line, tasks: tasks})
	}
}

func taskBox(it ast.Node) bool {
	c := it.FirstChild()
	if c == nil {
		return false
	}
	_, ok := c.FirstChild().(*extast.TaskCheckBox)
	return ok
}

func (s *scanner) itemText(it ast.Node) string {
	var parts []string
	for c := it.FirstChild(); c != nil; c = c.NextSibling() {
		switch c.(type) {
		case *ast.Paragraph, *ast.TextBlock:
			parts = append(parts, s.inline(c))
		}
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

func (s *scanner) table(t *extast.Table) block {
	b := block{kind: bTable, line: s.lineOf(t)}
	for r := t.FirstChild(); r != nil; r = r.NextSibling() {
		var row []string
		for c := r.FirstChild(); c != nil; c = c.NextSibling() {
			row = append(row, s.inline(c))
		}
		b.rows = append(b.rows, row)
	}
	return b
}

// inline renders the inline content of n as plain text: emphasis dropped,
// code spans kept in backquotes, soft line breaks as spaces.
func (s *scanner) inline(n ast.Node) string {
	var b strings.Builder
	var walk func(n ast.Node)
	walk = func(n ast.Node) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Text:
				b.WriteString(unescape(c.Segment.Value(s.src)))
				if c.SoftLineBreak() || c.HardLineBreak() {
					b.WriteByte(' ')
				}
			case *ast.String:
				b.Write(c.Value)
			case *ast.CodeSpan:
				b.WriteByte('`')
				b.WriteString(s.codeSpan(c))
				b.WriteByte('`')
			case *ast.AutoLink:
				b.Write(c.URL(s.src))
			case *ast.RawHTML, *extast.TaskCheckBox:
			default:
				walk(c)
			}
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

func (s *scanner) codeSpan(c *ast.CodeSpan) string {
	var b strings.Builder
	for t := c.FirstChild(); t != nil; t = t.NextSibling() {
		switch t := t.(type) {
		case *ast.Text:
			b.Write(t.Segment.Value(s.src))
		case *ast.String:
			b.Write(t.Value)
		}
	}
	return b.String()
}

// spans returns the code spans of n's inline content.
func (s *scanner) spans(n ast.Node) []string {
	var out []string
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if cs, ok := c.(*ast.CodeSpan); ok && entering {
			out = append(out, s.codeSpan(cs))
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return out
}

// lineOf returns the 1-based line of n's first text.
func (s *scanner) lineOf(n ast.Node) int {
	found := 0
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering || found > 0 {
			return ast.WalkStop, nil
		}
		if c.Type() == ast.TypeBlock {
			if l := c.Lines(); l != nil && l.Len() > 0 {
				found = s.lines.line(l.At(0).Start)
				return ast.WalkStop, nil
			}
		}
		if t, ok := c.(*ast.Text); ok {
			found = s.lines.line(t.Segment.Start)
			return ast.WalkStop, nil
		}
		return ast.WalkContinue, nil
	})
	if found == 0 {
		if p := n.PreviousSibling(); p != nil {
			return s.lineOf(p)
		}
		if p := n.Parent(); p != nil && p.Type() != ast.TypeDocument {
			return s.lineOf(p)
		}
		return 1
	}
	return found
}

// unescape removes the backslashes of Markdown's escaped punctuation.
func unescape(v []byte) string {
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v)
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", v[i+1]) >= 0 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
