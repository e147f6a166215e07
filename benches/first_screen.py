#!/usr/bin/env python3
"""Time from pressing Sign in to the first screen of thumbnails, in Debian chromium through
chromedriver (issue 11's benchmark). Expects a shoebox at https://127.0.0.1:17900 whose owner
is "owner" / "owner-secret" (make one as in benches/RESULTS.md: 100 000 photos, then setup).
"""
import json, socket, subprocess, time, urllib.request, tempfile, sys
port = 17950
drv = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1)
def call(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))["value"]
caps = {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True, "goog:chromeOptions": {
    "binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
    "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--ignore-certificate-errors",
    "--window-size=1280,800", f"--user-data-dir={tempfile.mkdtemp()}"]}}}}
sid = call("POST", "/session", caps)["sessionId"]
s = f"/session/{sid}"
try:
    call("POST", f"{s}/url", {"url": "https://127.0.0.1:17900/"})
    time.sleep(1.5)
    def by_label(text):
        el = call("POST", f"{s}/element", {"using": "xpath", "value": f"//label[normalize-space()='{text}']"})
        lid = list(el.values())[0]
        for_ = call("GET", f"{s}/element/{lid}/attribute/for")
        el = call("POST", f"{s}/element", {"using": "css selector", "value": f"#{for_}"})
        return list(el.values())[0]
    call("POST", f"{s}/element/{by_label('Name')}/value", {"text": "owner"})
    call("POST", f"{s}/element/{by_label('Password')}/value", {"text": "owner-secret"})
    btn = list(call("POST", f"{s}/element", {"using": "xpath", "value": "//button[normalize-space()='Sign in']"}).values())[0]
    t0 = time.time()
    call("POST", f"{s}/element/{btn}/click", {})
    script = "const v=[...document.querySelectorAll('main img')].filter(i => i.getBoundingClientRect().top < innerHeight); return v.length > 0 && v.every(i => i.complete && i.naturalWidth > 0) ? v.length : 0"
    while True:
        n = call("POST", f"{s}/execute/sync", {"script": script, "args": []})
        if n > 0 or time.time() - t0 > 30:
            break
        time.sleep(0.02)
    print(f"sign-in click to {n} thumbnails loaded on the first screen: {time.time() - t0:.2f} s (100 000 photos, cold thumbnail cache)")
    # second visit: cached
    call("POST", f"{s}/url", {"url": "https://127.0.0.1:17900/photos"})
    t1 = time.time()
    while True:
        n = call("POST", f"{s}/execute/sync", {"script": script, "args": []})
        if n > 0 or time.time() - t1 > 30:
            break
        time.sleep(0.02)
    print(f"reload of Photos to {n} thumbnails: {time.time() - t1:.2f} s (warm)")
finally:
    call("DELETE", s)
    drv.terminate()
