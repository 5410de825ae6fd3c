package hcl

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/handrail-dev/handrail/hcl/internal/testprovider"
)

// chunkSource is a large runbook-like source of n steps, written as
// `handrail fmt` writes it; with phases > 0 the steps are spread over that
// many phase blocks. extra is inserted after the middle step (inside its
// phase, if any).
func chunkSource(n, phases int, extra string) []byte {
	var sb strings.Builder
	sb.WriteString("runbook \"gen\" {}\n\nprovider \"demo\" \"main\" {}\n")
	in := ""
	per := n
	if phases > 0 {
		in = "  "
		per = (n + phases - 1) / phases
	}
	for i := 0; i < n; i++ {
		if phases > 0 && i%per == 0 {
			if i > 0 {
				sb.WriteString("}\n")
			}
			fmt.Fprintf(&sb, "\nphase \"p%d\" {\n", i/per)
		} else {
			sb.WriteString("\n")
		}
		fmt.Fprintf(&sb, "%s# Step %d: ünïcode «columns».\n", in, i)
		fmt.Fprintf(&sb, "%sstep \"demo_exec\" \"s%d\" {\n%s  command = [\"deploy\", \"é${i}\"]\n%s  timeout = \"1m\"\n\n", in, i, in, in)
		fmt.Fprintf(&sb, "%s  rollback \"demo_exec\" {\n%s    command = [\"undo\", self.stdout]\n%s  }\n%s}\n", in, in, in, in)
		if i == n/2 {
			sb.WriteString(extra)
		}
	}
	if phases > 0 {
		sb.WriteString("}\n")
	}
	return []byte(sb.String())
}

func TestParsePiecesSameAsOneParse(t *testing.T) {
	deep := "  locals {\n    x = " + strings.Repeat("[", MaxNesting+5) + strings.Repeat("]", MaxNesting+5) + "\n  }\n"
	tests := []struct {
		name   string
		steps  int
		phases int
		extra  string
		joined bool
		inside bool   // extra must straddle a cut for the case to test anything
		errAt  string // the one parse's first error is at this text of extra
	}{
		{name: "flat", steps: 600, joined: true},
		{name: "one phase", steps: 600, phases: 1, joined: true},
		{name: "seven phases", steps: 600, phases: 7, joined: true},
		{name: "argument of the phase after its steps", steps: 600, phases: 1, extra: "\n  parallel = true\n", joined: true},
		{name: "crlf blank lines", steps: 600, extra: "x = 1\r\n\r\n", joined: true},
		{name: "heredoc across cuts", steps: 600, extra: "locals {\n  doc = <<EOT\n" + strings.Repeat("}\n\nstep \"a\" \"b\" {\n", 400) + "EOT\n}\n", inside: true},
		{name: "heredoc across cuts in a phase", steps: 600, phases: 1, extra: "  locals {\n    doc = <<EOT\n" + strings.Repeat("  }\n\n  step \"a\" \"b\" {\n", 400) + "EOT\n  }\n", inside: true},
		{name: "comment across cuts", steps: 600, extra: "/*\n" + strings.Repeat("}\n\nstep \"a\" \"b\" {\n", 400) + "*/\n", inside: true},
		{name: "argument set twice", steps: 600, extra: "x = 1\n"},
		{name: "phase argument set twice", steps: 600, phases: 1, extra: "  parallel = true\n"},
		{name: "syntax error", steps: 600, extra: "step {{\n}\n", errAt: "{\n"},
		{name: "syntax error inside the phase", steps: 600, phases: 1, extra: "  step \"a\" \"b\" {\n    command = [\"x\",,]\n  }\n", errAt: ",]"},
		{name: "nested too deeply", steps: 600, phases: 1, extra: deep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := chunkSource(tt.steps, tt.phases, tt.extra)
			if strings.HasPrefix(tt.name, "argument set twice") {
				src = append(src, "x = 2\n"...)
			}
			if strings.HasPrefix(tt.name, "phase argument set twice") {
				src = []byte(strings.Replace(string(src), "phase \"p0\" {\n", "phase \"p0\" {\n  parallel = false\n", 1))
			}
			cuts := pieceCuts(src)
			if len(cuts) < 10 {
				t.Fatalf("only %d cuts", len(cuts))
			}
			depth1 := 0
			for _, c := range cuts {
				if c.depth == 1 {
					depth1++
				}
			}
			if tt.phases > 0 && depth1 < len(cuts)/2 {
				t.Fatalf("%d of %d cuts inside a phase", depth1, len(cuts))
			}
			if tt.inside {
				start := strings.Index(string(src), tt.extra)
				in := 0
				for _, c := range cuts {
					if c.pos > start && c.pos < start+len(tt.extra) {
						in++
					}
				}
				if in == 0 {
					t.Fatalf("no cut inside [%d, %d)", start, start+len(tt.extra))
				}
			}
			one, diags := hclsyntax.ParseConfig(src, "gen.hcl", hhcl.InitialPos)
			for _, workers := range []int{1, 3} {
				got, ok := parsePieces(src, "gen.hcl", cuts, workers)
				if ok != tt.joined {
					t.Fatalf("workers %d: joined = %v, want %v (one parse: %v)", workers, ok, tt.joined, diags)
				}
				if !ok {
					continue
				}
				if diags.HasErrors() {
					t.Fatalf("one parse failed: %v", diags)
				}
				if !reflect.DeepEqual(one, got) {
					t.Fatalf("workers %d: pieces differ from one parse", workers)
				}
				nav := func(f *hhcl.File, at int) string {
					return f.Nav.(interface{ ContextString(int) string }).ContextString(at)
				}
				for _, at := range []int{len(src) / 3, len(src) / 2, len(src) - 20} {
					if nav(got, at) != nav(one, at) {
						t.Fatalf("navigation at %d differs: %q, want %q", at, nav(got, at), nav(one, at))
					}
				}
			}
			// Whatever the pieces did, parseConfig gives what one parse
			// (after the depth check) gives, diagnostics included.
			f, d := parseConfig(src, "gen.hcl")
			if tt.name == "nested too deeply" {
				if len(d) != 1 || d[0].Summary != "Nested too deeply" {
					t.Fatalf("diagnostics %v, want one Nested too deeply", d)
				}
				return
			}
			if d.Error() != diags.Error() {
				t.Fatalf("diagnostics %v, want %v", d, diags)
			}
			if tt.errAt != "" {
				at := strings.Index(string(src), tt.extra) + strings.Index(tt.extra, tt.errAt)
				if len(d) == 0 || d[0].Subject == nil || d[0].Subject.Start != textPos(src, at) {
					t.Fatalf("diagnostics %v, want the first at %v", d, textPos(src, at))
				}
				if !reflect.DeepEqual(d[0].Subject, diags[0].Subject) || d[0].Summary != diags[0].Summary {
					t.Fatalf("first diagnostic at %v (%s), one parse: %v (%s)", d[0].Subject, d[0].Summary, diags[0].Subject, diags[0].Summary)
				}
			}
			if !d.HasErrors() && !reflect.DeepEqual(one, f) {
				t.Fatal("parseConfig differs from one parse")
			}
		})
	}
}

// A source without any place to cut is parsed at once.
func TestParseConfigWithoutCuts(t *testing.T) {
	src := []byte("runbook \"a\" {\n  window = \"1h\"\n}\n")
	if cuts := pieceCuts(src); len(cuts) != 0 {
		t.Fatalf("cuts %v", cuts)
	}
	one, _ := hclsyntax.ParseConfig(src, "a.hcl", hhcl.InitialPos)
	got, d := parseConfig(src, "a.hcl")
	if len(d) > 0 || !reflect.DeepEqual(one, got) {
		t.Fatalf("parseConfig = %v, %v", got, d)
	}
}

// textPos is the position of src[at] counted from the text itself: line,
// column (characters since the line's start, plus one: the sources here
// have no multi-character grapheme clusters) and byte offset.
func textPos(src []byte, at int) hhcl.Pos {
	line, lineStart := 1, 0
	for i, b := range src[:at] {
		if b == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return hhcl.Pos{Line: line, Column: utf8.RuneCount(src[lineStart:at]) + 1, Byte: at}
}

// Every block's type and every argument's name in a source parsed in
// pieces is where the text says it is: the same byte, line and column as
// counting the source's lines gives (what a broken offset fix-up of a
// wrapped piece would change, whatever a single parse says).
func TestParsePiecesRangesMatchText(t *testing.T) {
	for _, phases := range []int{0, 1, 3} {
		src := chunkSource(600, phases, "")
		f, ok := parsePieces(src, "gen.hcl", pieceCuts(src), 2)
		if !ok {
			t.Fatalf("phases %d: not joined", phases)
		}
		blocks, attrs := 0, 0
		var walk func(b *hclsyntax.Body)
		walk = func(b *hclsyntax.Body) {
			for name, a := range b.Attributes {
				attrs++
				at := a.NameRange.Start.Byte
				if !strings.HasPrefix(string(src[at:]), name) || a.NameRange.Start != textPos(src, at) {
					t.Fatalf("phases %d: argument %s at %v, the text says %v", phases, name, a.NameRange.Start, textPos(src, at))
				}
				end := a.SrcRange.End.Byte
				if a.SrcRange.End != textPos(src, end) {
					t.Fatalf("phases %d: argument %s ends at %v, the text says %v", phases, name, a.SrcRange.End, textPos(src, end))
				}
			}
			for _, blk := range b.Blocks {
				blocks++
				at := blk.TypeRange.Start.Byte
				if !strings.HasPrefix(string(src[at:]), blk.Type) || blk.TypeRange.Start != textPos(src, at) {
					t.Fatalf("phases %d: block %s %v at %v, the text says %v", phases, blk.Type, blk.Labels, blk.TypeRange.Start, textPos(src, at))
				}
				cl := blk.CloseBraceRange.Start.Byte
				if src[cl] != '}' || blk.CloseBraceRange.Start != textPos(src, cl) {
					t.Fatalf("phases %d: block %s %v closes at %v, the text says %v", phases, blk.Type, blk.Labels, blk.CloseBraceRange.Start, textPos(src, cl))
				}
				walk(blk.Body)
			}
		}
		walk(f.Body.(*hclsyntax.Body))
		if want := 2 + phases + 2*600; blocks != want || attrs != 3*600 {
			t.Fatalf("phases %d: %d blocks, %d arguments; want %d, %d", phases, blocks, attrs, want, 3*600)
		}
	}
}

// A compile error deep inside one large phase (parsed in pieces) points
// to the line and column of the offending argument, as with a flat source.
func TestLoadErrorPositionInLargePhase(t *testing.T) {
	for _, phases := range []int{0, 1} {
		src := []byte(strings.ReplaceAll(string(chunkSource(600, phases, "")), "${i}", ""))
		marker := "\"s451\" {\n"
		i := strings.Index(string(src), marker) + len(marker)
		bad := "bogus_argument = 1\n"
		if phases > 0 {
			bad = "    " + bad
		} else {
			bad = "  " + bad
		}
		src = append(src[:i:i], append([]byte(bad), src[i:]...)...)
		if _, ok := parsePieces(src, "gen.hcl", pieceCuts(src), 2); !ok {
			t.Fatalf("phases %d: not parsed in pieces", phases)
		}
		_, diags := LoadSource(context.Background(), "gen.hcl", src, Options{Registry: testprovider.NewWorld().Registry()})
		at := i + strings.Index(bad, "bogus")
		found := false
		for _, d := range diags {
			if d.Severity == hhcl.DiagError && d.Subject != nil && strings.Contains(d.Summary+d.Detail, "bogus_argument") {
				found = true
				if d.Subject.Start != textPos(src, at) {
					t.Fatalf("phases %d: %s at %v, the text says %v", phases, d.Summary, d.Subject.Start, textPos(src, at))
				}
			}
		}
		if !found {
			t.Fatalf("phases %d: no diagnostic about bogus_argument: %v", phases, diags)
		}
	}
}
