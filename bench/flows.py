"""What the flows pass costs: its time and peak memory against reading the same HAR.

    python bench/flows.py HAR [HAR ...]

For each HAR, each step in a fresh process (Linux keeps a parent's peak RSS
across exec, so the parent stays small): analyze it into a temporary folder
(cards to match against), then (1) read every entry with
``iter_har`` (the floor any pass pays) and (2) run the flows pass
(``toolgen.flows.attach_flows``: read, match to cards, index, link).  Prints one
row per file with seconds, peak MB, edges, and the ratio of the two passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

_CHILD = r"""
import json, resource, sys, time
how, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
edges = 0
if how == "analyze":
    import zapi
    zapi.analyze([path], out)
elif how == "read":
    from zapi.har import HarEntry, iter_har
    sum(isinstance(e, HarEntry) for e in iter_har(path))
else:
    from toolgen.cards import load_cards
    from toolgen.flows import attach_flows
    _, graph = attach_flows([path], list(load_cards(out).values()))
    edges = len(graph.edges)
print(json.dumps({"seconds": time.perf_counter() - t0, "edges": edges,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(how: str, path: str, out: str) -> dict[str, float]:
    """Run one pass on one file in a fresh interpreter; return its figures."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, how, path, out], capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout))


def main(argv: list[str]) -> int:
    """Measure every HAR given; print a table."""
    if not argv:
        print(__doc__)
        return 2
    print(
        f"{'file':<28} {'MB':>6} {'analyze s':>9} {'read s':>7} {'flows s':>8} "
        f"{'flows/read':>10} {'peak MB':>8} {'edges':>6}"
    )
    for path in argv:
        with tempfile.TemporaryDirectory() as out:
            analyze_s = measure("analyze", path, out)["seconds"]
            read = measure("read", path, out)
            flows = measure("flows", path, out)
        name = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
        print(
            f"{name[-28:]:<28} {os.path.getsize(path) / 1e6:>6.1f} {analyze_s:>9.2f} "
            f"{read['seconds']:>7.2f} {flows['seconds']:>8.2f} "
            f"{flows['seconds'] / max(read['seconds'], 1e-9):>10.2f} "
            f"{flows['peak_mb']:>8.0f} {flows['edges']:>6.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
