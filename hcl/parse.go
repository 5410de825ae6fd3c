package hcl

import (
	"runtime"
	"sync"
	"sync/atomic"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parseConfig is hclsyntax.ParseConfig(src, path, hhcl.InitialPos) after
// checkSource, in less time and memory for large sources.
//
// HCL's parser first lexes the whole source into one slice of tokens
// (about 30 bytes of tokens per byte of source), grown by copying: on a
// runbook of a few megabytes most of the parse is spent copying that slice
// and faulting in fresh pages for it, and the depth check of checkSource
// lexes the whole source once more. So the source is cut between blocks
// into pieces of a few kilobytes (see pieceCuts), parsed on every
// processor, and joined into one body: the same tree, ranges and
// navigation as one parse gives. A piece holding at most MaxNesting
// opening characters cannot nest deeper than MaxNesting, so it needs no
// depth check; a larger one (one huge block) is lexed and checked alone.
// Whenever a piece reports anything, is too deep, or the pieces cannot be
// joined exactly (an argument set in two of them), the whole source is
// checked and parsed at once instead, so that diagnostics are always those
// of a single parse.
func parseConfig(src []byte, path string) (*hhcl.File, hhcl.Diagnostics) {
	if len(src) <= MaxSourceBytes {
		if f, ok := parsePieces(src, path, pieceCuts(src), runtime.GOMAXPROCS(0)); ok {
			return f, nil
		}
	}
	if d := checkSource(src, path, hhcl.InitialPos); d.HasErrors() {
		return &hhcl.File{Bytes: src, Body: hhcl.EmptyBody()}, d
	}
	return hclsyntax.ParseConfig(src, path, hhcl.InitialPos)
}

// cut is a place where the source is cut: the newline ending a line that
// holds only the closing brace of a block, at nesting depth 0 (the line is
// "}": the end of a top-level block) or 1 (the line is "  }", the end of a
// block inside a top-level block such as a phase), followed by the start of
// another item at the same depth.
type cut struct {
	pos   int // offset of the newline
	line  int // its line
	col   int // its column
	depth int // 0 or 1
}

// wrapOpen and wrapClose turn a piece that starts or ends inside a
// top-level block into a parseable source: the piece is parsed as the body
// of a block "x" (wrapOpen stands just before the cut's newline, so that
// everything after that newline keeps its real position), and a piece
// ending inside a block gets the missing closing brace.
const (
	wrapOpen  = "x{"
	wrapClose = "\n}\n"
)

// pieceOpeners is the most opening characters (those checkSource counts) a
// piece should hold: at most MaxNesting, the piece cannot nest deeper.
const pieceOpeners = MaxNesting

// pieceCuts returns the cuts that divide src into pieces of at most
// pieceOpeners opening characters where the cuts allow it, in order.
//
// A cut is found by the shape of the lines around it, as `handrail fmt`
// writes them (two spaces an indentation level); a cut that falls inside a
// heredoc, a comment or an expression makes a piece fail to parse (its
// braces no longer balance once wrapped), and the caller then parses the
// whole source at once.
func pieceCuts(src []byte) []cut {
	var cuts []cut
	var cand cut
	haveCand := false
	openers, candOpeners := 0, 0 // since the last cut; up to cand
	line, lineStart := 1, 0
	for i, b := range src {
		switch b {
		case '[', '{', '(', '"', '<':
			openers++
		case '\n':
			l := src[lineStart:i]
			if (len(l) == 1 || len(l) == 3 && l[0] == ' ' && l[1] == ' ') && l[len(l)-1] == '}' && itemFollows(src, i+1, len(l)-1) {
				if openers+len(wrapOpen) > pieceOpeners && haveCand {
					cuts = append(cuts, cand)
					openers -= candOpeners
				}
				cand = cut{pos: i, line: line, col: i - lineStart + 1, depth: (len(l) - 1) / 2}
				candOpeners, haveCand = openers, true
			}
			line++
			lineStart = i + 1
		}
	}
	return cuts
}

// itemFollows reports whether, from offset j on, blank lines are followed
// by a line of indent spaces then a letter (a block or an argument) or '#'
// (a comment).
func itemFollows(src []byte, j, indent int) bool {
	for j < len(src) && (src[j] == '\n' || src[j] == '\r' && j+1 < len(src) && src[j+1] == '\n') {
		j++
	}
	for range indent {
		if j >= len(src) || src[j] != ' ' {
			return false
		}
		j++
	}
	if j >= len(src) {
		return false
	}
	c := src[j]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '#'
}

// piece is one parsed piece.
type piece struct {
	start, end cut // start.depth and end.depth: 0 at the ends of src
	file       *hhcl.File
}

// parsePieces parses src cut at cuts, on up to workers goroutines, and
// joins the pieces; ok is false when the result would not be exactly that
// of a single parse (then nothing of it is used).
func parsePieces(src []byte, path string, cuts []cut, workers int) (*hhcl.File, bool) {
	if len(cuts) == 0 {
		return nil, false
	}
	pieces := make([]piece, len(cuts)+1)
	for i := range pieces {
		if i > 0 {
			pieces[i].start = cuts[i-1]
		}
		if i < len(cuts) {
			pieces[i].end = cuts[i]
		} else {
			pieces[i].end = cut{pos: len(src)}
		}
	}
	var next atomic.Int64
	var failed atomic.Bool
	work := func() {
		for !failed.Load() {
			i := int(next.Add(1)) - 1
			if i >= len(pieces) {
				return
			}
			if !parsePiece(src, path, &pieces[i]) {
				failed.Store(true)
			}
		}
	}
	var wg sync.WaitGroup
	for range min(workers, len(pieces)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
	if failed.Load() {
		return nil, false
	}
	return joinPieces(src, pieces)
}

// parsePiece parses one piece, wrapped as its cuts require; it reports
// false if the piece is nested too deeply or the parser reports anything.
func parsePiece(src []byte, path string, p *piece) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	from := 0
	startPos := hhcl.InitialPos
	if p.start != (cut{}) {
		from = p.start.pos
		startPos = hhcl.Pos{Line: p.start.line, Column: p.start.col, Byte: p.start.pos}
	}
	body := src[from:p.end.pos]
	if p.start.depth == 1 || p.end.depth == 1 {
		buf := make([]byte, 0, len(wrapOpen)+len(body)+len(wrapClose))
		if p.start.depth == 1 {
			// Only the wrapper's own tokens sit on the cut's line, so its
			// column shift shows nowhere; the byte shift is what joinPieces
			// checks (TestParsePiecesRangesMatchText fails without it).
			buf = append(buf, wrapOpen...)
			startPos.Column -= len(wrapOpen)
			startPos.Byte -= len(wrapOpen)
		}
		buf = append(buf, body...)
		if p.end.depth == 1 {
			buf = append(buf, wrapClose...)
		}
		body = buf
	}
	if countOpeners(body) > pieceOpeners && checkSource(body, path, startPos).HasErrors() {
		return false
	}
	f, d := hclsyntax.ParseConfig(body, path, startPos)
	if len(d) > 0 {
		return false
	}
	p.file = f
	return true
}

// joinPieces joins parsed pieces into the first one's file: top-level
// items are appended to its body, and the items of a piece that starts
// inside a block (the body of its wrapper block) to that block, which the
// wrapper's closing brace then closes.
func joinPieces(src []byte, pieces []piece) (*hhcl.File, bool) {
	file := pieces[0].file
	top, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil, false
	}
	n := len(top.Blocks)
	for _, p := range pieces[1:] {
		if b, ok := p.file.Body.(*hclsyntax.Body); ok {
			n += len(b.Blocks)
		}
	}
	top.Blocks = append(make(hclsyntax.Blocks, 0, n), top.Blocks...)
	var open *hclsyntax.Block // the block the current piece ends inside
	if pieces[0].end.depth == 1 {
		if len(top.Blocks) == 0 {
			return nil, false
		}
		open = top.Blocks[len(top.Blocks)-1]
	}
	for _, p := range pieces[1:] {
		b, ok := p.file.Body.(*hclsyntax.Body)
		if !ok {
			return nil, false
		}
		blocks := b.Blocks
		if p.start.depth == 1 {
			if open == nil || len(blocks) == 0 || blocks[0].Type != "x" || blocks[0].TypeRange.Start.Byte != p.start.pos-len(wrapOpen) {
				return nil, false
			}
			w := blocks[0]
			if !mergeBody(open.Body, w.Body) {
				return nil, false
			}
			open.CloseBraceRange = w.CloseBraceRange
			blocks = blocks[1:]
		}
		if !mergeBody(top, &hclsyntax.Body{Attributes: b.Attributes, Blocks: blocks, SrcRange: b.SrcRange, EndRange: b.EndRange}) {
			return nil, false
		}
		switch {
		case p.end.depth == 0:
			open = nil
		case len(blocks) > 0:
			open = blocks[len(blocks)-1]
		case p.start.depth == 0:
			return nil, false
		}
	}
	file.Bytes = src
	return file, true
}

// mergeBody appends from's items to into, which then ends where from ends;
// false if an argument is set in both ("Attribute redefined": let one parse
// say it).
func mergeBody(into, from *hclsyntax.Body) bool {
	for name, a := range from.Attributes {
		if _, dup := into.Attributes[name]; dup {
			return false
		}
		into.Attributes[name] = a
	}
	into.Blocks = append(into.Blocks, from.Blocks...)
	into.SrcRange.End = from.SrcRange.End
	into.EndRange = from.EndRange
	return true
}

// countOpeners counts the characters that may open a nesting level (see
// checkSource).
func countOpeners(src []byte) int {
	n := 0
	for _, b := range src {
		switch b {
		case '[', '{', '(', '"', '<':
			n++
		}
	}
	return n
}
