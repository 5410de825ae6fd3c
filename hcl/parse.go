package hcl

import (
	"bytes"
	"runtime"
	"sync"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the smallest source parsed in chunks; chunks are at
// least this size too. Below it one parse is as fast.
const parallelParseMin = 128 << 10

// parseConfig is hclsyntax.ParseConfig(src, path, hhcl.InitialPos). Large
// sources, with more than one processor, are cut between top-level blocks
// and the pieces parsed at the same time, then joined into one body (the
// same tree, ranges and navigation as one parse gives). Whenever a piece
// reports anything, or the pieces cannot be joined exactly (an argument
// set in two of them), the whole source is parsed at once instead, so that
// diagnostics are always those of a single parse.
func parseConfig(src []byte, path string) (*hhcl.File, hhcl.Diagnostics) {
	if f, ok := parseChunks(src, path, min(runtime.GOMAXPROCS(0), len(src)/parallelParseMin)); ok {
		return f, nil
	}
	return hclsyntax.ParseConfig(src, path, hhcl.InitialPos)
}

// parseChunks parses src in up to n pieces concurrently; ok is false when
// the result would not be exactly that of a single parse.
func parseChunks(src []byte, path string, n int) (*hhcl.File, bool) {
	cuts := chunkCuts(src, n)
	if len(cuts) == 0 {
		return nil, false
	}
	bounds := append(append([]int{0}, cuts...), len(src))
	files := make([]*hhcl.File, len(bounds)-1)
	failed := make([]bool, len(files))
	var wg sync.WaitGroup
	for i := range files {
		start := hhcl.Pos{Line: 1 + bytes.Count(src[:bounds[i]], []byte{'\n'}), Column: 1, Byte: bounds[i]}
		wg.Go(func() {
			defer func() {
				if recover() != nil {
					failed[i] = true
				}
			}()
			f, d := hclsyntax.ParseConfig(src[bounds[i]:bounds[i+1]], path, start)
			files[i], failed[i] = f, len(d) > 0
		})
	}
	wg.Wait()
	for _, bad := range failed {
		if bad {
			return nil, false
		}
	}
	// The first piece's body becomes the whole body: its file's navigation
	// (the "in step ..." context of diagnostics) points at it.
	file := files[0]
	body, ok := file.Body.(*hclsyntax.Body)
	if !ok {
		return nil, false
	}
	for _, f := range files[1:] {
		b, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return nil, false
		}
		for name, a := range b.Attributes {
			if _, dup := body.Attributes[name]; dup {
				return nil, false // "Attribute redefined": let one parse say it
			}
			body.Attributes[name] = a
		}
		body.Blocks = append(body.Blocks, b.Blocks...)
		body.SrcRange.End = b.SrcRange.End
		body.EndRange = b.EndRange
	}
	file.Bytes = src
	return file, true
}

// chunkCuts returns up to n-1 offsets that cut src into pieces of similar
// size, each cut just after a line "}" and before a line starting with a
// letter (the end of a top-level block and the start of the next, in any
// runbook written as hclfmt writes it). A cut inside a heredoc or comment
// is possible in theory; the piece before it then fails to parse and the
// caller parses the whole source.
func chunkCuts(src []byte, n int) []int {
	var cuts []int
	prev := 0
	for i := 1; i < n; i++ {
		cut := nextBlockStart(src, max(prev, len(src)*i/n))
		if cut < 0 {
			break
		}
		if cut-prev < parallelParseMin || len(src)-cut < parallelParseMin {
			continue
		}
		cuts = append(cuts, cut)
		prev = cut
	}
	return cuts
}

// nextBlockStart returns the offset, from from on, of the first line that
// starts with a letter and follows a line "}" (blank lines allowed between
// them), or -1.
func nextBlockStart(src []byte, from int) int {
	for {
		i := bytes.Index(src[from:], []byte("\n}\n"))
		if i < 0 {
			return -1
		}
		j := from + i + 3
		k := j
		for k < len(src) && (src[k] == '\n' || (src[k] == '\r' && k+1 < len(src) && src[k+1] == '\n')) {
			k++
		}
		if k < len(src) && (src[k] >= 'a' && src[k] <= 'z' || src[k] >= 'A' && src[k] <= 'Z') {
			return j
		}
		from = j - 1
	}
}
