"""Async junctions run from the sync engine (through asgiref) alongside sync ones."""

import asyncio
import threading
from dataclasses import dataclass

import pytest
from asgiref.sync import sync_to_async

from trax.core import (
    CancellationToken,
    Failure,
    Junction,
    RunContext,
    Train,
    current_run,
    failure_context,
)


@dataclass
class Order:
    order_id: int
    total: int


@dataclass
class Quote:
    order_id: int
    price: int


@dataclass
class Invoice:
    order_id: int
    amount: int


@dataclass
class Receipt:
    invoice_id: int


class RateServiceDown(Exception):
    """An error an async junction raises."""


async def fetch_quote(order: Order) -> Quote:
    await asyncio.sleep(0)
    return Quote(order.order_id, order.total * 2)


def invoice_quote(quote: Quote) -> Invoice:
    return Invoice(quote.order_id, quote.price)


class IssueReceipt(Junction):
    async def run(self, invoice: Invoice) -> Receipt:
        await asyncio.sleep(0)
        return Receipt(invoice.order_id)


ORDER = Order(order_id=9, total=50)


def test_async_functions_and_async_class_junctions_are_declared_as_async() -> None:
    class Mixed(Train[Order, Receipt]):
        junctions = [fetch_quote, invoice_quote, IssueReceipt]

    assert [spec.is_async for spec in Mixed.specs] == [True, False, True]


def test_sync_and_async_junctions_run_in_the_same_train() -> None:
    class Mixed(Train[Order, Receipt]):
        junctions = [fetch_quote, invoice_quote, IssueReceipt]

    assert Mixed().run(ORDER) == Receipt(invoice_id=9)


def test_an_async_junctions_output_feeds_the_next_sync_junction() -> None:
    received: list[Quote] = []

    def record_quote(quote: Quote) -> Invoice:
        received.append(quote)
        return Invoice(quote.order_id, quote.price)

    class QuoteThenInvoice(Train[Order, Invoice]):
        junctions = [fetch_quote, record_quote]

    assert QuoteThenInvoice().run(ORDER) == Invoice(order_id=9, amount=100)
    assert received == [Quote(order_id=9, price=100)]


def test_an_async_junction_sees_the_current_run_and_its_token() -> None:
    seen: list[RunContext] = []

    async def look(order: Order) -> Quote:
        await asyncio.sleep(0)
        seen.append(current_run())
        return Quote(order.order_id, 1)

    class Looks(Train[Order, Quote]):
        junctions = [look]

    token = CancellationToken()
    Looks().run(ORDER, token=token)
    assert seen[0].train_name == Looks.canonical_name()
    assert seen[0].token is token


def test_an_async_class_junctions_self_token_and_token_parameter_are_the_runs_token() -> None:
    seen: list[CancellationToken] = []

    class Capture(Junction):
        async def run(self, order: Order, token: CancellationToken) -> Quote:
            seen.extend([self.token, token])
            return Quote(order.order_id, 1)

    class Captures(Train[Order, Quote]):
        junctions = [Capture]

    token = CancellationToken()
    Captures().run(ORDER, token=token)
    assert seen[0] is token
    assert seen[1] is token


def test_an_async_junction_raising_fails_the_run_with_context() -> None:
    raised: list[Exception] = []
    later: list[str] = []

    async def fetch_failing_quote(order: Order) -> Quote:
        await asyncio.sleep(0)
        error = RateServiceDown("rates unavailable")
        raised.append(error)
        raise error

    def after(quote: Quote) -> Invoice:
        later.append("after")
        return Invoice(1, 1)

    class Quoting(Train[Order, Invoice]):
        junctions = [fetch_failing_quote, after]

    result = Quoting().run_result(ORDER)

    assert isinstance(result, Failure)
    assert result.error is raised[0]
    assert result.context.train_name == Quoting.canonical_name()
    assert result.context.junction_name == "fetch_failing_quote"
    assert result.context.exception_type == "RateServiceDown"
    assert result.context.message == "rates unavailable"
    assert ", in fetch_failing_quote" in result.context.stack_trace
    assert failure_context(result.error) == result.context
    assert later == []


def test_run_reraises_the_original_exception_of_an_async_junction() -> None:
    class FailingQuote(Junction):
        async def run(self, order: Order) -> Quote:
            raise RateServiceDown("rates unavailable")

    class Quoting(Train[Order, Quote]):
        junctions = [FailingQuote]

    with pytest.raises(RateServiceDown, match="rates unavailable") as info:
        Quoting().run(ORDER)
    context = failure_context(info.value)
    assert context is not None
    assert context.junction_name == "FailingQuote"


def test_an_async_junction_returning_the_wrong_type_fails_the_run() -> None:
    async def wrong(order: Order) -> Quote:
        return Invoice(1, 1)  # type: ignore[return-value]

    class Wrong(Train[Order, Quote]):
        junctions = [wrong]

    result = Wrong().run_result(ORDER)
    assert isinstance(result, Failure)
    assert isinstance(result.error, TypeError)
    assert "returned Invoice" in str(result.error)


def test_a_train_with_async_junctions_runs_from_a_worker_thread() -> None:
    outcome: list[object] = []

    class Mixed(Train[Order, Receipt]):
        junctions = [fetch_quote, invoice_quote, IssueReceipt]

    thread = threading.Thread(target=lambda: outcome.append(Mixed().run(ORDER)))
    thread.start()
    thread.join(timeout=10)

    assert outcome == [Receipt(invoice_id=9)]


def test_each_async_junction_in_a_train_runs_to_completion_in_order() -> None:
    calls: list[str] = []

    async def first(order: Order) -> Quote:
        calls.append("first")
        await asyncio.sleep(0)
        calls.append("first done")
        return Quote(order.order_id, 1)

    async def second(quote: Quote) -> Invoice:
        calls.append("second")
        return Invoice(quote.order_id, quote.price)

    class TwoAsync(Train[Order, Invoice]):
        junctions = [first, second]

    TwoAsync().run(ORDER)
    assert calls == ["first", "first done", "second"]


def test_an_async_junction_can_run_a_nested_train_through_sync_to_async() -> None:
    seen: dict[str, RunContext] = {}

    async def child_quote(order: Order) -> Quote:
        await asyncio.sleep(0)
        seen["child"] = current_run()
        return Quote(order.order_id, 3)

    class Child(Train[Order, Quote]):
        junctions = [child_quote]

    async def parent_quote(order: Order) -> Quote:
        seen["parent"] = current_run()
        quote: Quote = await sync_to_async(Child().run)(order)
        return quote

    class Parent(Train[Order, Quote]):
        junctions = [parent_quote]

    assert Parent().run(ORDER) == Quote(order_id=9, price=3)
    assert seen["child"].train_name == Child.canonical_name()
    assert seen["child"].parent is seen["parent"]
