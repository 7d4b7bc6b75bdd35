"""Running the walk-forward's replays: serially, in local worker processes (joblib), or on Ray.

Every task (a grid point over a fold's train window, or the chosen point over its test
window) is independent and deterministic; results are collected in task order whatever the
engine, so the output is byte-identical whichever ran it. Worker processes are started by
joblib's loky executor and reused across tasks. The shared context goes to each worker once,
when it starts (the executor's initializer), so a task sends only its own few fields; every
task is queued at once, so a worker never waits on the parent between tasks; and each worker
reads the bar files once (``runner``). Ray (an
optional extra, ``pip install 'quantbot[ray]'``) joins the cluster at ``ray_address`` or starts
a local one with ``workers`` CPUs; the shared context goes to its object store once
(``ray.put``) and every task reads it from there instead of receiving its own copy.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from quantbot.domain.errors import ConfigError
from quantbot.research.walk_forward.runner import Context, Task, run_task

ENGINES = ("serial", "local", "ray")

Progress = Callable[[int, int, Task], None]  # done, total, the task just finished


def run_tasks(
    ctx: Context,
    tasks: list[Task],
    engine: str = "serial",
    workers: int = 2,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Each task's result, in the order of ``tasks``."""
    if engine == "serial":
        results: Iterable[dict[str, Any]] = (run_task(ctx, t) for t in tasks)
    elif engine == "local":
        results = _local(ctx, tasks, workers)
    elif engine == "ray":
        results = _ray(ctx, tasks)
    else:
        raise ConfigError(f"--engine {engine}: one of {', '.join(ENGINES)}")
    out = []
    for done, (task, result) in enumerate(zip(tasks, results, strict=True), start=1):
        out.append(result)
        if progress is not None:
            progress(done, len(tasks), task)
    return out


def _local(ctx: Context, tasks: list[Task], workers: int) -> Iterator[dict[str, Any]]:
    from joblib.externals.loky import get_reusable_executor  # noqa: PLC0415 (this engine only)

    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    # The same context again (the out-of-sample phase) reuses the running workers.
    executor = get_reusable_executor(max_workers=workers, initializer=_adopt, initargs=(ctx,))
    futures = [executor.submit(_adopted, t) for t in tasks]
    try:
        for future in futures:  # in task order, whatever order they finish in
            yield future.result()
    finally:
        for future in futures:  # a failed task: the rest are not started
            future.cancel()


@contextlib.contextmanager
def session(engine: str, workers: int, ray_address: str | None = None) -> Iterator[None]:
    """The engine's resources for the whole walk-forward: for Ray, a connection to the
    cluster at ``ray_address`` or a local one of ``workers`` CPUs, shut down after (unless
    the caller had already connected)."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine}: one of {', '.join(ENGINES)}")
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    if engine != "ray":
        yield
        return
    try:
        import ray  # noqa: PLC0415 (an optional extra)
    except ImportError as e:
        raise ConfigError(
            "--engine ray: Ray is not installed (pip install 'quantbot[ray]'), or use "
            "--engine local"
        ) from e
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=ray_address,
            num_cpus=None if ray_address else workers,
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=False,
        )
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _ray(ctx: Context, tasks: list[Task]) -> Iterator[dict[str, Any]]:
    import ray  # noqa: PLC0415 (an optional extra; ``session`` has connected)

    shared = ray.put(ctx)  # once in the object store, not a copy per task
    remote = ray.remote(_in_worker)
    refs = [remote.remote(shared, t) for t in tasks]
    for ref in refs:  # in task order, whatever order they finish in
        yield ray.get(ref)


_quiet = False
_ctx: Context | None = None  # a local worker's context, set once when it starts


def _adopt(ctx: Context) -> None:
    """A local worker's initializer: keep the walk-forward's shared context."""
    global _ctx  # noqa: PLW0603 -- once per worker process
    _ctx = ctx


def _adopted(task: Task) -> dict[str, Any]:
    assert _ctx is not None, "a local worker runs tasks only after its initializer"
    return _in_worker(_ctx, task)


def _in_worker(ctx: Context, task: Task) -> dict[str, Any]:
    """``run_task`` in a worker process, logging only warnings (as the parent's replay does)."""
    global _quiet  # noqa: PLW0603 -- once per worker process
    if not _quiet:
        from loguru import logger  # noqa: PLC0415

        logger.remove()
        logger.add(sys.stderr, level="WARNING")
        _quiet = True
    return run_task(ctx, task)
