package hcl

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// chunkSource is a large runbook-like source; extra is inserted after the
// middle step.
func chunkSource(n int, extra string) []byte {
	var sb strings.Builder
	sb.WriteString("runbook \"gen\" {}\n\nprovider \"demo\" \"main\" {}\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "step \"demo_exec\" \"s%d\" {\n  command = [\"deploy\", \"é${i}\"]\n  timeout = \"1m\"\n  rollback \"demo_exec\" {\n    command = [\"undo\", self.stdout]\n  }\n}\n\n", i)
		if i == n/2 {
			sb.WriteString(extra)
		}
	}
	return []byte(sb.String())
}

func TestParseChunksSameAsOneParse(t *testing.T) {
	tests := []struct {
		name   string
		extra  string
		chunks int
		joined bool
	}{
		{name: "two", chunks: 2, joined: true},
		{name: "three", chunks: 3, joined: true},
		{name: "crlf attribute", extra: "x = 1\r\n\r\n", chunks: 2, joined: true},
		{name: "heredoc across the cut", extra: "locals {\n  doc = <<EOT\n" + strings.Repeat("}\nstep \"a\" \"b\" {\n", 3000) + "EOT\n}\n\n", chunks: 2},
		{name: "comment across the cut", extra: "/*\n" + strings.Repeat("}\nstep \"a\" \"b\" {\n", 3000) + "*/\n\n", chunks: 2},
		{name: "attribute twice", extra: "x = 1\n\n", chunks: 2},
		{name: "syntax error", extra: "step {{\n}\n\n", chunks: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := chunkSource(2000*tt.chunks, tt.extra)
			if tt.name == "attribute twice" {
				src = append(src, "x = 2\n"...)
			}
			if strings.Contains(tt.name, "across the cut") {
				// The cut must fall inside the heredoc or comment for the
				// case to test anything.
				start := strings.Index(string(src), tt.extra)
				cuts := chunkCuts(src, tt.chunks)
				if len(cuts) != 1 || cuts[0] <= start || cuts[0] >= start+len(tt.extra) {
					t.Fatalf("cuts %v not inside [%d, %d)", cuts, start, start+len(tt.extra))
				}
			}
			one, diags := hclsyntax.ParseConfig(src, "gen.hcl", hhcl.InitialPos)
			got, ok := parseChunks(src, "gen.hcl", tt.chunks)
			if ok != tt.joined {
				t.Fatalf("joined = %v, want %v (one parse: %v)", ok, tt.joined, diags)
			}
			if !ok {
				return
			}
			if diags.HasErrors() {
				t.Fatalf("one parse failed: %v", diags)
			}
			if !reflect.DeepEqual(one, got) {
				t.Fatal("chunked parse differs from one parse")
			}
			if got.Nav.(interface{ ContextString(int) string }).ContextString(len(src)-20) != one.Nav.(interface{ ContextString(int) string }).ContextString(len(src)-20) {
				t.Fatal("navigation differs")
			}
		})
	}
}
