#!/bin/sh
# One shard of a crash sweep, for a CI matrix or a Kubernetes Indexed Job (docs/scale-out.md):
#   tools/sweep-shard.sh SCENARIO COUNT OUTDIR [scenario flags...]
# The shard comes from SHARD_INDEX (1-based, a CI matrix value) or JOB_COMPLETION_INDEX (0-based, set
# by Kubernetes in each pod of an Indexed Job); it writes OUTDIR/shard-<i>-of-<n>.json for
# `npx cardsim merge`. Exit codes are the scenario command's (1: this shard found a mismatch).
set -eu
[ $# -ge 3 ] || { echo "usage: tools/sweep-shard.sh SCENARIO COUNT OUTDIR [flags...]" >&2; exit 2; }
scenario=$1 count=$2 out=$3
shift 3
if [ -n "${SHARD_INDEX:-}" ]; then index=$SHARD_INDEX
elif [ -n "${JOB_COMPLETION_INDEX:-}" ]; then index=$((JOB_COMPLETION_INDEX + 1))
else echo "tools/sweep-shard.sh: set SHARD_INDEX (1..$count) or JOB_COMPLETION_INDEX (0..$((count - 1)))" >&2; exit 2
fi
mkdir -p "$out"
here=$(dirname "$0")
exec node "$here/../bin/cardsim.mjs" scenario "$scenario" --shard "$index/$count" --json \
  --out "$out/shard-$index-of-$count.json" "$@" >/dev/null
