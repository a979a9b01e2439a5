#!/usr/bin/env bash
# Sets up the machine, builds stella-gw (release) and shows it working: the wire protocol
# round trip a service and the gateway speak (a HELLO registering an endpoint, a REQUEST routed
# to it, the RESPONSE), encoded to bytes and decoded back by `stella-gw frame`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target stella-gw
gw=build/release/cli/stella-gw

echo
"$gw" version
echo "== three frames, as JSON:"
cat examples/frames.jsonl
echo "== encoded to bytes (hex):"
"$gw" frame encode --json examples/frames.jsonl --hex
echo "== decoded back (text form):"
"$gw" frame encode --json examples/frames.jsonl | "$gw" frame decode --text
echo
echo "stella-gw is built at $gw; try: $gw --help"
