"""Accuracy benchmark: run the external eval (../shared/eval) on zapi and print per-case scores.

    python bench/eval_accuracy.py [--cases petstore,ynab] [--eval ../shared/eval]

Prints the scorer's table (ops P/R/F1, path-parameter recall/precision, query,
body and response recall, type agreement, wall time, peak memory) and checks
the issue's thresholds, exiting 1 when a case misses one, lacks a figure, or no
case was scored at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
THRESHOLDS = {
    "ops F1 (exercised)": (("operations", "exercised", "f1"), 0.95),
    "path-param recall": (("path_params", "recall"), 0.95),
    "path-param precision": (("path_params", "precision"), 0.95),
    "query recall": (("query_params", "exercised", "recall"), 0.95),
    "response recall": (("response", "exercised", "recall"), 0.95),
    "type agreement": (("types", "agreement"), 0.95),
}


def _get(d: object, path: tuple[str, ...]) -> object:
    for k in path:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--eval", default=os.path.join(HERE, "..", "..", "shared", "eval"))
    ap.add_argument("--cases", default="")
    args = ap.parse_args()
    run = os.path.join(args.eval, "run.py")
    if not os.path.exists(run):
        print(f"error: {run} not found; pass --eval PATH", file=sys.stderr)
        return 2
    out = tempfile.mkstemp(suffix=".json")[1]
    cmd = [
        sys.executable,
        run,
        f"{sys.executable} -m zapi analyze {{har}} -o {{outdir}}",
        "--json",
        out,
    ]
    if args.cases:
        cmd += ["--cases", args.cases]
    subprocess.run(cmd, check=True)
    with open(out) as fh:
        data = json.load(fh)
    failed = not data
    if not data:
        print("no case was scored")
    for row in data:
        if row.get("status") != "ok" or "metrics" not in row:
            failed = True
            print(f"{row.get('case')}: {row.get('status')}")
            continue
        misses = []
        for label, (path, floor) in THRESHOLDS.items():
            v = _get(row["metrics"], path)
            if not isinstance(v, int | float):
                misses.append(f"{label} missing")  # a figure not measured is not a pass
            elif v < floor:
                misses.append(f"{label} {v:.2f} < {floor}")
        if misses:
            failed = True
            print(f"{row['case']}: " + "; ".join(misses))
    print("thresholds met" if not failed else "THRESHOLDS MISSED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
