#!/usr/bin/env bash
# Side-by-side benchmarks: shoebox against the tools a user would otherwise run, on the same
# files in the same run, reported as ratios (absolute figures drift on a shared machine; ratios
# much less). Loopback only; every load is bounded in time.
#
#   benches/run.sh [N_BIG] [N_SMALL] [N_TINY]
#       default 200 big (12 MP, ~3 MB) and 2000 small photos, and a second library of 100 000
#       tiny ones (benches/mktiny.py) for the re-scan, memory and timeline rows
#   PI=1 benches/run.sh ...      the Pi-class view: shoebox and every anchor pinned to core 0,
#                                TLS forced to ChaCha20-Poly1305 (→ benches/out/results-pi.md)
#   SB=path/to/shoebox ...       measure that binary instead of building one
#
# Needs (installed when run as root): nginx, exiftool, exiv2, vipsthumbnail, b3sum, wrk, curl,
# and python3 with numpy, pillow, piexif for benches/mklib.py. Writes benches/out/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
N_BIG=${1:-200}
N_SMALL=${2:-2000}
N_TINY=${3:-100000}
TINYLIB=$PWD/benches/out/tiny
PI=${PI:-0}
PIN=(); CURL_TLS=(); WRK_PIN=(); REPORT_NAME=results.md
if [ "$PI" = 1 ]; then
  PIN=(taskset -c 0); WRK_PIN=(taskset -c 1)
  export SHOEBOX_TLS_NO_AES=1
  CURL_TLS=(--tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 --tlsv1.3)
  REPORT_NAME=results-pi.md
fi
OUT=$PWD/benches/out
LIB=$OUT/lib
BIGLIB=$OUT/biglib
DATA=$OUT/data
PORT_SB=17443
PORT_NGX=17444
DUR=${BENCH_SECONDS:-8}
mkdir -p "$OUT"

need() { command -v "$1" >/dev/null 2>&1; }
if [ "$(id -u)" = 0 ] && ! (need nginx && need exiftool && need exiv2 && need vipsthumbnail && need wrk && need b3sum); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libimage-exiftool-perl exiv2 libvips-tools wrk curl b3sum >/dev/null
fi
python3 -c "import numpy, PIL, piexif" 2>/dev/null || pip install -q numpy pillow piexif

if [ -z "${SB:-}" ]; then
  cargo build --release --quiet
  SB=$PWD/target/release/shoebox
fi

echo "== making the library ($N_BIG big, $N_SMALL small; resumable)"
python3 benches/mklib.py "$LIB" "$N_BIG" "$N_SMALL" 2 | tail -1
python3 benches/mktiny.py "$TINYLIB" "$N_TINY" | tail -1
if [ ! -s "$BIGLIB/motion.jpg" ]; then
  # A phone "motion photo": a real JPEG followed by 1 GiB of trailing data.
  mkdir -p "$BIGLIB"
  { cat "$(find "$LIB/big" -name '*.jpg' | sort | head -1)"; head -c 1073741824 /dev/urandom; } > "$BIGLIB/motion.jpg"
fi
N_FILES=$(find "$LIB" -name '*.jpg' | wc -l)

rss_anon_kb() { awk '/^RssAnon/ {print $2}' "/proc/$1/status"; }
# Waits (at most $2 s) until the daemon's thumbnails-ahead thread has used no CPU for 3 s in a
# row; prints the seconds waited, or "timeout".
wait_ahead_idle() {
  local tid="" t last=-1 cpu still=0 waited=0
  for t in /proc/"$1"/task/*; do [ "$(cat "$t/comm")" = thumbs-ahead ] && tid=${t##*/}; done
  [ -n "$tid" ] || { echo 0; return; }
  while [ "$waited" -lt "$2" ]; do
    cpu=$(awk '{print $14+$15}' "/proc/$1/task/$tid/stat")
    if [ "$cpu" = "$last" ]; then still=$((still+1)); [ "$still" -ge 3 ] && { echo "$waited"; return; }; else still=0; fi
    last=$cpu; sleep 1; waited=$((waited+1))
  done
  echo timeout
}
now() { date +%s.%N; }
ratio() { python3 -c "a,b=float('$1'),float('$2'); print(f'{a/b:.2f}' if b else 'n/a')"; }
rate() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.1f}')"; }

cleanup() {
  [ -n "${SB_PID:-}" ] && kill "$SB_PID" 2>/dev/null || true
  [ -f "$OUT/nginx.pid" ] && kill "$(cat "$OUT/nginx.pid")" 2>/dev/null || true
}
trap cleanup EXIT

start_sb() {
  rm -f "$OUT/serve.out"
  ${PIN[@]+"${PIN[@]}"} "$SB" --data-dir "$DATA" serve --listen 127.0.0.1:$PORT_SB --no-mdns --rescan-interval 86400 \
    > "$OUT/serve.out" 2>> "$OUT/serve.log" &
  SB_PID=$!
  until grep -q "listening on" "$OUT/serve.out" 2>/dev/null; do
    kill -0 $SB_PID 2>/dev/null || { echo "shoebox did not start:"; cat "$OUT/serve.log"; exit 1; }
    sleep 0.1
  done
  sleep 1
}
echo "== starting shoebox"
rm -rf "$DATA" "$OUT/serve.log"
start_sb
IDLE_KB=$(rss_anon_kb $SB_PID)

echo "== first full index (user add + scan)"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now)
TOKEN=$("$SB" --data-dir "$DATA" user add bench --library "$LIB" | tail -1)
"$SB" --data-dir "$DATA" scan --user bench > "$OUT/scan1.txt"
t1=$(now)
INDEX_S=$(python3 -c "print($t1-$t0)")
INDEXED_KB=$(rss_anon_kb $SB_PID)

echo "== exiftool -fast and exiv2 on the same tags (warm cache)"
t0=$(now)
exiftool -fast -q -r -T -DateTimeOriginal -OffsetTimeOriginal -Orientation -ImageWidth -ImageHeight "$LIB" > /dev/null
t1=$(now)
EXIFTOOL_S=$(python3 -c "print($t1-$t0)")
t0=$(now)
find "$LIB" -name '*.jpg' -print0 | xargs -0 -n 500 exiv2 -q -P v -K Exif.Photo.DateTimeOriginal -K Exif.Image.Orientation -K Exif.Photo.OffsetTimeOriginal > /dev/null 2>&1 || true
t1=$(now)
EXIV2_S=$(python3 -c "print($t1-$t0)")
echo "== b3sum over the same files, as many threads as shoebox's scan (one per core), cache dropped as for the index"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t0=$(now)
find "$LIB" -name '*.jpg' -print0 | ${PIN[@]+"${PIN[@]}"} xargs -0 -n 100 -P "$(nproc)" b3sum --num-threads 1 > /dev/null
t1=$(now)
B3_S=$(python3 -c "print($t1-$t0)")

echo "== re-scan of the unchanged library vs find -printf"
t0=$(now); "$SB" --data-dir "$DATA" scan --user bench > "$OUT/scan2.txt"; t1=$(now)
RESCAN_S=$(python3 -c "print($t1-$t0)")
t0=$(now); find "$LIB" -printf '%s %T@ %p\n' > /dev/null; t1=$(now)
FIND_S=$(python3 -c "print($t1-$t0)")

BIG_TOKEN=$("$SB" --data-dir "$DATA" user add big --library "$BIGLIB" | tail -1)
"$SB" --data-dir "$DATA" scan --user big > /dev/null
BIG_ID=$("$SB" --data-dir "$DATA" photos --as big --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")
PHOTO_JSON=$("$SB" --data-dir "$DATA" photos --as bench --json)
ID3=$(echo "$PHOTO_JSON" | python3 -c "import json,sys; print([p for p in json.load(sys.stdin) if p['path'].startswith('big/')][0]['id'])")
PATH3=$(echo "$PHOTO_JSON" | python3 -c "import json,sys; print([p for p in json.load(sys.stdin) if p['path'].startswith('big/')][0]['path'])")

echo "== nginx with the same certificate"
cat > "$OUT/nginx.conf" <<NGX
worker_processes 2;
pid $OUT/nginx.pid;
error_log $OUT/nginx.err;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on; tcp_nopush on;
  types { image/jpeg jpg; application/json json; }
  server {
    listen 127.0.0.1:$PORT_NGX ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $DATA/tls/cert.pem;
    ssl_certificate_key $DATA/tls/key.pem;
    root $OUT;
  }
}
NGX
nginx -c "$OUT/nginx.conf"
sleep 0.5
curl -sk -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:$PORT_SB/api/photos?limit=50" > "$OUT/listing.json"

AUTH="Authorization: Bearer $TOKEN"
SBURL=https://127.0.0.1:$PORT_SB
NGURL=https://127.0.0.1:$PORT_NGX

echo "== single-stream 1 GiB original"
max_rss() { local m=0 v; while kill -0 "$1" 2>/dev/null && [ -f "$2" ]; do v=$(rss_anon_kb "$1"); [ "$v" -gt "$m" ] && m=$v; sleep 0.05; done; echo "$m"; }
touch "$OUT/sampling"
max_rss $SB_PID "$OUT/sampling" > "$OUT/stream_rss.txt" &
SAMPLER=$!
SB_BPS=$(curl -sk -H "Authorization: Bearer $BIG_TOKEN" -o /dev/null -w '%{speed_download}' "$SBURL/api/photos/$BIG_ID")
rm -f "$OUT/sampling"; wait $SAMPLER || true
STREAM_KB=$(cat "$OUT/stream_rss.txt")
NG_BPS=$(curl -sk -o /dev/null -w '%{speed_download}' "$NGURL/biglib/motion.jpg")

wrk_rps() { wrk -t2 -c"$1" -d"${DUR}s" "${@:2}" 2>/dev/null | awk '/Requests\/sec/ {print $2}'; }
echo "== 3 MB photo, 8 and 64 connections"
SB8=$(wrk_rps 8 -H "$AUTH" "$SBURL/api/photos/$ID3")
NG8=$(wrk_rps 8 "$NGURL/lib/$PATH3")
SB64=$(wrk_rps 64 -H "$AUTH" "$SBURL/api/photos/$ID3")
NG64=$(wrk_rps 64 "$NGURL/lib/$PATH3")
echo "== JSON listing, 8 connections"
SBJ=$(wrk_rps 8 -H "$AUTH" "$SBURL/api/photos?limit=50")
NGJ=$(wrk_rps 8 "$NGURL/listing.json")
echo "== unaligned 64 KiB ranges, 8 connections"
SBR=$(wrk_rps 8 -H "$AUTH" -H "Range: bytes=12345-77880" "$SBURL/api/photos/$ID3")
NGR=$(wrk_rps 8 -H "Range: bytes=12345-77880" "$NGURL/lib/$PATH3")

echo "== thumbnails of 40 big photos, one request at a time (cold cache) vs VIPS_CONCURRENCY=1 vipsthumbnail, one process"
echo "$PHOTO_JSON" | python3 -c "import json,sys; [print(p['id'], p['path']) for p in json.load(sys.stdin) if p['path'].startswith('big/')][:0]" > /dev/null
echo "$PHOTO_JSON" | python3 -c "
import json,sys
big=[p for p in json.load(sys.stdin) if p['path'].startswith('big/')][:40]
open('$OUT/thumb_ids','w').write('\n'.join(p['id'] for p in big)+'\n')
open('$OUT/thumb_paths','w').write('\n'.join('$LIB/'+p['path'] for p in big)+'\n')"
N_THUMBS=$(wc -l < "$OUT/thumb_ids")
rm -rf "$DATA/thumbs"/*
t0=$(now)
xargs -P1 -I{} curl -sk ${CURL_TLS[@]+"${CURL_TLS[@]}"} -o /dev/null -H "$AUTH" "$SBURL/api/photos/{}/thumbnail" < "$OUT/thumb_ids"
t1=$(now)
SBT_S=$(python3 -c "print($t1-$t0)")
mkdir -p "$OUT/vips"
t0=$(now)
# One process for all files, as a gallery tool would run it.
VIPS_CONCURRENCY=1 ${PIN[@]+"${PIN[@]}"} xargs -a "$OUT/thumb_paths" -n 1000 vipsthumbnail -s 256 -o "$OUT/vips/%s.jpg"
t1=$(now)
VT_S=$(python3 -c "print($t1-$t0)")

echo "== $N_TINY tiny photos: first index (RssAnon sampled), re-scan vs find, timeline, browsing"
# A fresh daemon (same data dir), so its memory is that of 100 000 photos, not of the loads above.
kill "$SB_PID"; wait "$SB_PID" 2>/dev/null || true
start_sb
touch "$OUT/sampling"
( t00=$(now); while [ -f "$OUT/sampling" ]; do echo "$(python3 -c "print(f'{$(now)-$t00:.1f}')") $(rss_anon_kb $SB_PID)"; sleep 0.5; done > "$OUT/rss_index.txt" ) &
SAMPLER=$!
t0=$(now)
TINY_TOKEN=$("$SB" --data-dir "$DATA" user add tiny --library "$TINYLIB" | tail -1)
"$SB" --data-dir "$DATA" scan --user tiny > "$OUT/scan_tiny1.txt"
t1=$(now)
rm -f "$OUT/sampling"; wait $SAMPLER || true
TINY_INDEX_S=$(python3 -c "print($t1-$t0)")
N_TINY_FILES=$(find "$TINYLIB" -name '*.jpg' | wc -l)
RSS_CURVE=$(python3 -c "
rows=[l.split() for l in open('$OUT/rss_index.txt') if len(l.split())==2]
step=max(1,len(rows)//6)
pts=rows[::step]+([rows[-1]] if rows and rows[-1] not in rows[::step] else [])
print(', '.join(f'{t} s: {int(k)//1024} MiB' for t,k in pts), f'(peak {max(int(k) for _,k in rows)//1024} MiB)' if rows else '')")
t0=$(now); "$SB" --data-dir "$DATA" scan --user tiny > "$OUT/scan_tiny2.txt"; t1=$(now)
TINY_RESCAN_S=$(python3 -c "print($t1-$t0)")
t0=$(now); find "$TINYLIB" -printf '%s %T@ %p\n' > /dev/null; t1=$(now)
TINY_FIND_S=$(python3 -c "print($t1-$t0)")
LMDB_MIB=$(find "$DATA" -name data.mdb -exec du -k {} + | awk '{s+=$1} END {printf "%.0f", s/1024}')
# Timeline pages of 100 by cursor: time from request sent to first byte (loopback, one
# keep-alive-free request each), and the cursors for the browsing load below.
TAUTH="Authorization: Bearer $TINY_TOKEN"
python3 - "$SBURL" "$TINY_TOKEN" "$OUT" <<'PY' > "$OUT/timeline_ms.txt"
import json, subprocess, sys, statistics
url, token, out = sys.argv[1:]
cursor, times, paths = None, [], []
for page in range(300):
    path = "/api/photos?limit=100" + (f"&cursor={cursor}" if cursor else "")
    paths.append(path)
    r = subprocess.run(["curl", "-sk", "-H", f"Authorization: Bearer {token}", "-w", "\n%{time_pretransfer} %{time_starttransfer}", url + path], capture_output=True, text=True).stdout
    body, t = r.rsplit("\n", 1)
    pre, first = map(float, t.split())
    times.append((first - pre) * 1000)
    cursor = json.loads(body).get("next_cursor")
    if not cursor:
        break
with open(f"{out}/browse.lua", "w") as f:
    f.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
    f.write("i = 0\nrequest = function() i = i % #paths + 1; return wrk.format('GET', paths[i]) end\n")
print(f"{statistics.median(times):.2f} {max(times):.2f} {len(times)}")
PY
read -r TL_MED TL_MAX TL_PAGES < "$OUT/timeline_ms.txt"
AHEAD_WAIT=$(wait_ahead_idle $SB_PID "${AHEAD_WAIT_MAX:-900}")
TINY_IDLE_KB=$(rss_anon_kb $SB_PID)
touch "$OUT/sampling"
max_rss $SB_PID "$OUT/sampling" > "$OUT/browse_rss.txt" &
SAMPLER=$!
BROWSE_RPS=$(${WRK_PIN[@]+"${WRK_PIN[@]}"} wrk -t2 -c8 -d"${DUR}s" -H "$TAUTH" -s "$OUT/browse.lua" "$SBURL" 2>/dev/null | awk '/Requests\/sec/ {print $2}')
rm -f "$OUT/sampling"; wait $SAMPLER || true
TINY_BROWSE_KB=$(cat "$OUT/browse_rss.txt")

cat > "$OUT/$REPORT_NAME" <<MD
# shoebox benchmarks — $(date -u +%F) on $(nproc) cores, $N_FILES photos ($N_BIG big, $N_SMALL small)

| what | shoebox | anchor | ratio (shoebox / anchor) |
|---|---|---|---|
| single-stream 1 GiB original, HTTPS (MB/s) | $(rate "$SB_BPS" 1e6) | nginx $(rate "$NG_BPS" 1e6) | $(ratio "$SB_BPS" "$NG_BPS") |
| 3 MB photo, 8 connections (req/s) | $SB8 | nginx $NG8 | $(ratio "$SB8" "$NG8") |
| 3 MB photo, 64 connections (req/s) | $SB64 | nginx $NG64 | $(ratio "$SB64" "$NG64") |
| JSON listing of 50, 8 connections (req/s) | $SBJ | nginx (same JSON as a file) $NGJ | $(ratio "$SBJ" "$NGJ") |
| unaligned 64 KiB Range, 8 connections (req/s) | $SBR | nginx $NGR | $(ratio "$SBR" "$NGR") |
| first full index: EXIF + size + blake3 (photos/s) | $(rate "$N_FILES" "$INDEX_S") | exiftool -fast, metadata only $(rate "$N_FILES" "$EXIFTOOL_S") | $(ratio "$EXIFTOOL_S" "$INDEX_S") |
| first full index vs exiv2 (photos/s) | $(rate "$N_FILES" "$INDEX_S") | exiv2 $(rate "$N_FILES" "$EXIV2_S") | $(ratio "$EXIV2_S" "$INDEX_S") |
| re-scan of the unchanged library (s) | $(printf %.3f "$RESCAN_S") | find -printf $(printf %.3f "$FIND_S") | $(ratio "$FIND_S" "$RESCAN_S") |
| first full index vs b3sum, $(nproc) threads each, cold cache each (photos/s) | $(rate "$N_FILES" "$INDEX_S") | b3sum $(rate "$N_FILES" "$B3_S") | $(ratio "$B3_S" "$INDEX_S") |
| metadata-only pass vs exiv2 | anchor available, shoebox has no metadata-only pass (every index hashes) | exiv2 $(rate "$N_FILES" "$EXIV2_S") photos/s | n/a |
| first thumbnail 256 px of a 12 MP JPEG, one request at a time, cache empty (photos/s) | $(rate "$N_THUMBS" "$SBT_S") | VIPS_CONCURRENCY=1 vipsthumbnail -s 256, one process $(rate "$N_THUMBS" "$VT_S") | $(ratio "$VT_S" "$SBT_S") |
| first index of $N_TINY_FILES tiny photos (s) | $(printf %.1f "$TINY_INDEX_S") | b3sum not run (the files are ~1 KB: walk and records, not hashing) | |
| re-scan of the unchanged $N_TINY_FILES-photo library (s) | $(printf %.3f "$TINY_RESCAN_S") | find -printf $(printf %.3f "$TINY_FIND_S") | $(ratio "$TINY_FIND_S" "$TINY_RESCAN_S") |
| timeline page of 100 with $N_TINY_FILES photos, request sent → first byte over loopback HTTPS (ms) | median $TL_MED, max $TL_MAX over $TL_PAGES pages | target 20 | |
| 8 clients scrolling that timeline (req/s) | $BROWSE_RPS | | |

Memory (RssAnon of the shoebox process, LMDB map not counted): idle $IDLE_KB KiB; after indexing
$N_FILES photos $INDEXED_KB KiB; peak while streaming 1 GiB $STREAM_KB KiB.

Scan summaries: first \`$(cat "$OUT/scan1.txt")\`; re-scan \`$(cat "$OUT/scan2.txt")\`.

With $N_TINY_FILES photos indexed (RssAnon of a daemon restarted for this part, LMDB map not
counted; the thumbnails-ahead thread works through the new photos meanwhile, at nice 19): while indexing $RSS_CURVE;
idle afterwards (once the thumbnails-ahead thread had been still for 3 s: waited $AHEAD_WAIT s) $TINY_IDLE_KB KiB;
peak while 8 clients scroll the timeline $TINY_BROWSE_KB KiB.
LMDB file $LMDB_MIB MiB on disk. Scans: \`$(cat "$OUT/scan_tiny1.txt")\`; re-scan \`$(cat "$OUT/scan_tiny2.txt")\`.
MD
cat "$OUT/$REPORT_NAME"
