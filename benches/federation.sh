#!/usr/bin/env bash
# Federation side by side: a 1 GiB original fetched by alice through A from B, the same file
# straight from B's local API, and nginx serving it; over HTTPS and over plain HTTP (envelope
# only). Also paging through 1620 shared photos through A vs a local listing on B.
# Loopback only; run benches/run.sh first (it makes the library and the 1 GiB file).
#
#   benches/federation.sh          → benches/out/federation.md
#   PI=1 benches/federation.sh     → benches/out/federation-pi.md: the Pi-class view, each
#                                    daemon pinned to one core (taskset) and TLS on every hop
#                                    forced to ChaCha20-Poly1305, as on a CPU without AES
#   SB=path/to/shoebox ...         → measure that binary instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$PWD/benches/out
[ -s "$OUT/biglib/motion.jpg" ] || { echo "run benches/run.sh first"; exit 1; }
if [ -z "${SB:-}" ]; then
  cargo build --release --quiet
  SB=$PWD/target/release/shoebox
fi
PI=${PI:-0}
W=$OUT/fed
PIN_A=(); PIN_B=(); CURL_TLS=(); REPORT=$OUT/federation.md
if [ "$PI" = 1 ]; then
  # Core 0 for A, core 1 for B (curl and nginx float); no AES for either daemon's TLS.
  PIN_A=(taskset -c 0); PIN_B=(taskset -c 1)
  export SHOEBOX_TLS_NO_AES=1
  CURL_TLS=(--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 --tls-max 1.3 --tlsv1.3)
  REPORT=$OUT/federation-pi.md
fi
rm -rf "$W"; mkdir -p "$W/alice"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -f "$W/nginx.pid" ] && kill "$(cat "$W/nginx.pid")" 2>/dev/null || true; }
trap cleanup EXIT

start() { # name port extra...
  local name=$1 port=$2 pin=(); shift 2
  case $name in a) pin=("${PIN_A[@]}");; b|bplain) pin=("${PIN_B[@]}");; esac
  "${pin[@]}" "$SB" --data-dir "$W/$name" serve --listen 127.0.0.1:$port --no-mdns --rescan-interval 86400 "$@" > "$W/$name.out" 2> "$W/$name.log" &
  PIDS+=($!)
  until grep -q "listening on" "$W/$name.out" 2>/dev/null; do sleep 0.1; done
}
pid_of() { echo "${PIDS[$1]}"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
pair() { # a_dir a_user b_dir b_user b_addr
  local c id code bid cc
  c=$("$SB" --data-dir "$W/$1" connect --as "$2" "$4@$5" --json)
  id=$(echo "$c" | json "d['id']"); code=$(echo "$c" | json "d['code']")
  bid=$("$SB" --data-dir "$W/$3" requests --json | json "[r for r in d if r['direction']=='incoming'][0]['id']")
  cc=$("$SB" --data-dir "$W/$3" approve "$bid" --code "$code" --json | json "d['confirm_code']")
  "$SB" --data-dir "$W/$1" approve "$id" --code "$cc" > /dev/null
}
rss_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }

start a 18443; start b 18444; start bplain 18445 --no-tls
ALICE=$("$SB" --data-dir "$W/a" user add alice --library "$W/alice" | tail -1)
BOB=$("$SB" --data-dir "$W/b" user add bob --library "$OUT/biglib" | tail -1)
LIB=$("$SB" --data-dir "$W/b" user add lib --library "$OUT/lib" | tail -1)
BOBP=$("$SB" --data-dir "$W/bplain" user add bob --library "$OUT/biglib" | tail -1)
"$SB" --data-dir "$W/b" scan > /dev/null; "$SB" --data-dir "$W/bplain" scan > /dev/null
pair a alice b bob 127.0.0.1:18444
pair a alice b lib 127.0.0.1:18444
pair a alice bplain bob 127.0.0.1:18445
BIG=$("$SB" --data-dir "$W/b" photos --as bob --json | json "d[0]['id']")
BIGP=$("$SB" --data-dir "$W/bplain" photos --as bob --json | json "d[0]['id']")
"$SB" --data-dir "$W/b" share --from bob --with alice@127.0.0.1:18443 --photo "$BIG" > /dev/null
"$SB" --data-dir "$W/b" share --from lib --with alice@127.0.0.1:18443 big > /dev/null
"$SB" --data-dir "$W/b" share --from lib --with alice@127.0.0.1:18443 small > /dev/null
"$SB" --data-dir "$W/bplain" share --from bob --with alice@127.0.0.1:18443 --photo "$BIGP" > /dev/null

cat > "$W/nginx.conf" <<NGX
worker_processes 1;
pid $W/nginx.pid;
error_log $W/nginx.err;
events { worker_connections 64; }
http {
  access_log off; sendfile on;
  ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:18446 ssl; ssl_certificate $W/b/tls/cert.pem; ssl_certificate_key $W/b/tls/key.pem; root $OUT; }
  server { listen 127.0.0.1:18447; root $OUT; }
}
NGX
nginx -c "$W/nginx.conf"; sleep 0.3

speed() { curl -sk "${CURL_TLS[@]}" -o /dev/null -w '%{speed_download}' "$@"; }
# CPU seconds (user + system) a process has used so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
sum() { python3 -c "import sys; print(sum(float(x) for x in sys.argv[1:]))" "$@"; }
GIB_FILE=$(stat -c %s "$OUT/biglib/motion.jpg")
mb() { python3 -c "print(f'{float(\"$1\")/1e6:.0f}')"; }
ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}')"; }

# Federated, with RSS of both instances sampled while it streams.
touch "$W/sampling"
( ma=0; mb_=0; while [ -f "$W/sampling" ]; do a=$(rss_kb "$(pid_of 0)"); b=$(rss_kb "$(pid_of 1)"); [ "$a" -gt "$ma" ] && ma=$a; [ "$b" -gt "$mb_" ] && mb_=$b; sleep 0.05; done; echo "$ma $mb_" > "$W/rss" ) &
A_IDLE=$(rss_kb "$(pid_of 0)"); B_IDLE=$(rss_kb "$(pid_of 1)")
C0=$(sum "$(cpu_s "$(pid_of 0)")" "$(cpu_s "$(pid_of 1)")")
FED=$(speed -H "Authorization: Bearer $ALICE" "https://127.0.0.1:18443/api/photos/$BIG?owner=bob@127.0.0.1:18444")
C1=$(sum "$(cpu_s "$(pid_of 0)")" "$(cpu_s "$(pid_of 1)")")
rm -f "$W/sampling"; sleep 0.2
read -r A_PEAK B_PEAK < "$W/rss"
D0=$(cpu_s "$(pid_of 1)")
DIRECT=$(speed -H "Authorization: Bearer $BOB" "https://127.0.0.1:18444/api/photos/$BIG")
D1=$(cpu_s "$(pid_of 1)")
# CPU seconds per GiB: A and B summed for the federated fetch, B alone for the direct one.
FED_CPU=$(python3 -c "print(f'{($C1-$C0)/($GIB_FILE/2**30):.2f}')")
DIRECT_CPU=$(python3 -c "print(f'{($D1-$D0)/($GIB_FILE/2**30):.2f}')")
NGINX=$(speed "https://127.0.0.1:18446/biglib/motion.jpg")
FEDP=$(speed -H "Authorization: Bearer $ALICE" "https://127.0.0.1:18443/api/photos/$BIGP?owner=bob@127.0.0.1:18445")
DIRECTP=$(speed -H "Authorization: Bearer $BOBP" "http://127.0.0.1:18445/api/photos/$BIGP")
NGINXP=$(speed "http://127.0.0.1:18447/biglib/motion.jpg")

# Paging through the shared library through A vs B's own listing, 100 per page.
page_through() { # url token
  local cursor="" pages=0 t0 t1
  t0=$(date +%s.%N)
  while :; do
    local r; r=$(curl -sk -H "Authorization: Bearer $2" "$1&limit=100${cursor:+&cursor=$cursor}")
    pages=$((pages+1))
    cursor=$(echo "$r" | json "d['next_cursor'] or ''")
    [ -z "$cursor" ] && break
  done
  t1=$(date +%s.%N)
  python3 -c "print(f'{($t1-$t0)/$pages*1000:.1f} ms/page over $pages pages')"
}
FEDLIST=$(page_through "https://127.0.0.1:18443/api/photos?owner=lib@127.0.0.1:18444" "$ALICE")
LOCALLIST=$(page_through "https://127.0.0.1:18444/api/photos?owner=lib" "$LIB")

cat > "$REPORT" <<MD
# Federation — $(date -u +%F), $(nproc) cores, loopback$([ "$PI" = 1 ] && echo ", Pi-class: A on core 0, B on core 1, TLS ChaCha20-Poly1305")

| 1 GiB original | MB/s | vs direct | vs nginx |
|---|---|---|---|
| HTTPS: alice through A from B (pinned TLS + envelope + STREAM) | $(mb "$FED") | $(ratio "$FED" "$DIRECT") | $(ratio "$FED" "$NGINX") |
| HTTPS: bob straight from B's local API | $(mb "$DIRECT") | 1.00 | $(ratio "$DIRECT" "$NGINX") |
| HTTPS: nginx, same file, same cert | $(mb "$NGINX") | | 1.00 |
| plain HTTP: alice through A from B (envelope + STREAM only) | $(mb "$FEDP") | $(ratio "$FEDP" "$DIRECTP") | $(ratio "$FEDP" "$NGINXP") |
| plain HTTP: bob straight from B | $(mb "$DIRECTP") | 1.00 | $(ratio "$DIRECTP" "$NGINXP") |
| plain HTTP: nginx (sendfile) | $(mb "$NGINXP") | | 1.00 |

| CPU seconds per GiB | A + B | B direct | ratio |
|---|---|---|---|
| HTTPS, 1 GiB original (user + system, from /proc) | $FED_CPU | $DIRECT_CPU | $(ratio "$FED_CPU" "$DIRECT_CPU") |

RssAnon while the federated 1 GiB streamed: A $A_IDLE → peak $A_PEAK KiB, B $B_IDLE → peak $B_PEAK KiB.

Paging through $(find "$OUT/lib" -name "*.jpg" | wc -l) shared photos (two album shares) through A: $FEDLIST; the owner's own listing on B: $LOCALLIST.

The federated path seals every byte on B and opens it on A (ChaCha20-Poly1305, STREAM) on top of TLS on both hops: \`cargo bench --bench handshake\` prints the in-memory STREAM throughput per core.
MD
cat "$REPORT"
