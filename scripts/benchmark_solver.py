"""Solver benchmark: ``python scripts/benchmark_solver.py [--sizes ...] [--time-limit S]``.

Same as ``python -m territory_core benchmark``; prints the table (sizes, times, status, gap,
moves, LP bound, greedy baseline, worst deviation per metric, peak memory). Each size runs in
its own process so the peak memory column is that size's.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from territory_core.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["benchmark", *sys.argv[1:]]))
