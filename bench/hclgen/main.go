// Command hclgen writes a realistic generated runbook for the HCL front
// end's benchmarks: N ssh_exec steps, each with a rollback, a reference to a
// variable and (from the second step on) a reference to the previous step's
// output, spread over three hosts and written as `handrail fmt` writes them.
//
// Layouts: -phases 0 puts every step at the top level (flat); -phases 1 puts
// them all inside one phase block; -phases K splits them over K phases.
//
//	go run ./bench/hclgen -steps 10000 > /tmp/flat-10k.hcl
//	go run ./bench/hclgen -steps 10000 -phases 1 > /tmp/phase-10k.hcl
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	steps := flag.Int("steps", 10000, "number of steps")
	phases := flag.Int("phases", 0, "0: steps at the top level; K: steps spread over K phase blocks")
	flag.Parse()
	if *steps < 1 || *phases < 0 || *phases > *steps || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: hclgen [-steps N] [-phases K] (N >= 1, 0 <= K <= N)")
		os.Exit(2)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	if err := write(w, *steps, *phases); err != nil {
		fmt.Fprintln(os.Stderr, "hclgen:", err)
		os.Exit(1)
	}
}

// hosts are the provider instances steps cycle through, with the variable
// each one's commands refer to.
var hosts = [...]struct{ name, cmd, undo, arg string }{
	{"app", "deploy", "undeploy", "var.release"},
	{"db", "migrate", "migrate-down", "var.schema_version"},
	{"lb", "drain", "undrain", "var.lb_pool"},
}

// write writes the runbook of n steps spread over k phases (0: no phase).
func write(w *bufio.Writer, n, k int) error {
	fmt.Fprintf(w, `runbook "bench-%d" {
  description = "Generated: %d ssh_exec steps, each with a rollback, a variable reference and a reference to the previous step"
  window      = "%dm"
}

variable "release" {
  type    = string
  default = "0.3.0"
}

variable "schema_version" {
  type    = number
  default = 14
}

variable "lb_pool" {
  type    = string
  default = "blue"
}

variable "ssh_user" {
  type    = string
  default = "deploy"
}
`, n, n, n/2+60)
	for _, h := range hosts {
		fmt.Fprintf(w, `
provider "ssh" %q {
  host = "%s.internal"
  user = var.ssh_user
}
`, h.name, h.name)
	}
	indent := ""
	perPhase := n
	if k > 0 {
		indent = "  "
		perPhase = (n + k - 1) / k
	}
	for i := range n {
		if k > 0 && i%perPhase == 0 {
			if i > 0 {
				w.WriteString("}\n")
			}
			fmt.Fprintf(w, "\nphase \"p%d\" {", i/perPhase)
		}
		writeStep(w, indent, i)
	}
	if k > 0 {
		w.WriteString("}\n")
	}
	return w.Flush()
}

func writeStep(w io.Writer, in string, i int) {
	h := hosts[i%len(hosts)]
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s# Step %d on %s.\n", in, i, h.name)
	fmt.Fprintf(&b, "%sstep \"ssh_exec\" \"s%05d\" {\n", in, i)
	fmt.Fprintf(&b, "%s  provider = ssh.%s\n", in, h.name)
	if i == 0 {
		fmt.Fprintf(&b, "%s  command  = [%q, %s, \"%d\"]\n", in, h.cmd, h.arg, i)
	} else {
		fmt.Fprintf(&b, "%s  command  = [%q, %s, \"%d\", step.s%05d.stdout]\n", in, h.cmd, h.arg, i, i-1)
	}
	fmt.Fprintf(&b, "%s  budget   = \"30s\"\n", in)
	fmt.Fprintf(&b, "%s  timeout  = \"1m\"\n\n", in)
	fmt.Fprintf(&b, "%s  rollback \"ssh_exec\" {\n", in)
	fmt.Fprintf(&b, "%s    provider = ssh.%s\n", in, h.name)
	fmt.Fprintf(&b, "%s    command  = [%q, %s, \"%d\"]\n", in, h.undo, h.arg, i)
	fmt.Fprintf(&b, "%s  }\n%s}\n", in, in)
	io.WriteString(w, b.String())
}
