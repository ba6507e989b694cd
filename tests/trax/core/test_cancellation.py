"""Cancellation: the thread-safe token, and a train stopping on it without a failure."""

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from trax.core import (
    CancellationToken,
    Junction,
    Train,
    TrainCancelled,
    current_run,
    failure_context,
)

# Upper bound on how long an interrupted 30-second wait may take to stop.
PROMPT_SECONDS = 2.0
# Upper bound on waiting for a helper thread; never reached when things work.
COORDINATION_TIMEOUT_SECONDS = 10.0


@dataclass
class Order:
    order_id: int


@dataclass
class Invoice:
    order_id: int


@dataclass
class Receipt:
    order_id: int


ORDER = Order(order_id=1)


@pytest.fixture
def helper_threads() -> Iterator[list[threading.Thread]]:
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(timeout=COORDINATION_TIMEOUT_SECONDS)
        assert not thread.is_alive()


def cancel_when(
    event: threading.Event,
    token: CancellationToken,
    reason: str,
    threads: list[threading.Thread],
) -> None:
    """Fire ``token`` from another thread once ``event`` is set."""

    def cancel() -> None:
        event.wait(COORDINATION_TIMEOUT_SECONDS)
        token.cancel(reason)

    thread = threading.Thread(target=cancel, name="canceller", daemon=True)
    threads.append(thread)
    thread.start()


# The token itself.


def test_a_new_token_is_not_cancelled() -> None:
    token = CancellationToken()
    assert not token.cancelled
    assert token.reason is None
    token.raise_if_cancelled()
    assert token.wait(timeout=0) is False


def test_cancel_fires_the_token_with_its_reason() -> None:
    token = CancellationToken()
    assert token.cancel("operator") is True
    assert token.cancelled
    assert token.reason == "operator"
    assert token.wait(timeout=0) is True


def test_cancel_returns_false_the_second_time_and_keeps_the_first_reason() -> None:
    token = CancellationToken()
    assert token.cancel("first") is True
    assert token.cancel("second") is False
    assert token.reason == "first"


def test_only_one_of_many_concurrent_cancels_wins() -> None:
    token = CancellationToken()
    start = threading.Barrier(8, timeout=COORDINATION_TIMEOUT_SECONDS)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def cancel(index: int) -> None:
        start.wait()
        fired = token.cancel(f"thread {index}")
        with lock:
            outcomes.append(fired)

    threads = [threading.Thread(target=cancel, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=COORDINATION_TIMEOUT_SECONDS)

    assert sorted(outcomes) == [False] * 7 + [True]
    assert token.reason is not None


def test_raise_if_cancelled_raises_train_cancelled_with_the_reason() -> None:
    token = CancellationToken()
    token.cancel("shutdown")
    with pytest.raises(TrainCancelled) as info:
        token.raise_if_cancelled()
    assert info.value.reason == "shutdown"
    assert "shutdown" in str(info.value)


def test_train_cancelled_without_a_reason_says_so() -> None:
    error = TrainCancelled()
    assert error.reason is None
    assert str(error) == "run cancelled"
    assert str(TrainCancelled("timeout")) == "run cancelled (timeout)"


def test_sleep_returns_after_the_time_when_not_cancelled() -> None:
    token = CancellationToken()
    token.sleep(0)
    token.sleep(-1)
    assert not token.cancelled


def test_sleep_raises_at_once_when_already_cancelled() -> None:
    token = CancellationToken()
    token.cancel("early")
    started = time.monotonic()
    with pytest.raises(TrainCancelled, match="early"):
        token.sleep(30)
    assert time.monotonic() - started < PROMPT_SECONDS


def test_sleep_is_interrupted_promptly_by_a_cancel_from_another_thread(
    helper_threads: list[threading.Thread],
) -> None:
    token = CancellationToken()
    go = threading.Event()
    go.set()
    cancel_when(go, token, "operator", helper_threads)

    started = time.monotonic()
    with pytest.raises(TrainCancelled, match="operator"):
        token.sleep(30)
    assert time.monotonic() - started < PROMPT_SECONDS


def test_wait_returns_true_once_another_thread_cancels(
    helper_threads: list[threading.Thread],
) -> None:
    token = CancellationToken()
    go = threading.Event()
    go.set()
    cancel_when(go, token, "operator", helper_threads)
    assert token.wait(timeout=COORDINATION_TIMEOUT_SECONDS) is True


def test_a_callback_fires_once_when_the_token_is_cancelled() -> None:
    token = CancellationToken()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("fired"))
    assert calls == []

    token.cancel("one")
    token.cancel("two")
    assert calls == ["fired"]


def test_a_callback_added_after_cancellation_fires_immediately() -> None:
    token = CancellationToken()
    token.cancel()
    calls: list[str] = []
    token.add_callback(lambda: calls.append("fired"))
    assert calls == ["fired"]
    token.cancel()
    assert calls == ["fired"]


def test_every_callback_fires_on_the_cancelling_thread(
    helper_threads: list[threading.Thread],
) -> None:
    token = CancellationToken()
    threads: list[str] = []
    fired = threading.Event()
    token.add_callback(lambda: threads.append(threading.current_thread().name))
    token.add_callback(fired.set)

    go = threading.Event()
    go.set()
    cancel_when(go, token, "operator", helper_threads)
    assert fired.wait(COORDINATION_TIMEOUT_SECONDS)
    assert threads == ["canceller"]


def test_a_removed_callback_does_not_fire() -> None:
    token = CancellationToken()
    calls: list[str] = []
    kept = token.add_callback(lambda: calls.append("kept"))
    removed = token.add_callback(lambda: calls.append("removed"))
    assert kept != removed

    token.remove_callback(removed)
    token.remove_callback(12345)  # unknown handles are ignored
    token.cancel()
    assert calls == ["kept"]


def test_a_callback_may_remove_itself_or_read_the_token_without_deadlocking() -> None:
    token = CancellationToken()
    seen: list[tuple[bool, str | None]] = []
    handles: list[int] = []

    def callback() -> None:
        token.remove_callback(handles[0])
        seen.append((token.cancelled, token.reason))

    handles.append(token.add_callback(callback))
    canceller = threading.Thread(target=token.cancel, args=("reentrant",), daemon=True)
    canceller.start()
    canceller.join(timeout=COORDINATION_TIMEOUT_SECONDS)
    assert not canceller.is_alive(), "cancel() deadlocked calling its callbacks"
    assert seen == [(True, "reentrant")]


def test_the_token_repr_shows_its_state() -> None:
    token = CancellationToken()
    assert "active" in repr(token)
    token.cancel("stop")
    assert "cancelled (stop)" in repr(token)


# A train and its token.


def test_a_pre_cancelled_token_runs_no_junction_and_raises_train_cancelled() -> None:
    calls: list[str] = []

    def invoice(order: Order) -> Invoice:
        calls.append("invoice")
        return Invoice(order.order_id)

    class Billing(Train[Order, Invoice]):
        junctions = [invoice]

    token = CancellationToken()
    token.cancel("before start")
    with pytest.raises(TrainCancelled) as info:
        Billing().run(ORDER, token=token)
    assert info.value.reason == "before start"
    assert calls == []


def test_a_token_cancelled_between_junctions_skips_the_rest() -> None:
    calls: list[str] = []

    def first(order: Order) -> Invoice:
        calls.append("first")
        current_run().token.cancel("enough")
        return Invoice(order.order_id)

    def second(invoice: Invoice) -> Receipt:
        calls.append("second")
        return Receipt(invoice.order_id)

    def third(receipt: Receipt) -> Order:
        calls.append("third")
        return Order(receipt.order_id)

    class ThreeSteps(Train[Order, Receipt]):
        junctions = [first, second, third]

    with pytest.raises(TrainCancelled) as info:
        ThreeSteps().run(ORDER)
    assert info.value.reason == "enough"
    assert calls == ["first"]


def test_cancellation_raises_even_from_run_result() -> None:
    def first(order: Order, token: CancellationToken) -> Invoice:
        token.cancel("stop")
        return Invoice(order.order_id)

    def second(invoice: Invoice) -> Receipt:
        return Receipt(invoice.order_id)

    class TwoSteps(Train[Order, Receipt]):
        junctions = [first, second]

    with pytest.raises(TrainCancelled, match="stop"):
        TwoSteps().run_result(ORDER)

    token = CancellationToken()
    token.cancel("pre")
    with pytest.raises(TrainCancelled, match="pre"):
        TwoSteps().run_result(ORDER, token=token)


def test_a_junction_raising_train_cancelled_is_a_cancellation_not_a_failure() -> None:
    def stop(order: Order, token: CancellationToken) -> Invoice:
        token.cancel("inside")
        token.raise_if_cancelled()
        return Invoice(order.order_id)

    class Stops(Train[Order, Invoice]):
        junctions = [stop]

    with pytest.raises(TrainCancelled) as info:
        Stops().run_result(ORDER)
    assert failure_context(info.value) is None
    assert getattr(info.value, "__notes__", []) == []


def test_a_sync_junction_sleeping_on_the_token_is_interrupted_promptly(
    helper_threads: list[threading.Thread],
) -> None:
    started = threading.Event()
    after: list[str] = []

    def wait_for_approval(order: Order, token: CancellationToken) -> Invoice:
        started.set()
        token.sleep(30)
        after.append("woke up normally")
        return Invoice(order.order_id)

    def afterwards(invoice: Invoice) -> Receipt:
        after.append("next junction")
        return Receipt(invoice.order_id)

    class Approval(Train[Order, Receipt]):
        junctions = [wait_for_approval, afterwards]

    token = CancellationToken()
    cancel_when(started, token, "operator", helper_threads)

    began = time.monotonic()
    with pytest.raises(TrainCancelled) as info:
        Approval().run_result(ORDER, token=token)
    assert time.monotonic() - began < PROMPT_SECONDS
    assert info.value.reason == "operator"
    assert after == []


def test_an_async_junction_awaiting_is_interrupted_promptly_by_a_cancel_from_another_thread(
    helper_threads: list[threading.Thread],
) -> None:
    started = threading.Event()
    observed: list[str] = []

    async def call_slow_service(order: Order) -> Invoice:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            observed.append("interrupted")
            raise
        observed.append("completed")
        return Invoice(order.order_id)

    def afterwards(invoice: Invoice) -> Receipt:
        observed.append("next junction")
        return Receipt(invoice.order_id)

    class SlowService(Train[Order, Receipt]):
        junctions = [call_slow_service, afterwards]

    token = CancellationToken()
    cancel_when(started, token, "operator", helper_threads)

    began = time.monotonic()
    with pytest.raises(TrainCancelled) as info:
        SlowService().run(ORDER, token=token)
    assert time.monotonic() - began < PROMPT_SECONDS
    assert info.value.reason == "operator"
    assert failure_context(info.value) is None
    assert observed == ["interrupted"]


def test_an_interrupted_async_junction_raises_from_run_result_too(
    helper_threads: list[threading.Thread],
) -> None:
    started = threading.Event()

    class CallSlowService(Junction):
        async def run(self, order: Order) -> Invoice:
            started.set()
            await asyncio.sleep(30)
            return Invoice(order.order_id)

    class SlowService(Train[Order, Invoice]):
        junctions = [CallSlowService]

    token = CancellationToken()
    cancel_when(started, token, "timeout", helper_threads)

    began = time.monotonic()
    with pytest.raises(TrainCancelled, match="timeout"):
        SlowService().run_result(ORDER, token=token)
    assert time.monotonic() - began < PROMPT_SECONDS


def test_a_pre_cancelled_token_never_starts_an_async_junction() -> None:
    calls: list[str] = []

    async def never(order: Order) -> Invoice:
        calls.append("ran")
        return Invoice(order.order_id)

    class Never(Train[Order, Invoice]):
        junctions = [never]

    token = CancellationToken()
    token.cancel()
    with pytest.raises(TrainCancelled):
        Never().run(ORDER, token=token)
    assert calls == []


def test_cancelling_the_token_after_an_async_run_finished_is_harmless() -> None:
    async def quick(order: Order) -> Invoice:
        return Invoice(order.order_id)

    class Quick(Train[Order, Invoice]):
        junctions = [quick]

    token = CancellationToken()
    assert Quick().run(ORDER, token=token) == Invoice(order_id=1)
    assert token.cancel("late") is True


def test_a_junction_instance_token_is_the_runs_token() -> None:
    seen: list[CancellationToken] = []

    class Capture(Junction):
        def run(self, order: Order) -> Invoice:
            seen.append(self.token)
            return Invoice(order.order_id)

    class Captures(Train[Order, Invoice]):
        junctions = [Capture]

    token = CancellationToken()
    Captures().run(ORDER, token=token)
    assert seen[0] is token
    assert seen[0] is not Capture().token


def test_a_class_junction_can_cancel_the_run_through_self_token() -> None:
    calls: list[str] = []

    class GiveUp(Junction):
        def run(self, order: Order) -> Invoice:
            self.token.cancel("gave up")
            return Invoice(order.order_id)

    def after(invoice: Invoice) -> Receipt:
        calls.append("after")
        return Receipt(invoice.order_id)

    class GivesUp(Train[Order, Receipt]):
        junctions = [GiveUp, after]

    token = CancellationToken()
    with pytest.raises(TrainCancelled, match="gave up"):
        GivesUp().run(ORDER, token=token)
    assert token.cancelled
    assert calls == []


def test_each_run_without_a_token_gets_its_own_token() -> None:
    seen: list[CancellationToken] = []

    def capture(order: Order, token: CancellationToken) -> Invoice:
        seen.append(token)
        return Invoice(order.order_id)

    class Captures(Train[Order, Invoice]):
        junctions = [capture]

    Captures().run(ORDER)
    Captures().run(ORDER)
    assert seen[0] is not seen[1]
    assert not seen[0].cancelled


def test_a_nested_train_given_the_parents_token_is_cancelled_with_the_parent(
    helper_threads: list[threading.Thread],
) -> None:
    started = threading.Event()
    after: list[str] = []

    def wait_in_child(invoice: Invoice, token: CancellationToken) -> Receipt:
        started.set()
        token.sleep(30)
        after.append("child finished")
        return Receipt(invoice.order_id)

    class Child(Train[Invoice, Receipt]):
        junctions = [wait_in_child]

    class RunChild(Junction):
        def run(self, order: Order) -> Receipt:
            receipt = Child().run(Invoice(order.order_id), token=self.token)
            after.append("parent carried on")
            return receipt

    class Parent(Train[Order, Receipt]):
        junctions = [RunChild]

    token = CancellationToken()
    cancel_when(started, token, "operator", helper_threads)

    began = time.monotonic()
    with pytest.raises(TrainCancelled, match="operator"):
        Parent().run_result(ORDER, token=token)
    assert time.monotonic() - began < PROMPT_SECONDS
    assert after == []
