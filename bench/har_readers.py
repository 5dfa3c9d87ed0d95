"""Why zapi streams HARs with ijson: peak RSS and time against haralyzer on the same file.

    python bench/har_readers.py HAR [HAR ...]      (needs `pip install haralyzer`)

Each reader runs in its own process so peak RSS is its own: zapi's ``iter_har``
(ijson, entry by entry, each one decoded into a ``HarEntry``) and haralyzer's
``HarParser`` over the parsed document (what using haralyzer needs before the
first entry).  Prints one row per file and reader, and the ratios.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

_CHILD = r"""
import json, resource, sys, time
how, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
n = 0
if how == "zapi":
    from zapi.har import HarEntry, iter_har
    n = sum(isinstance(e, HarEntry) for e in iter_har(path))
else:
    from haralyzer import HarParser
    with open(path, encoding="utf-8") as fh:
        parser = HarParser(json.load(fh))
    n = len(parser.har_data["entries"])
print(json.dumps({"entries": n, "seconds": time.perf_counter() - t0,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(how: str, path: str) -> dict[str, float]:
    """Run one reader on one file in a fresh interpreter; return its figures."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, how, path], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(argv: list[str]) -> int:
    """Measure every file given; exit 2 without files or without haralyzer."""
    if not argv:
        print(__doc__)
        return 2
    try:
        import haralyzer  # noqa: F401
    except ModuleNotFoundError:
        print("haralyzer is not installed: pip install haralyzer", file=sys.stderr)
        return 2
    print(f"{'file':<28} {'MB':>6} {'entries':>8} {'reader':<10} {'s':>7} {'peak MB':>8}")
    for path in argv:
        size = os.path.getsize(path) / 1e6
        rows = {how: measure(how, path) for how in ("zapi", "haralyzer")}
        for how, r in rows.items():
            print(
                f"{os.path.basename(os.path.dirname(path)) + '/' + os.path.basename(path):<28} "
                f"{size:>6.1f} {int(r['entries']):>8} {how:<10} {r['seconds']:>7.2f} "
                f"{r['peak_mb']:>8.1f}"
            )
        z, h = rows["zapi"], rows["haralyzer"]
        print(
            f"{'':<28} haralyzer/zapi: time x{h['seconds'] / z['seconds']:.1f}, "
            f"peak RSS x{h['peak_mb'] / z['peak_mb']:.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
