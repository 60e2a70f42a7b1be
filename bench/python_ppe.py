"""Python's ProcessPoolExecutor on the same workload as process_pool.ts:
throughput of no-op tasks submitted at once, and round-trip latency.
Prints one JSON line."""
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, wait


def noop():
    pass


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    with ProcessPoolExecutor(max_workers=workers) as ex:
        wait([ex.submit(noop) for _ in range(workers * 50)])  # start the workers
        rates = []
        for _ in range(rounds):
            start = time.perf_counter()
            wait([ex.submit(noop) for _ in range(tasks)])
            rates.append(tasks / (time.perf_counter() - start))
        latencies = []
        for _ in range(1000):
            start = time.perf_counter()
            ex.submit(noop).result()
            latencies.append((time.perf_counter() - start) * 1e6)
    print(json.dumps({
        "tasksPerSecond": max(rates),
        "latencyMedianUs": statistics.median(latencies),
        "startMethod": __import__("multiprocessing").get_start_method(),
        "python": sys.version.split()[0],
    }))


if __name__ == "__main__":
    main()
