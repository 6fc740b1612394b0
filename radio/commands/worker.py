"""``continuo worker``: train queued retrain jobs from the shared catalog (see radio.admin.worker).

Run it on any machine that reaches the catalog (MongoDB, or the SQLite file in a shared
``CONTINUO_HOME``) and the store of models (S3, or that same home). Radio nodes queue jobs for
workers with ``continuo serve --train-on workers``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from radio.config import env_float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, default=None,
                        help="data dir for scratch files and the model cache (default $CONTINUO_HOME or ./var)")
    parser.add_argument("--id", dest="worker_id", default=os.environ.get("CONTINUO_WORKER_ID") or None,
                        help="this worker's name in the jobs (env CONTINUO_WORKER_ID; default host-pid)")
    parser.add_argument("--styles", default=os.environ.get("CONTINUO_WORKER_STYLES", ""),
                        help="claim only these comma-separated styles (env CONTINUO_WORKER_STYLES; default any)")
    parser.add_argument("--lease-seconds", type=float, default=env_float("CONTINUO_WORKER_LEASE_SECONDS", 60.0),
                        help="how long a claim holds without renewal; a dead worker's job is retried after it "
                             "(env CONTINUO_WORKER_LEASE_SECONDS; default 60)")
    parser.add_argument("--poll-seconds", type=float, default=env_float("CONTINUO_WORKER_POLL_SECONDS", 5.0),
                        help="pause between looks at an empty queue (env CONTINUO_WORKER_POLL_SECONDS; default 5)")
    parser.add_argument("--threads", type=int, default=None, help="the trainer's CPU threads (default: every core)")
    parser.add_argument("--once", action="store_true", help="train at most one job, then exit")


def run(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(work(args))


async def work(args: argparse.Namespace) -> int:
    import asyncio
    import importlib.util
    import logging
    import signal

    from radio.admin.stores import open_job_store
    from radio.admin.versions import VersionRegistry
    from radio.admin.worker import Worker, WorkerSettings, default_worker_id
    from radio.config import continuo_home
    from radio.errors import ContinuoError
    from radio.library.storage_config import StorageConfig

    log = logging.getLogger("radio.worker")
    if importlib.util.find_spec("tensorflow") is None:
        # Better to refuse now than to claim jobs and fail every one of them.
        raise ContinuoError("a worker trains models and needs TensorFlow: pip install -e '.[train,scale]' "
                            "(or use the Docker image's worker target)")
    if args.threads is not None and args.threads < 1:
        raise ContinuoError(f"--threads must be at least 1, not {args.threads}")
    home = Path(args.home).resolve() if args.home else continuo_home()
    home.mkdir(parents=True, exist_ok=True)
    try:
        settings = WorkerSettings(
            home=home,
            worker_id=args.worker_id or default_worker_id(),
            lease_seconds=args.lease_seconds,
            poll_seconds=args.poll_seconds,
            styles=tuple(s.strip() for s in args.styles.split(",") if s.strip()),
            once=args.once,
            threads=args.threads,
        )
    except ValueError as exc:
        raise ContinuoError(str(exc)) from exc
    storage = StorageConfig.from_env()
    if storage.mongodb_uri and not storage.s3_bucket:
        log.warning("the catalog is shared (MongoDB) but models are stored on this machine's disk: radio nodes "
                    "elsewhere cannot fetch them unless %s is shared too; set CONTINUO_S3_BUCKET", home)
    store = open_job_store(home)
    try:
        registry = VersionRegistry(home)
    except BaseException:
        store.close()
        raise
    log.info("worker %s: %s; data dir %s", settings.worker_id, storage.describe(), home)
    worker = Worker(settings, store, registry)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stopping.append(loop.create_task(worker.stop())))
    try:
        await worker.run()
        for task in stopping:
            await task
    finally:
        registry.close()
        store.close()
    log.info("worker %s: stopped after %d job(s)", settings.worker_id, worker.jobs_done)
    return 0
