"""media.loop_thread: coroutines handed to a loop on its own thread, and back."""

import asyncio
import threading

import pytest

from media.loop_thread import LoopThread


@pytest.fixture
def net():  # type: ignore[no-untyped-def]
    thread = LoopThread("test-net")
    thread.start()
    yield thread
    thread.close()


async def test_a_coroutine_runs_on_the_thread_and_its_result_comes_back(net: LoopThread) -> None:
    async def where() -> tuple[str, asyncio.AbstractEventLoop]:
        await asyncio.sleep(0.01)
        return threading.current_thread().name, asyncio.get_running_loop()

    name, loop = await net.run(where())
    assert name == "test-net"
    assert loop is net.loop and loop is not asyncio.get_running_loop()


async def test_an_error_comes_back_as_raised(net: LoopThread) -> None:
    async def fail() -> None:
        raise ConnectionError("ingest exploded")

    with pytest.raises(ConnectionError, match="ingest exploded"):
        await net.run(fail())


async def test_call_makes_loop_bound_objects_on_the_thread(net: LoopThread) -> None:
    queue = await net.call(asyncio.Queue)
    await net.call(queue.put_nowait, "packet")

    async def take() -> str:
        return await queue.get()

    assert await net.run(take()) == "packet"


async def test_cancelling_the_caller_cancels_the_coroutine(net: LoopThread) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(net.run(forever()), 0.3)
    assert started.is_set()
    assert await asyncio.get_running_loop().run_in_executor(None, cancelled.wait, 5)


async def test_close_cancels_what_runs_and_ends_the_thread() -> None:
    net = LoopThread("closing")
    net.start()
    cleaned = threading.Event()

    async def holds_a_socket() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    net.submit(holds_a_socket())
    thread = next(t for t in threading.enumerate() if t.name == "closing")
    await net.aclose()
    assert cleaned.is_set(), "the task was cancelled and its cleanup ran"
    assert not thread.is_alive() and not net.running
    with pytest.raises(RuntimeError, match="not started"):
        net.loop  # noqa: B018
    await net.aclose()  # twice is fine
