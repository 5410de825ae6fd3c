#!/usr/bin/env bash
# run.sh — whole-process cost of the HCL front end and of the CLI's start,
# each against its anchor in the same run. Every repetition runs every
# command once, in the same order (interleaved), under /usr/bin/time; the
# tables give medians of wall time, CPU time (user + sys) and peak RSS.
#
#   bench/hcl/run.sh                       # from anywhere; REPS=7 by default
#   REPS=11 SIZES="1000 10000 50000" bench/hcl/run.sh
#   STARTUP_REPS=40 bench/hcl/run.sh       # the start-up table only needs more
#   COMPARE="main=/tmp/hr-main" bench/hcl/run.sh   # before/after, interleaved
#
# COMPARE names other handrail binaries (NAME=PATH, space-separated, built
# with the same `go build`): each adds NAME-validate-LAYOUT-N rows, run in
# the same repetitions, right after this tree's validate of the same file.
#
# Runbooks come from bench/hclgen (ssh_exec steps, each with a rollback, a
# variable reference and a reference to the previous step), in two layouts:
# flat (steps at the top level) and one-phase (every step inside one phase).
# Anchors: bench/parseonly (hclsyntax.ParseConfig of the same file, one call)
# and bench/trivial (a Go program printing one line).
#
# The layout table divides, within each repetition, a one-phase run by the
# flat run of the same command and size (they ran seconds apart), and gives
# the median of those ratios: on a shared machine, whose load drifts over
# minutes, that pairs better than a ratio of medians. The parser alone's
# ratio is the anchor: what the one-phase file (larger: its steps are
# indented) costs HCL's own parser.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
reps=${REPS:-7}
startup_reps=${STARTUP_REPS:-30}
sizes=${SIZES:-1000 10000 50000}
work=$(mktemp -d /tmp/handrail-bench-hcl.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/handrail" ./cmd/handrail
go build -o "$work/parseonly" ./bench/parseonly
go build -o "$work/hclgen" ./bench/hclgen
go build -o "$work/trivial" ./bench/trivial
for n in $sizes; do
	"$work/hclgen" -steps "$n" >"$work/flat-$n.hcl"
	"$work/hclgen" -steps "$n" -phases 1 >"$work/phase-$n.hcl"
done

# measure FILE REPS NAME COMMAND... (as pairs in the arrays below): each
# repetition appends "name wall_s cpu_s maxrss_kb" lines to FILE.
run_set() {
	local out=$1 n=$2
	shift 2
	local -a names=() cmds=()
	while [ $# -gt 0 ]; do
		names+=("$1")
		cmds+=("$2")
		shift 2
	done
	for _ in $(seq "$n"); do
		for i in "${!names[@]}"; do
			# shellcheck disable=SC2086
			/usr/bin/time -o "$work/t" -f '%e %U %S %M' ${cmds[$i]} >/dev/null 2>"$work/err" || {
				echo "FAILED: ${cmds[$i]}: $(head -c 300 "$work/err")" >&2
				exit 1
			}
			read -r wall user sys rss <"$work/t"
			echo "${names[$i]} $wall $(echo "$user + $sys" | bc) $rss" >>"$out"
		done
	done
}

# table FILE: medians per name, in first-seen order.
table() {
	awk '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	!($1 in w) { order[++k] = $1 }
	{ w[$1] = w[$1] " " $2; c[$1] = c[$1] " " $3; r[$1] = r[$1] " " $4; cnt[$1]++ }
	END {
		printf "| %-22s | %4s | %10s | %10s | %9s |\n", "command", "reps", "wall (med)", "CPU (med)", "max RSS"
		printf "|%s|%s|%s|%s|%s|\n", "------------------------", "-----:", "-----------:", "-----------:", "----------:"
		for (i = 1; i <= k; i++) {
			n = order[i]
			printf "| %-22s | %4d | %8.3f s | %8.3f s | %6.0f MB |\n", n, cnt[n], median(w[n]), median(c[n]), median(r[n]) / 1024
		}
	}' "$1"
}

echo "# HCL front end and CLI start — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $sizes; do
	echo "# $n steps: flat $(wc -c <"$work/flat-$n.hcl") bytes, one-phase $(wc -c <"$work/phase-$n.hcl") bytes"
done

args=()
for n in $sizes; do
	for layout in flat phase; do
		args+=("parse-$layout-$n" "$work/parseonly $work/$layout-$n.hcl"
			"validate-$layout-$n" "$work/handrail validate $work/$layout-$n.hcl")
		for c in ${COMPARE:-}; do
			args+=("${c%%=*}-validate-$layout-$n" "${c#*=} validate $work/$layout-$n.hcl")
		done
	done
done
run_set "$work/front.txt" "$reps" "${args[@]}"
echo "# load after the front-end runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Front end ($reps interleaved repetitions)"
echo
table "$work/front.txt"

# layouts FILE: per size and command, the median over repetitions of the
# one-phase/flat ratio of wall and CPU time (the i-th run of one against
# the i-th of the other).
layouts() {
	awk '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	$1 ~ /-flat-[0-9]+$/ { k = $1; sub(/-flat-/, "-", k); fw[k, ++nf[k]] = $2; fc[k, nf[k]] = $3; if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
	$1 ~ /-phase-[0-9]+$/ { k = $1; sub(/-phase-/, "-", k); pw[k, ++np[k]] = $2; pc[k, np[k]] = $3 }
	END {
		printf "| %-26s | %4s | %16s | %16s |\n", "command-steps", "reps", "phase/flat wall", "phase/flat CPU"
		printf "|%s|%s|%s|%s|\n", "----------------------------", "-----:", "-----------------:", "-----------------:"
		for (i = 1; i <= m; i++) {
			k = order[i]; w = ""; c = ""; n = 0
			for (r = 1; r <= nf[k] && r <= np[k]; r++) {
				if (fw[k, r] > 0) w = w " " pw[k, r] / fw[k, r]
				if (fc[k, r] > 0) c = c " " pc[k, r] / fc[k, r]
				n++
			}
			printf "| %-26s | %4d | %15.3f× | %15.3f× |\n", k, n, median(w), median(c)
		}
	}' "$1"
}
echo
echo "## Layouts: one phase against flat (median of the per-repetition ratios)"
echo
layouts "$work/front.txt"

run_set "$work/start.txt" "$startup_reps" \
	"trivial-go" "$work/trivial" \
	"version" "$work/handrail version" \
	"validate-release-2" "$work/handrail validate examples/release-2/release-2.hcl"
echo
echo "## Start ($startup_reps interleaved repetitions; load after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
table "$work/start.txt"
if [ -n "${KEEP:-}" ]; then
	cp "$work/front.txt" "$work/start.txt" "$KEEP"/
fi
