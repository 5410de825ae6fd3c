// Command startup times whole processes: it runs each command given on the
// command line once per repetition, in the same order (interleaved, so
// that a change of machine load touches every command alike), and prints a
// Markdown table of medians: wall time, CPU time (user + system, from the
// child's rusage, so microseconds rather than /usr/bin/time's 10 ms) and
// minor page faults, each also as a multiple of the first command's.
//
//	go run ./bench/startup -reps 30 'trivial=bin/trivial' 'version=bin/handrail version'
//
// Each argument is NAME=COMMAND; COMMAND is split at spaces. Output of the
// commands is discarded; a command that fails stops the run.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type sample struct {
	wall, cpu time.Duration
	faults    int64
}

type command struct {
	name    string
	argv    []string
	samples []sample
}

func main() {
	reps := flag.Int("reps", 30, "repetitions of every command")
	flag.Parse()
	var cmds []*command
	for _, a := range flag.Args() {
		name, line, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(line) == "" {
			fmt.Fprintf(os.Stderr, "startup: %q is not NAME=COMMAND\n", a)
			os.Exit(2)
		}
		cmds = append(cmds, &command{name: name, argv: strings.Fields(line)})
	}
	if len(cmds) == 0 {
		fmt.Fprintln(os.Stderr, "usage: startup [-reps N] NAME=COMMAND...")
		os.Exit(2)
	}
	for range *reps {
		for _, c := range cmds {
			s, err := runOnce(c.argv)
			if err != nil {
				fmt.Fprintf(os.Stderr, "startup: %s: %v\n", c.name, err)
				os.Exit(1)
			}
			c.samples = append(c.samples, s)
		}
	}
	report(os.Stdout, cmds)
}

// runOnce runs argv to completion and returns what it cost.
func runOnce(argv []string) (sample, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, err
	}
	wall := time.Since(start)
	ps := cmd.ProcessState
	return sample{wall: wall, cpu: ps.UserTime() + ps.SystemTime(), faults: minorFaults(ps)}, nil
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func report(w io.Writer, cmds []*command) {
	type med struct {
		wall, cpu time.Duration
		faults    int64
	}
	meds := make([]med, len(cmds))
	for i, c := range cmds {
		var walls, cpus []time.Duration
		var faults []int64
		for _, s := range c.samples {
			walls, cpus, faults = append(walls, s.wall), append(cpus, s.cpu), append(faults, s.faults)
		}
		meds[i] = med{median(walls), median(cpus), median(faults)}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	ratio := func(a, b time.Duration) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }
	fmt.Fprintf(w, "| command | reps | wall (median) | CPU (median) | minor faults | wall / %s | CPU / %s |\n", cmds[0].name, cmds[0].name)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
	for i, c := range cmds {
		m := meds[i]
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %s | %s |\n", c.name, len(c.samples), ms(m.wall), ms(m.cpu), m.faults,
			ratio(m.wall, meds[0].wall), ratio(m.cpu, meds[0].cpu))
	}
}
