#!/usr/bin/env bash
# Regenerates the seed inputs of the frame fuzzers from fuzz/seeds.jsonl (one frame per line).
# Usage: fuzz/make_seeds.sh path/to/stella-gw
set -euo pipefail
gw=${1:?usage: make_seeds.sh path/to/stella-gw}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus/frame_decode" "$here/corpus/frame_incremental" "$here/corpus/frame_roundtrip"
n=0
all=""
while IFS= read -r line; do
  n=$((n + 1))
  printf '%s\n' "$line" | "$gw" frame encode > "$here/corpus/frame_decode/seed-$n"
  # incremental: two bytes of piece sizes, then the stream (this frame twice)
  { printf '\x03\x00\x07'; cat "$here/corpus/frame_decode/seed-$n" "$here/corpus/frame_decode/seed-$n"; } \
    > "$here/corpus/frame_incremental/seed-$n"
  all+="$line"$'\n'
done < "$here/seeds.jsonl"
printf '%s' "$all" | "$gw" frame encode > "$here/corpus/frame_decode/all-frames"
{ printf '\x01\x00\x01'; cat "$here/corpus/frame_decode/all-frames"; } > "$here/corpus/frame_incremental/all-frames-bytewise"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$here/corpus/frame_decode/http-request"
printf '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' > "$here/corpus/frame_decode/tls-client-hello"
# roundtrip: the builder reads numbers and strings from the front; any bytes make a frame.
for t in 0 1 2 3 4 5 6 7 8 9; do
  head -c 600 /dev/zero | tr '\0' "\\$(printf '%03o' $((t * 7 + 65)))" > "$here/corpus/frame_roundtrip/type-$t"
done
