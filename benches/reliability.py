#!/usr/bin/env python3
"""Long reliability runs for issue 9, kept out of CI (minutes each, some need root).

    benches/reliability.py kill9-scan [ROUNDS=50] [PHOTOS=3000]
        kill -9 the daemon at a random moment of a scan, restart, check the index is
        consistent (every record whole, no duplicate ids), ROUNDS times; then a full scan
        must index everything and a re-scan must find all unchanged.
    benches/reliability.py kill9-ops [ROUNDS=20]
        kill -9 right after `user add`, `share`, `unshare` (a local share to a remote
        pairing is not needed: shares are checked against the store's tables), restart,
        and check that no half state is left (a share to a user that does not exist, a
        user without a token).
    benches/reliability.py soak [SECONDS=300] [CLIENTS=64]
        CLIENTS concurrent clients mix listings, originals, ranges and thumbnails while a
        scan runs in a loop; counts errors and samples the daemon's RssAnon every 5 s.
    benches/reliability.py slowpeer
        alice on A is paired with bob on B through a TCP proxy; once bob's album is browsable,
        the proxy drip-feeds B's answers (one byte per 200 ms): alice's request for bob's
        photo must end with 504 within the stated bound (10 s), while her own photos keep
        answering at once.
    benches/reliability.py diskfull          (root: mounts a 3 MiB tmpfs)
        the data dir on a tiny tmpfs: index a library bigger than the space, check the
        errors are clear, the daemon lives, the index is consistent, and that a scan
        completes once space returns.

Loopback only, always --no-mdns. Uses the newer of target/release/shoebox and
target/debug/shoebox (SHOEBOX_BIN overrides). Prints one summary line per run, to paste into notes.
"""
import json, os, random, shutil, signal, ssl, subprocess, sys, tempfile, threading, time
import http.client
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def binary():
    if os.environ.get("SHOEBOX_BIN"):
        return os.environ["SHOEBOX_BIN"]
    built = [p for p in (ROOT / "target" / k / "shoebox" for k in ("release", "debug"))
             if p.exists()]
    if not built:
        sys.exit("build shoebox first (cargo build --release)")
    return str(max(built, key=lambda p: p.stat().st_mtime))  # the newest build


SB = binary()


def jpeg(seed, w=64, h=48):
    """A small valid JPEG, different per seed (PIL if available, else a fixed tiny JPEG)."""
    try:
        from PIL import Image
        import io
        img = Image.new("RGB", (w, h), ((seed * 37) % 256, (seed * 91) % 256, 120))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=80)
        return out.getvalue()
    except ImportError:
        sys.exit("pip install pillow")


class Daemon:
    def __init__(self, data, extra=(), listen="127.0.0.1:0"):
        self.data = data
        self.proc = subprocess.Popen(
            [SB, "--data-dir", data, "serve", "--listen", listen, "--no-mdns",
             "--rescan-interval", "86400", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"daemon did not start: {line!r}")
        self.url = line.split("listening on ")[1].strip()
        self.host, port = self.url.split("//")[1].split(":")
        self.port = int(port)

    def cli(self, *args, check=True):
        out = subprocess.run([SB, "--data-dir", self.data, *args], capture_output=True, text=True)
        if check and out.returncode != 0:
            raise RuntimeError(f"shoebox {args}: {out.stderr}")
        return out

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def rss_anon_kb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("RssAnon"):
                return int(line.split()[1])
        return 0

    def conn(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(self.host, self.port, context=ctx, timeout=30)


def photos(d, user):
    return json.loads(d.cli("photos", "--as", user, "--json").stdout)


def check_consistent(listing):
    ids = [p["id"] for p in listing]
    assert len(ids) == len(set(ids)), "duplicate ids"
    for p in listing:
        assert p["width"] > 0 and p["height"] > 0 and p["size"] > 0, f"half record: {p}"


def kill9_scan(rounds=50, n=3000):
    tmp = Path(tempfile.mkdtemp())
    lib = tmp / "lib"
    for i in range(n):
        f = lib / f"d{i % 40}" / f"p{i:05}.jpg"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(jpeg(i, 640, 480))
    data = str(tmp / "data")
    d = Daemon(data)
    d.cli("user", "add", "alice", "--library", str(lib))
    # The first kill lands as soon as the first batch of the first index is committed.
    while not photos(d, "alice"):
        time.sleep(0.005)
    d.kill9()
    partials = []
    for r in range(rounds):
        if r > 0:
            time.sleep(random.uniform(0.05, 0.4))
            d.kill9()
        # Touch some files so that later scans have changed files to re-read too.
        for i in random.sample(range(n), 300):
            f = lib / f"d{i % 40}" / f"p{i:05}.jpg"
            f.write_bytes(jpeg(i + 100000 * (r + 1), 640, 480))
        d = Daemon(data)
        listing = photos(d, "alice")
        check_consistent(listing)
        partials.append(len(listing))
        threading.Thread(target=lambda dd=d: dd.cli("scan", check=False), daemon=True).start()
    d.kill9()
    d = Daemon(data)
    d.cli("scan")
    full = photos(d, "alice")
    check_consistent(full)
    again = d.cli("scan").stdout
    d.stop()
    ok = len(full) == n and f"unchanged {n}" in again
    print(f"kill9-scan: {rounds} kills during scans of {n} photos; index consistent after every "
          f"restart (photos seen after restarts: min {min(partials)}, max {max(partials)}); "
          f"final {len(full)}/{n}, re-scan unchanged: {'yes' if ok else 'NO: ' + again.strip()}")
    shutil.rmtree(tmp)
    return ok


def kill9_ops(rounds=20):
    tmp = Path(tempfile.mkdtemp())
    data = str(tmp / "data")
    d = Daemon(data)
    bad = 0
    for r in range(rounds):
        lib = tmp / f"lib{r}"
        (lib / "album").mkdir(parents=True)
        (lib / "album" / "a.jpg").write_bytes(jpeg(r))
        name = f"u{r}"
        killer = threading.Timer(random.uniform(0.0, 0.05), d.kill9)
        killer.start()
        d.cli("user", "add", name, "--library", str(lib), check=False)
        killer.join()
        if d.proc.poll() is None:
            d.kill9()
        d = Daemon(data)
        users = json.loads(d.cli("user", "list", "--json").stdout)
        for u in users:
            if u.get("is_local", True) and not u.get("library"):
                bad += 1
        shares = json.loads(d.cli("shares", "--json").stdout)
        names = {u["name"] for u in users}
        bad += sum(1 for s in shares if s.get("owner") not in names)
    d.stop()
    print(f"kill9-ops: {rounds} kills around `user add`; half states found after restart: {bad}")
    shutil.rmtree(tmp)
    return bad == 0


def soak(seconds=300, clients=64):
    tmp = Path(tempfile.mkdtemp())
    lib = tmp / "lib"
    n = 400
    for i in range(n):
        f = lib / f"d{i % 10}" / f"p{i:04}.jpg"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(jpeg(i, 800, 600))
    d = Daemon(str(tmp / "data"))
    token = d.cli("user", "add", "alice", "--library", str(lib)).stdout.strip().splitlines()[-1]
    d.cli("scan")
    ids = [p["id"] for p in photos(d, "alice")]
    auth = {"Authorization": f"Bearer {token}"}
    errors, done = [], [0]
    stop = time.time() + seconds
    lock = threading.Lock()

    def client(k):
        rng = random.Random(k)
        c = d.conn()
        while time.time() < stop:
            pid = rng.choice(ids)
            kind = rng.randrange(4)
            path, headers = {
                0: ("/api/photos?limit=50", {}),
                1: (f"/api/photos/{pid}", {}),
                2: (f"/api/photos/{pid}", {"Range": "bytes=100-4000"}),
                3: (f"/api/photos/{pid}/thumbnail", {}),
            }[kind]
            try:
                c.request("GET", path, headers={**auth, **headers})
                r = c.getresponse()
                r.read()
                if r.status not in (200, 206):
                    with lock:
                        errors.append(f"{path}: {r.status}")
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                with lock:
                    errors.append(f"{path}: {e!r}")
                c = d.conn()
            with lock:
                done[0] += 1

    def rescans():
        while time.time() < stop:
            d.cli("scan", check=False)
            time.sleep(1)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=rescans))
    for t in threads:
        t.start()
    series = []
    while time.time() < stop:
        series.append(d.rss_anon_kb() // 1024)
        time.sleep(5)
    for t in threads:
        t.join()
    d.stop()
    spread = max(series[2:] or series) - min(series[2:] or series)
    print(f"soak: {clients} clients x {seconds} s with scans looping: {done[0]} requests, "
          f"{len(errors)} errors{(' e.g. ' + errors[0]) if errors else ''}; RssAnon MiB every 5 s: "
          f"{series}; spread after warm-up {spread} MiB")
    shutil.rmtree(tmp)
    return not errors and spread <= 5


def diskfull():
    if os.geteuid() != 0:
        print("diskfull: needs root (mounts a tmpfs); skipped")
        return True
    tmp = Path(tempfile.mkdtemp())
    mnt = tmp / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], check=True)
    try:
        lib = tmp / "lib"
        n = 6000
        for i in range(n):
            f = lib / f"d{i % 60}" / f"{'x' * 120}-{i:05}.jpg"  # long paths: big records
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(jpeg(i))
        data = str(mnt / "data")
        d = Daemon(data)
        added = d.cli("user", "add", "alice", "--library", str(lib), check=False)
        token = added.stdout.split()[-1] if added.returncode == 0 else ""
        scan = d.cli("scan", check=False)
        alive = d.proc.poll() is None
        listing = photos(d, "alice") if alive else []
        check_consistent(listing)
        thumbs = {}
        for p in listing[:300]:
            c = d.conn()
            c.request("GET", f"/api/photos/{p['id']}/thumbnail",
                      headers={"Authorization": f"Bearer {token}"})
            r = c.getresponse()
            r.read()
            thumbs[r.status] = thumbs.get(r.status, 0) + 1
        alive = alive and d.proc.poll() is None
        # Thumbnails cannot be cached either: the API must say so, not crash.
        token_out = d.cli("user", "add", "bob", "--library", str(lib), check=False)
        d.stop()
        subprocess.run(["mount", "-o", "remount,size=256m", str(mnt)], check=True)
        d = Daemon(data)
        d.cli("scan")
        full = photos(d, "alice")
        d.stop()
        print(f"diskfull: scan on a full data dir exited {scan.returncode} with "
              f"{scan.stderr.strip()[:160]!r}; daemon alive: {alive}; {len(listing)}/{n} indexed "
              f"and consistent; 300 thumbnails asked while full: {thumbs}; "
              f"`user add` while full: exit {token_out.returncode} "
              f"{token_out.stderr.strip()[:100]!r}; after space returned: {len(full)}/{n}")
        return alive and len(full) == n
    finally:
        subprocess.run(["umount", str(mnt)])
        shutil.rmtree(tmp, ignore_errors=True)


class DripProxy(threading.Thread):
    """A TCP proxy on loopback; with `drip` set, what the upstream sends trickles through."""

    def __init__(self, upstream_port):
        super().__init__(daemon=True)
        import socket
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.upstream = upstream_port
        self.drip = False

    def run(self):
        import socket
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(("127.0.0.1", self.upstream))
            threading.Thread(target=self.pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, True), daemon=True).start()

    def pipe(self, src, dst, downstream):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if downstream and self.drip:
                    for i in range(len(data)):
                        dst.sendall(data[i:i + 1])
                        time.sleep(0.2)
                else:
                    dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


def slowpeer():
    import socket
    tmp = Path(tempfile.mkdtemp())
    (tmp / "alib").mkdir()
    (tmp / "blib" / "trip").mkdir(parents=True)
    (tmp / "alib" / "mine.jpg").write_bytes(jpeg(1))
    (tmp / "blib" / "trip" / "b.jpg").write_bytes(jpeg(2, 1600, 1200))
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    b_port = probe.getsockname()[1]
    probe.close()
    proxy = DripProxy(b_port)
    proxy.start()
    b = Daemon(str(tmp / "b"), extra=("--public-url", f"https://127.0.0.1:{proxy.port}"),
               listen=f"127.0.0.1:{b_port}")
    a = Daemon(str(tmp / "a"))
    alice = a.cli("user", "add", "alice", "--library", str(tmp / "alib")).stdout.split()[-1]
    b.cli("user", "add", "bob", "--library", str(tmp / "blib"))
    bob_at_b = f"bob@127.0.0.1:{proxy.port}"
    started = json.loads(a.cli("connect", "--as", "alice", bob_at_b, "--json").stdout)
    incoming = json.loads(b.cli("requests", "--json").stdout)[0]
    code = started["code"].replace(" ", "")
    confirm = json.loads(b.cli("approve", incoming["id"], "--code", code, "--json").stdout)
    a.cli("approve", started["id"], "--code", confirm["confirm_code"])
    alice_at_a = f"alice@127.0.0.1:{a.port}"
    b.cli("share", "--from", "bob", "--with", alice_at_a, "trip")
    shared = photos(a, "alice") and json.loads(
        a.cli("photos", "--as", "alice", "--owner", bob_at_b, "--json").stdout)
    pid = shared[0]["id"]
    own = photos(a, "alice")[0]["id"]

    def get(path):
        c = a.conn()
        t0 = time.time()
        c.request("GET", path, headers={"Authorization": f"Bearer {alice}"})
        r = c.getresponse()
        r.read()
        return r.status, time.time() - t0

    fast = get(f"/api/photos/{pid}?owner={bob_at_b}")
    proxy.drip = True
    result = {}
    t = threading.Thread(target=lambda: result.update(slow=get(f"/api/photos/{pid}?owner={bob_at_b}")))
    t.start()
    time.sleep(1)
    local = [get(f"/api/photos/{own}") for _ in range(20)]
    t.join(60)
    a.stop()
    b.stop()
    slow = result.get("slow", (0, float("inf")))
    worst_local = max(s for _, s in local)
    print(f"slowpeer: bob's photo through A before the drip: {fast[0]} in {fast[1]:.2f} s; "
          f"with B drip-feeding: {slow[0]} after {slow[1]:.1f} s (bound 10 s); alice's own "
          f"photo meanwhile: {len(local)} requests, all {set(st for st, _ in local)}, "
          f"slowest {worst_local * 1000:.0f} ms")
    shutil.rmtree(tmp, ignore_errors=True)
    return slow[0] == 504 and slow[1] < 12 and all(st == 200 for st, _ in local)


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:] or ["help"]
    runs = {"kill9-scan": kill9_scan, "kill9-ops": kill9_ops, "soak": soak,
            "slowpeer": slowpeer, "diskfull": diskfull}
    if cmd not in runs:
        print(__doc__)
        sys.exit(2)
    sys.exit(0 if runs[cmd](*map(int, rest)) else 1)
