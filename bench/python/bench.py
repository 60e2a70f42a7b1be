"""Python's side of the benchmarks (bench/run.ts calls it).

    python3 bench/python/bench.py ppe_noop <tasks> <workers>
    python3 bench/python/bench.py pool_map <items> <workers>

Prints one JSON line: {"value": ..., "unit": ..., "python": ..., "startMethod": ...}.
Pools are started and warmed before the clock starts, as on the Node side.
"""
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait


def noop():
    pass


def double(x):
    return 2 * x


def ppe_noop(tasks, workers):
    with ProcessPoolExecutor(max_workers=workers) as ex:
        wait([ex.submit(noop) for _ in range(workers * 50)])
        start = time.perf_counter()
        wait([ex.submit(noop) for _ in range(tasks)])
        return tasks / (time.perf_counter() - start), "tasks/s"


def pool_map(items, workers):
    with multiprocessing.Pool(workers) as pool:
        pool.map(double, range(1000))
        data = list(range(items))
        start = time.perf_counter()
        pool.map(double, data)
        return items / (time.perf_counter() - start), "items/s"


def main():
    what, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    value, unit = {"ppe_noop": ppe_noop, "pool_map": pool_map}[what](n, workers)
    print(json.dumps({
        "value": value,
        "unit": unit,
        "python": sys.version.split()[0],
        "startMethod": multiprocessing.get_start_method(),
    }))


if __name__ == "__main__":
    main()
