"""A phone's first load of /join on a slow Wi-Fi: ``python -m tools.bench_join [--quick] [--json]``.

Starts the app on every interface with the shipped runs, then opens /join in headless Chromium (390x844, an
empty cache) throttled by Chromium's own network emulation (DevTools' ``Network.emulateNetworkConditions``) to
1 and 10 Mbit/s — 30 phones sharing a 30 Mbit/s classroom Wi-Fi get about 1 each — and reports the bytes and
seconds until the first model answers and until all three do (the page's ``join-model-ready`` marks; the bytes
are the transfer sizes of what had arrived by then). Each speed is measured twice:

- at the machine's network address, as a phone in the room opens it (``http://<address>:<port>/join``): browsers
  accept brotli only from HTTPS or localhost, so this phone gets the WebAssembly's brotli as a plain file and
  decodes it in the page (join.js; the rest comes gzipped);
- at 127.0.0.1, where Chromium accepts brotli, as it does from /join behind HTTPS (docs/PROXY.md).

It also lists each file's size as sent with brotli and with gzip. The server's export (int8 where the test images
allow) and compression are done before the first measurement, as a presenter's server has them done by the time
the class opens /join. ``--quick`` loads once at 10 Mbit/s on 127.0.0.1 (the test suite runs it so it keeps
working); ``make bench`` runs the full one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from mnist_core.room import network_address
from tools.browser import chromium, chromium_path, streamlit_server, throttle

LATENCY_MS = 20  # a classroom Wi-Fi's round trip, added to each request
GOAL_FIRST_MB, GOAL_ALL_MB = 3.0, 4.5  # issue 36: the first answer after at most 3.0 MB, all three after 4.5


@dataclass
class Load:
    where: str  # "network address (…)" or "127.0.0.1 (brotli)"
    coding: str  # what the WebAssembly came as: "br", "br in the page" (decoded by join.js) or "gzip"
    mbit: float  # the throttled download speed, Mbit/s
    first_answer_seconds: float  # opening /join → the first model ready to answer
    first_answer_mb: float  # bytes arrived by then (transfer sizes, headers included)
    all_seconds: float  # → all three ready
    all_mb: float


@dataclass
class FileSize:
    file: str
    bytes: int  # as stored (a model: its ONNX file; weights as /join/models says)
    brotli: int
    gzip: int


def measure(speeds: tuple[float, ...] = (1, 10), loopback_only: bool = False, timeout: float = 600) -> dict:
    """Start the app, warm its export, and load /join once per address and speed; the loads and file sizes."""
    executable = chromium_path()
    if executable is None:
        raise RuntimeError("Chromium is not installed (apt-get install -y chromium).")
    address = None if loopback_only else network_address()
    with tempfile.TemporaryDirectory() as folder, chromium(executable) as browser:
        env = {"MNIST_RUNS_DIR": str(Path(folder) / "runs"), "MNIST_CACHE_DIR": str(Path(folder) / "cache"),
               "MNIST_AUDIENCE_DB": str(Path(folder) / "audience.sqlite3")}
        with streamlit_server(env, timeout=120, address="0.0.0.0" if address else "127.0.0.1") as server:
            sizes = file_sizes(server.url)  # exports the models (once) and compresses every file both ways
            port = server.url.rsplit(":", 1)[1]
            places = [("127.0.0.1 (brotli, as over HTTPS)", server.url)]
            if address:
                places.insert(0, ("network address (a phone over http://: brotli decoded in the page)",
                                  f"http://{address}:{port}"))
            loads = [load_once(browser, where, url, mbit, timeout) for where, url in places for mbit in speeds]
    return {"loads": [asdict(load) for load in loads], "files": [asdict(size) for size in sizes],
            "weights": weights_served(sizes)}


def _get(url: str, coding: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": coding})
    with urllib.request.urlopen(request, timeout=600) as reply:
        return len(reply.read()), dict(reply.headers)


def file_sizes(base: str) -> list[FileSize]:
    """Each file /join downloads, its size as stored and as sent with brotli and with gzip."""
    listing = json.loads(urllib.request.urlopen(f"{base}/join/models", timeout=600).read())
    page = urllib.request.urlopen(f"{base}/join", timeout=60).read().decode()
    assets = page.split('href="')[1].split("/join.css")[0]
    files = [("/join", f"{base}/join")] + [
        (name, f"{base}{assets}/{name}") for name in
        ("join.css", "join.js", "prepare.js", "i18n.js", "vendor/onnxruntime-web/ort.wasm.min.mjs",
         "vendor/onnxruntime-web/ort-wasm-simd-threaded.mjs", "vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm",
         "vendor/brotli/decode.min.js", "brotli_worker.js")]
    files += [(f"{model['name']} ({model['weights']})", f"{base}{model['url']}") for model in listing["models"]]
    sizes = []
    for name, url in files:
        stored = _get(url, "identity")[0]
        sizes.append(FileSize(name, stored, _get(url, "br")[0], _get(url, "gzip")[0]))
    return sizes


def weights_served(sizes: list[FileSize]) -> str:
    return ", ".join(size.file for size in sizes if "(" in size.file)


def load_once(browser, where: str, url: str, mbit: float, timeout: float) -> Load:
    """Open ``url``/join in a fresh context throttled to ``mbit``; time and bytes to the first and last model."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    try:
        page = context.new_page()
        throttle(page, mbit, LATENCY_MS)
        page.goto(f"{url}/join")
        page.wait_for_selector("body[data-ready=true]", timeout=timeout * 1000)
        marks = page.evaluate("""() => {
            const entries = performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'));
            const arrived = (time) => entries.filter((entry) => entry.responseEnd <= time)
                .reduce((sum, entry) => sum + entry.transferSize, 0);
            const wasm = performance.getEntriesByType('resource').find((entry) => /[.]wasm([.]br)?$/.test(entry.name));
            return { ready: performance.getEntriesByName('join-model-ready').map((mark) => [mark.startTime,
                     arrived(mark.startTime)]), wasm: wasm ? wasm.encodedBodySize : 0,
                     inPage: wasm ? wasm.name.endsWith('.br') : false };
        }""")
    finally:
        context.close()
    (first_ms, first_bytes), (all_ms, all_bytes) = marks["ready"][0], marks["ready"][-1]
    coding = "br in the page" if marks["inPage"] else "br" if marks["wasm"] < 3e6 else "gzip"  # 2.45 MB, 3.81 gzip
    return Load(where, coding, mbit, round(first_ms / 1000, 1), round(first_bytes / 1e6, 2),
                round(all_ms / 1000, 1), round(all_bytes / 1e6, 2))


def format_markdown(report: dict) -> str:
    lines = ["| where /join is opened | Mbit/s | first answer | MB by then | all three | MB by then |",
             "|---|---:|---:|---:|---:|---:|"]
    for load in report["loads"]:
        lines.append(f"| {load['where']} | {load['mbit']:g} | {load['first_answer_seconds']:.1f} s | "
                     f"{load['first_answer_mb']:.2f} | {load['all_seconds']:.1f} s | {load['all_mb']:.2f} |")
    lines += ["", "| file | stored | brotli | gzip |", "|---|---:|---:|---:|"]
    for size in report["files"]:
        lines.append(f"| {size['file']} | {size['bytes']:,} | {size['brotli']:,} | {size['gzip']:,} |")
    lines.append(f"\nGoal: the first answer after at most {GOAL_FIRST_MB} MB, all three after {GOAL_ALL_MB} MB.")
    if report.get("quick"):
        lines.append("QUICK MODE: one load at 10 Mbit/s on 127.0.0.1; not the figures of docs/PERFORMANCE.md.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one load at 10 Mbit/s on 127.0.0.1")
    parser.add_argument("--json", action="store_true", help="JSON instead of Markdown tables")
    args = parser.parse_args(argv)
    report = measure(speeds=(10,), loopback_only=True) if args.quick else measure()
    report["quick"] = args.quick
    print(json.dumps(report, indent=2) if args.json else format_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
