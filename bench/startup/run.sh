#!/usr/bin/env bash
# run.sh — what it costs to start the CLI, against two anchors measured in
# the same run, interleaved (bench/startup runs every command once per
# repetition, in the same order):
#
#   trivial    bench/trivial: a Go program printing one line
#   floor      bench/startfloor: the same, linking the dependencies Handrail
#              is required to use (AWS SDK config/S3/ELBv2, moby client, pgx,
#              x/crypto/ssh, HCL, go-cty), so their package initialisers run
#   version    handrail version
#   validate   handrail validate examples/release-2/release-2.hcl
#
#   bench/startup/run.sh               # REPS=30 by default
#   REPS=60 bench/startup/run.sh
#   COMPARE="before=/tmp/hr-before" bench/startup/run.sh
#                                      # also `version` of other builds of the
#                                      # CLI (NAME=BINARY, space-separated),
#                                      # interleaved with the rest
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
reps=${REPS:-30}
work=$(mktemp -d /tmp/handrail-bench-startup.XXXXXX)
trap 'rm -rf "$work"' EXIT

go build -o "$work/handrail" ./cmd/handrail
go build -o "$work/trivial" ./bench/trivial
go build -o "$work/startfloor" ./bench/startfloor
go build -o "$work/startup" ./bench/startup

echo "# CLI start — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(go version | cut -d' ' -f3), commit $(git rev-parse --short HEAD)"
echo "# load before: $(uptime | sed 's/.*load average: //')"
echo "# binaries: trivial $(stat -c %s "$work/trivial") B, floor $(stat -c %s "$work/startfloor") B, handrail $(stat -c %s "$work/handrail") B"
echo "# package initialisers (GODEBUG=inittrace=1): floor $(GODEBUG=inittrace=1 "$work/startfloor" 2>&1 >/dev/null | awk '{n++; b+=$8} END {printf "%d, %.2f MiB", n, b/1048576}'), handrail version $(GODEBUG=inittrace=1 "$work/handrail" version 2>&1 >/dev/null | awk '{n++; b+=$8} END {printf "%d, %.2f MiB", n, b/1048576}')"
echo
extra=()
for c in ${COMPARE:-}; do
	extra+=("${c%%=*}-version=${c#*=} version")
	echo "# ${c%%=*}: ${c#*=}, $(stat -c %s "${c#*=}") B, package initialisers $(GODEBUG=inittrace=1 "${c#*=}" version 2>&1 >/dev/null | awk '{n++; b+=$8} END {printf "%d, %.2f MiB", n, b/1048576}')"
done
"$work/startup" -reps "$reps" \
	"trivial=$work/trivial" \
	"floor=$work/startfloor" \
	"version=$work/handrail version" \
	"${extra[@]}" \
	"validate-release-2=$work/handrail validate examples/release-2/release-2.hcl"
echo
echo "# load after: $(uptime | sed 's/.*load average: //')"
