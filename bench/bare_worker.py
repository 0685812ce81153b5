"""A worker process for the bare baseline's workflow alone, so its memory can be read from its
own process exactly as the account worker's is (bench/memory.py):

    python -m bench.bare_worker ADDRESS TASK_QUEUE CACHE_SIZE

It prints `READY` once it polls, and runs until it is terminated."""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from bench.bare_workflow import BareWorkflow, bare_step

READY = "bare worker polling"


async def serve(address: str, queue: str, cache: int) -> None:
    client = await Client.connect(address)
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[BareWorkflow],
            activities=[bare_step],
            activity_executor=executor,
            max_cached_workflows=cache,
        ):
            print(READY, flush=True)
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], int(sys.argv[3])))
