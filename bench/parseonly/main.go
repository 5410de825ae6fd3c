// Command parseonly is the anchor of the HCL front end's whole-process
// benchmarks: it reads one file and parses it with hclsyntax.ParseConfig,
// once, on one goroutine, and does nothing else. It exits 1 if the parser
// reports anything.
//
//	go build -o /tmp/parseonly ./bench/parseonly && /tmp/parseonly FILE.hcl
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: parseonly FILE.hcl")
		os.Exit(2)
	}
	src, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f, diags := hclsyntax.ParseConfig(src, os.Args[1], hcl.InitialPos)
	if diags.HasErrors() {
		fmt.Fprintln(os.Stderr, diags.Error())
		os.Exit(1)
	}
	fmt.Println(len(f.Body.(*hclsyntax.Body).Blocks), "top-level blocks")
}
