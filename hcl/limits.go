package hcl

import (
	"fmt"
	"os"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxNesting is the deepest nesting of brackets, braces, parentheses,
// quotes and template interpolations a runbook, var file or -var value may
// have. HCL's parser is recursive: a file of a few hundred thousand "["
// would overflow the stack and crash the process. Real runbooks nest a few
// levels; deeper input is refused with a diagnostic at the first opener
// too deep.
const MaxNesting = 256

// MaxSourceBytes is the size of the largest runbook or var file read
// (64 MiB): beyond it the file is refused before parsing.
const MaxSourceBytes = 64 << 20

// readSource reads a runbook or var file, refusing one larger than
// MaxSourceBytes before reading it.
func readSource(path string) ([]byte, error) {
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() > MaxSourceBytes {
		return nil, fmt.Errorf("%s has %d bytes; Handrail reads files of at most %d MiB (File too large). Split it, or give large data through a file() call", path, st.Size(), MaxSourceBytes>>20)
	}
	return os.ReadFile(path)
}

// checkSource reports a source that is too large or nested too deeply to
// parse safely; nil when it may be parsed. start is the position of src's
// first byte.
func checkSource(src []byte, path string, start hhcl.Pos) hhcl.Diagnostics {
	if len(src) > MaxSourceBytes {
		return hhcl.Diagnostics{{
			Severity: hhcl.DiagError,
			Summary:  "File too large",
			Detail:   fmt.Sprintf("%s has %d bytes; Handrail reads files of at most %d MiB. Split it, or give large data through a file() call.", path, len(src), MaxSourceBytes>>20),
			Subject:  &hhcl.Range{Filename: path, Start: start, End: start},
		}}
	}
	// The depth cannot exceed the number of opening characters: count them
	// first, and lex only when that bound is over the limit.
	if countOpeners(src) <= MaxNesting {
		return nil
	}
	tokens, _ := hclsyntax.LexConfig(src, path, start)
	depth := 0
	for _, t := range tokens {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			depth++
			if depth > MaxNesting {
				r := t.Range
				return hhcl.Diagnostics{{
					Severity: hhcl.DiagError,
					Summary:  "Nested too deeply",
					Detail:   fmt.Sprintf("This is nested more than %d levels deep (brackets, braces, parentheses, strings and interpolations): Handrail refuses deeper input, which could exhaust the parser's stack. Flatten the expression.", MaxNesting),
					Subject:  &r,
				}}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			depth--
		}
	}
	return nil
}
