#!/usr/bin/env bash
# run.sh — wall time of whole `handrail validate` and `handrail plan`
# processes, with hyperfine when it is installed
# (apt-get install -y hyperfine), else a date +%s%N loop.
#
#   bench/cli/run.sh                 # from the repository root
#   RUNS=20 NICE=-15 bench/cli/run.sh
#
# Measured, in the same run:
#   anchor   handrail version                      (process start: the floor)
#   anchor   handrail validate tiny.hcl            (one approval gate: load + registry)
#   release-2 validate / plan / plan -json         (examples/release-2/release-2.hcl)
#   10k      validate / plan / plan -json          (bench/cli/gen-runbook.sh 10000)
#   release-2 apply --sandbox                      (the README's rehearsal, whole 4 h window)
# plus peak RSS and CPU time (user+sys) of one run of each, from /usr/bin/time.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
runs=${RUNS:-10}
nice_level=${NICE:-0}
work=$(mktemp -d /tmp/handrail-bench-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/handrail" ./cmd/handrail
hr="$work/handrail"
bench/cli/gen-runbook.sh 10000 >"$work/bench-10k.hcl"
cat >"$work/tiny.hcl" <<'HCL'
runbook "tiny" {
  window = "1h"
}

gate "approval" "go" {
  message = "Go?"
}
HCL
r2=examples/release-2/release-2.hcl

prio=()
if [ "$nice_level" != 0 ]; then prio=(nice -n "$nice_level"); fi

echo "# handrail CLI wall time — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(go version | cut -d' ' -f3), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# 10k runbook: $(wc -l <"$work/bench-10k.hcl") lines, $(wc -c <"$work/bench-10k.hcl") bytes"

names=() cmds=()
add() { # add NAME COMMAND...: keep the command if it succeeds once
	local name=$1
	shift
	if "$@" >/dev/null 2>"$work/err"; then
		names+=("$name")
		cmds+=("$(printf '%q ' "$@")")
	else
		echo "# SKIPPED $name: exit $? — $(head -c 300 "$work/err" | tr '\n' ' ')"
	fi
}
add "version (anchor)" "$hr" version
add "validate tiny (anchor)" "$hr" validate "$work/tiny.hcl"
add "validate release-2" "$hr" validate "$r2"
add "plan release-2" "$hr" plan "$r2"
add "plan -json release-2" "$hr" plan -json "$r2"
add "validate 10k" "$hr" validate "$work/bench-10k.hcl"
add "plan 10k" "$hr" plan "$work/bench-10k.hcl"
add "plan -json 10k" "$hr" plan -json "$work/bench-10k.hcl"
add "apply --sandbox release-2" "$hr" apply --sandbox "$r2"

echo
echo "## peak RSS and CPU of one run"
for i in "${!names[@]}"; do
	eval "${prio[*]:-} /usr/bin/time -f '%e s wall, %U s user + %S s sys, %M KB max RSS' ${cmds[$i]}" 2>"$work/time" >/dev/null || true
	printf '%-28s %s\n' "${names[$i]}" "$(tail -1 "$work/time")"
done

echo
echo "## wall time ($runs runs each)"
if command -v hyperfine >/dev/null; then
	args=()
	for i in "${!names[@]}"; do
		args+=(-n "${names[$i]}" "${prio[*]:-} ${cmds[$i]}")
	done
	hyperfine -N --warmup 1 --runs "$runs" --style basic --export-markdown "$work/table.md" "${args[@]}" 2>&1 | grep -v '^ *$' || true
	[ "${prio[*]:-}" = "" ] || true
	echo
	cat "$work/table.md"
else
	for i in "${!names[@]}"; do
		min=0 max=0 sum=0
		for _ in $(seq "$runs"); do
			s=$(date +%s%N)
			eval "${prio[*]:-} ${cmds[$i]}" >/dev/null 2>&1 || true
			e=$(date +%s%N)
			d=$(((e - s) / 1000000))
			sum=$((sum + d))
			if [ "$min" = 0 ] || [ "$d" -lt "$min" ]; then min=$d; fi
			if [ "$d" -gt "$max" ]; then max=$d; fi
		done
		printf '%-28s mean %6d ms  min %6d ms  max %6d ms\n' "${names[$i]}" $((sum / runs)) "$min" "$max"
	done
fi
