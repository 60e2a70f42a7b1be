"""Python's multiprocessing Manager on the same workload as manager.ts:
sequential proxy calls from the main process. Prints one JSON line."""
import json
import sys
import time
from multiprocessing import Manager


def per_call_us(fn, n):
    for _ in range(200):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with Manager() as m:
        v = m.Value('i', 0)
        d = m.dict()
        q = m.Queue()
        out = {
            'Value.get': per_call_us(lambda: v.get(), n),
            'dict set': per_call_us(lambda: d.__setitem__('k', 1), n),
            'Queue put+get': per_call_us(lambda: (q.put(1), q.get()), n // 2),
        }
    print(json.dumps(out))


if __name__ == '__main__':
    main()
