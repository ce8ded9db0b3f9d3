"""Run every benchmark script in this folder (``--smoke`` for the small CI sizes)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, only check they run")
    args = parser.parse_args()
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in {"run_all.py", "_common.py"})
    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script)] + (["--smoke"] if args.smoke else [])
        print(f"$ {' '.join(cmd)}", flush=True)
        if subprocess.run(cmd).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
