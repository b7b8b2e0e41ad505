"""The s3 run log store against a moto S3 server on 127.0.0.1: write cost and contention.

Prints (1) step-log writes per second as a run grows (each write is one conditional PUT,
so the rate should not fall with the run's size) and (2) for N writers adding a parameter
to the same run header at once: wall time and how many writes lost a race and were
re-applied. Run: python3 bench/render_sfn_s3store.py
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> int:
    from magnus_render.stores.models import RunLog, StepLog
    from magnus_render.stores.s3_run_log import S3RunLogStore
    from tests.sfn_harness import moto_server

    with moto_server() as server:
        server.client("s3").create_bucket(Bucket="bench")
        config = {"bucket": "bench", "endpoint_url": server.endpoint}
        store = S3RunLogStore(config)
        run_id = f"bench-{uuid.uuid4().hex[:6]}"
        store.create_run_log(RunLog(run_id=run_id))
        print(f"{'steps so far':>12} {'writes/s':>9}")
        written = 0
        for batch in (100, 100, 100):
            started = time.perf_counter()
            for i in range(batch):
                name = f"s{written + i}"
                store.put_step_log(run_id, StepLog(name=name, internal_name=name))
            written += batch
            print(f"{written:>12} {batch / (time.perf_counter() - started):>9.0f}")

        print(f"\n{'writers':>7} {'wall s':>7} {'conflicts':>9} {'lost':>5}")
        for writers in (10, 50):
            run_id = f"race-{uuid.uuid4().hex[:6]}"
            store.create_run_log(RunLog(run_id=run_id))
            stores = [S3RunLogStore(config) for _ in range(writers)]
            barrier = threading.Barrier(writers)

            def work(
                i: int,
                stores: list[S3RunLogStore] = stores,
                run_id: str = run_id,
                barrier: threading.Barrier = barrier,
            ) -> None:
                barrier.wait()
                stores[i].update_run(run_id, parameters={f"p{i}": i})

            threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - started
            kept = len(store.get_run_header(run_id).parameters)
            conflicts = sum(s.conflicts for s in stores)
            print(f"{writers:>7} {wall:>7.2f} {conflicts:>9} {writers - kept:>5}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
