#!/usr/bin/env bash
# initgc.sh — how often a garbage collection begins while the package
# initialisers run: starts BINARY ARGS... N times (N=100 by default) with
# GODEBUG=gctrace=1,inittrace=1 and counts the runs whose first GC cycle
# started before `init main` (gctrace prints a cycle when it ends, with the
# time it began), and prints what the initialisers allocated.
#
#   N=100 bench/startup/initgc.sh /tmp/handrail version
set -euo pipefail
n=${N:-100}
during=0
after=0
for _ in $(seq "$n"); do
	r=$(GODEBUG=gctrace=1,inittrace=1 "$@" 2>&1 >/dev/null | awk '
		/^init main @/ { sub("ms", "", $3); main = substr($3, 2) / 1000 }
		/^gc 1 @/ { sub("s", "", $3); gc = substr($3, 2) }
		END { if (gc == "") print "none"; else if (gc + 0 < main + 0) print "during"; else print "after" }')
	case $r in
	during) during=$((during + 1)) ;;
	after) after=$((after + 1)) ;;
	esac
done
alloc=$(GODEBUG=inittrace=1 "$@" 2>&1 >/dev/null | awk '/^init / {n++; b+=$8; a+=$10} END {printf "%d initialisers, %.2f MiB, %d allocations", n, b/1048576, a}')
echo "$*: $alloc; first GC began during init in $during of $n runs, after it in $after"
