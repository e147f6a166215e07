#!/usr/bin/env bash
# The thumbnail row of issue 14 alone, for A/B runs: first thumbnails (256 px, cache empty) of
# the big 12 MP JPEGs of benches/mklib.py, one request at a time over HTTPS, against
# `VIPS_CONCURRENCY=1 vipsthumbnail -s 256` on the same files in one process, in alternating
# rounds so that every figure has its anchor seconds away (the box is shared and noisy).
#
#   SB=path/to/shoebox [SB_BASE=path/to/other/shoebox] [PI=1] benches/thumbs.sh [N_BIG] [ROUNDS]
#
# PI=1 pins the daemon and vipsthumbnail to core 0 (curl on core 1) and forces ChaCha20 for TLS.
# Needs vipsthumbnail, curl, python3 with numpy, pillow, piexif (benches/mklib.py).
set -euo pipefail
cd "$(dirname "$0")/.."
N_BIG=${1:-40}
ROUNDS=${2:-3}
PI=${PI:-0}
PIN=(); CURL_PIN=(); CURL_TLS=()
if [ "$PI" = 1 ]; then
  PIN=(taskset -c 0); CURL_PIN=(taskset -c 1)
  export SHOEBOX_TLS_NO_AES=1
  CURL_TLS=(--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 --tlsv1.3)
fi
OUT=$PWD/benches/out/thumbs
LIB=$OUT/lib
mkdir -p "$OUT"
if [ -z "${SB:-}" ]; then
  cargo build --release --quiet
  SB=$PWD/target/release/shoebox
fi
python3 benches/mklib.py "$LIB" "$N_BIG" 0 2 | tail -1
now() { date +%s.%N; }

PIDS=()
cleanup() { for p in ${PIDS[@]+"${PIDS[@]}"}; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME BINARY PORT: a daemon with its own data dir, the library indexed, the thumbnails
# made ahead finished (so that nothing else runs while the cold requests are timed).
start() {
  local data=$OUT/data-$1
  rm -rf "$data"
  ${PIN[@]+"${PIN[@]}"} "$2" --data-dir "$data" serve --listen 127.0.0.1:"$3" --no-mdns \
    --rescan-interval 86400 > "$OUT/serve-$1.out" 2> "$OUT/serve-$1.log" &
  PIDS+=($!)
  until grep -q "listening on" "$OUT/serve-$1.out" 2>/dev/null; do sleep 0.1; done
  "$2" --data-dir "$data" user add bench --library "$LIB" | tail -1 > "$OUT/token-$1"
  "$2" --data-dir "$data" scan --user bench > /dev/null
  "$2" --data-dir "$data" photos --as bench --json | python3 -c "
import json,sys
print('\n'.join(p['id'] for p in json.load(sys.stdin) if p['path'].startswith('big/')))" > "$OUT/ids-$1"
  local last=-1 n
  while :; do
    sleep 3
    n=$(find "$data/thumbs" -type f 2>/dev/null | wc -l)
    [ "$n" = "$last" ] && break
    last=$n
  done
}

# cold NAME PORT: seconds for one cold thumbnail of every big photo, one request at a time.
cold() {
  local data=$OUT/data-$1
  rm -rf "$data/thumbs"/*
  local t0 t1
  t0=$(now)
  ${CURL_PIN[@]+"${CURL_PIN[@]}"} xargs -P1 -I{} curl -skf ${CURL_TLS[@]+"${CURL_TLS[@]}"} -o /dev/null \
    -H "Authorization: Bearer $(cat "$OUT/token-$1")" "https://127.0.0.1:$2/api/photos/{}/thumbnail" < "$OUT/ids-$1"
  t1=$(now)
  python3 -c "print($t1-$t0)"
}

vips() {
  rm -rf "$OUT/vips"; mkdir -p "$OUT/vips"
  find "$LIB/big" -name '*.jpg' | sort > "$OUT/paths"
  local t0 t1
  t0=$(now)
  VIPS_CONCURRENCY=1 ${PIN[@]+"${PIN[@]}"} xargs -a "$OUT/paths" -n 1000 vipsthumbnail -s 256 -o "$OUT/vips/%s.jpg"
  t1=$(now)
  python3 -c "print($t1-$t0)"
}

start new "$SB" 17543
[ -n "${SB_BASE:-}" ] && start base "$SB_BASE" 17544
N=$(wc -l < "$OUT/ids-new")
echo "round | shoebox photos/s | vips photos/s | ratio${SB_BASE:+ | base photos/s | base ratio}"
for r in $(seq "$ROUNDS"); do
  V=$(vips); S=$(cold new 17543)
  line="$r | $(python3 -c "print(f'{$N/$S:.2f}')") | $(python3 -c "print(f'{$N/$V:.2f}')") | $(python3 -c "print(f'{$V/$S:.2f}')")"
  if [ -n "${SB_BASE:-}" ]; then
    B=$(cold base 17544)
    line="$line | $(python3 -c "print(f'{$N/$B:.2f}')") | $(python3 -c "print(f'{$V/$B:.2f}')")"
  fi
  echo "$line"
done
