// Command trivial is the startup anchor of the CLI benchmarks: a Go program
// that prints one line and exits, so that `handrail version` can be compared
// with the cost of starting any Go process on the same machine.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stdout, "trivial 0")
}
