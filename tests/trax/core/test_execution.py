"""Running a train: order, memory, the failure track, nested trains and ``current_run()``."""

import threading
import traceback
from dataclasses import dataclass

import pytest

from trax.core import (
    CancellationToken,
    Failure,
    Junction,
    JunctionSpec,
    NoActiveRun,
    RunContext,
    Success,
    Train,
    TrainCancelled,
    current_run,
    failure_context,
)
from trax.core.execution import execute


@dataclass
class Order:
    order_id: int
    total: int


@dataclass
class Invoice:
    order_id: int
    amount: int


@dataclass
class Receipt:
    invoice_id: int


@dataclass
class Shipment:
    order_id: int


@dataclass
class Label:
    text: str


class PaymentDeclined(Exception):
    """A domain error a junction raises."""


def make_invoice(order: Order) -> Invoice:
    return Invoice(order.order_id, order.total)


def make_receipt(invoice: Invoice) -> Receipt:
    return Receipt(invoice.order_id)


def decline(invoice: Invoice) -> Receipt:
    raise PaymentDeclined(f"card for order {invoice.order_id} declined")


class ChargeCard(Junction):
    def run(self, invoice: Invoice) -> Receipt:
        raise PaymentDeclined(f"card for order {invoice.order_id} declined")


class Billing(Train[Order, Receipt]):
    junctions = [make_invoice, make_receipt]


class DeclinedBilling(Train[Order, Receipt]):
    junctions = [make_invoice, ChargeCard, make_receipt]


ORDER = Order(order_id=42, total=100)


# Order and the output.


def test_junctions_run_in_the_declared_order() -> None:
    calls: list[str] = []

    def first(order: Order) -> Invoice:
        calls.append("first")
        return Invoice(order.order_id, order.total)

    class Second(Junction):
        def run(self, invoice: Invoice) -> Receipt:
            calls.append("second")
            return Receipt(invoice.order_id)

    def third(order: Order) -> Shipment:
        calls.append("third")
        return Shipment(order.order_id)

    class Ordered(Train[Order, Shipment]):
        junctions = [first, Second, third]

    Ordered().run(ORDER)
    assert calls == ["first", "second", "third"]


def test_the_result_is_the_value_of_the_output_type_not_the_last_return() -> None:
    def label(receipt: Receipt) -> Label:
        return Label(f"receipt {receipt.invoice_id}")

    class Labelled(Train[Order, Receipt]):
        junctions = [make_invoice, make_receipt, label]

    assert Labelled().run(ORDER) == Receipt(invoice_id=42)


def test_each_junction_receives_the_values_memory_holds_for_its_parameter_types() -> None:
    received: list[tuple[Order, Invoice]] = []

    def both(order: Order, invoice: Invoice) -> Receipt:
        received.append((order, invoice))
        return Receipt(invoice.order_id)

    class Both(Train[Order, Receipt]):
        junctions = [make_invoice, both]

    Both().run(ORDER)
    assert received == [(ORDER, Invoice(order_id=42, amount=100))]
    assert received[0][0] is ORDER


def test_a_junction_declared_to_return_a_base_class_may_return_a_subclass() -> None:
    @dataclass
    class SpecialInvoice(Invoice):
        note: str = "special"

    def special(order: Order) -> Invoice:
        return SpecialInvoice(order.order_id, order.total)

    class Special(Train[Order, Invoice]):
        junctions = [special]

    assert isinstance(Special().run(ORDER), SpecialInvoice)


def test_a_class_junction_gets_a_fresh_instance_on_every_run() -> None:
    instances: list[object] = []

    class Remembering(Junction):
        def run(self, order: Order) -> Invoice:
            instances.append(self)
            return Invoice(order.order_id, order.total)

    class Remembers(Train[Order, Invoice]):
        junctions = [Remembering]

    Remembers().run(ORDER)
    Remembers().run(ORDER)
    assert len(instances) == 2
    assert instances[0] is not instances[1]


def test_a_junction_returning_the_wrong_type_fails_the_run_with_a_clear_type_error() -> None:
    later: list[str] = []

    def wrong(order: Order) -> Invoice:
        return Receipt(order.order_id)  # type: ignore[return-value]

    def after(invoice: Invoice) -> Receipt:
        later.append("ran")
        return Receipt(1)

    class Wrong(Train[Order, Receipt]):
        junctions = [wrong, after]

    with pytest.raises(TypeError) as info:
        Wrong().run(ORDER)

    message = str(info.value)
    assert "junction wrong" in message
    assert "returns Invoice" in message
    assert "returned Receipt" in message
    assert later == []
    context = failure_context(info.value)
    assert context is not None
    assert context.junction_name == "wrong"
    assert context.exception_type == "TypeError"


def test_a_junction_returning_none_when_it_declares_a_value_fails_the_run() -> None:
    def forgetful(order: Order) -> Invoice:
        return None  # type: ignore[return-value]

    class Forgetful(Train[Order, Invoice]):
        junctions = [forgetful]

    result = Forgetful().run_result(ORDER)
    assert isinstance(result, Failure)
    assert isinstance(result.error, TypeError)
    assert "returned NoneType" in result.context.message


def test_an_input_of_the_wrong_type_is_a_type_error_before_any_junction_runs() -> None:
    calls: list[str] = []

    def spy(order: Order) -> Invoice:
        calls.append("spy")
        return Invoice(1, 1)

    class Spied(Train[Order, Invoice]):
        junctions = [spy]

    with pytest.raises(TypeError, match=r"takes Order; got Invoice"):
        Spied().run(Invoice(1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"takes Order; got dict"):
        Spied().run_result({"order_id": 1, "total": 1})  # type: ignore[arg-type]
    assert calls == []


def test_a_train_with_no_input_refuses_one() -> None:
    def first_order() -> Order:
        return ORDER

    class Seed(Train[None, Order]):
        junctions = [first_order]

    with pytest.raises(TypeError, match=r"takes no input"):
        Seed().run(ORDER)  # type: ignore[arg-type]


def test_an_abstract_train_cannot_run() -> None:
    class Base(Train[Order, Receipt], abstract=True):
        pass

    with pytest.raises(TypeError, match=r"abstract"):
        Base().run(ORDER)


# The failure track.


def test_the_first_exception_stops_the_chain() -> None:
    later: list[str] = []

    def after(receipt: Receipt) -> Shipment:
        later.append("after")
        return Shipment(1)

    class Stops(Train[Order, Shipment]):
        junctions = [make_invoice, decline, after]

    with pytest.raises(PaymentDeclined):
        Stops().run(ORDER)
    assert later == []


def test_run_reraises_the_original_exception_object_unchanged() -> None:
    raised: list[PaymentDeclined] = []

    def explode(invoice: Invoice) -> Receipt:
        error = PaymentDeclined("card 4242 declined", "extra-arg")
        raised.append(error)
        raise error

    class Explodes(Train[Order, Receipt]):
        junctions = [make_invoice, explode]

    with pytest.raises(PaymentDeclined) as info:
        Explodes().run(ORDER)

    assert info.value is raised[0]
    assert type(info.value) is PaymentDeclined
    assert info.value.args == ("card 4242 declined", "extra-arg")
    assert str(info.value) == str(raised[0])


def test_the_failure_context_names_train_junction_exception_and_message() -> None:
    with pytest.raises(PaymentDeclined) as info:
        DeclinedBilling().run(ORDER)

    context = failure_context(info.value)
    assert context is not None
    assert context.train_name == DeclinedBilling.canonical_name()
    assert context.junction_name == "ChargeCard"
    assert context.exception_type == "PaymentDeclined"
    assert context.message == "card for order 42 declined"


def test_the_failure_stack_trace_points_at_the_throw_site_in_the_junction() -> None:
    with pytest.raises(PaymentDeclined) as info:
        DeclinedBilling().run(ORDER)

    context = failure_context(info.value)
    assert context is not None
    trace = context.stack_trace
    assert __file__ in trace
    assert ", in run" in trace
    assert 'raise PaymentDeclined(f"card for order {invoice.order_id} declined")' in trace
    assert trace.rstrip().endswith("PaymentDeclined: card for order 42 declined")


def test_the_reraised_exception_keeps_its_traceback_down_to_the_throw_site() -> None:
    with pytest.raises(PaymentDeclined) as info:
        DeclinedBilling().run(ORDER)

    innermost = traceback.extract_tb(info.value.__traceback__)[-1]
    assert innermost.filename == __file__
    assert innermost.name == "run"
    assert innermost.line == 'raise PaymentDeclined(f"card for order {invoice.order_id} declined")'


def test_the_failure_stack_trace_of_a_function_junction_names_the_function() -> None:
    class Declines(Train[Order, Receipt]):
        junctions = [make_invoice, decline]

    with pytest.raises(PaymentDeclined) as info:
        Declines().run(ORDER)

    context = failure_context(info.value)
    assert context is not None
    assert context.junction_name == "decline"
    assert ", in decline" in context.stack_trace


def test_the_failure_context_uses_the_junctions_name_attribute() -> None:
    class Charge(Junction):
        name = "charge-card"

        def run(self, invoice: Invoice) -> Receipt:
            raise PaymentDeclined("no")

    class Named(Train[Order, Receipt]):
        junctions = [make_invoice, Charge]

    result = Named().run_result(ORDER)
    assert isinstance(result, Failure)
    assert result.context.junction_name == "charge-card"


def test_the_failure_context_uses_the_trains_canonical_name() -> None:
    class Named(Train[Order, Receipt]):
        name = "billing.charge"
        junctions = [make_invoice, decline]

    result = Named().run_result(ORDER)
    assert isinstance(result, Failure)
    assert result.context.train_name == "billing.charge"


def test_the_original_message_is_not_modified_only_a_note_is_added() -> None:
    with pytest.raises(PaymentDeclined) as info:
        DeclinedBilling().run(ORDER)

    assert str(info.value) == "card for order 42 declined"
    assert info.value.__notes__ == [
        f"in junction ChargeCard of train {DeclinedBilling.canonical_name()}"
    ]


def test_run_result_returns_a_failure_with_the_context_and_does_not_raise() -> None:
    result = DeclinedBilling().run_result(ORDER)

    assert isinstance(result, Failure)
    assert result.ok is False
    assert isinstance(result.error, PaymentDeclined)
    assert result.context == failure_context(result.error)
    assert result.context.junction_name == "ChargeCard"
    assert result.context.train_name == DeclinedBilling.canonical_name()


def test_a_failure_unwraps_by_raising_the_original_exception() -> None:
    result = DeclinedBilling().run_result(ORDER)
    assert isinstance(result, Failure)

    with pytest.raises(PaymentDeclined) as info:
        result.unwrap()
    assert info.value is result.error


def test_run_result_returns_success_with_the_output() -> None:
    result = Billing().run_result(ORDER)

    assert result == Success(Receipt(invoice_id=42))
    assert isinstance(result, Success)
    assert result.ok is True
    assert result.unwrap() == Receipt(invoice_id=42)


def test_every_exception_subclass_lands_on_the_failure_track() -> None:
    def lookup(order: Order) -> Invoice:
        invoices: dict[str, Invoice] = {}
        return invoices["missing"]

    class Lookup(Train[Order, Invoice]):
        junctions = [lookup]

    result = Lookup().run_result(ORDER)
    assert isinstance(result, Failure)
    assert isinstance(result.error, KeyError)
    assert result.context.exception_type == "KeyError"
    assert result.context.message == "'missing'"


# Nested trains.


def test_a_train_run_inside_a_junction_sees_its_parent_run() -> None:
    seen: dict[str, RunContext] = {}

    def child_step(invoice: Invoice) -> Receipt:
        seen["child"] = current_run()
        return Receipt(invoice.order_id)

    class Child(Train[Invoice, Receipt]):
        junctions = [child_step]

    def parent_step(invoice: Invoice) -> Receipt:
        seen["parent"] = current_run()
        receipt = Child().run(invoice)
        seen["parent-after-child"] = current_run()
        return receipt

    class Parent(Train[Order, Receipt]):
        junctions = [make_invoice, parent_step]

    assert Parent().run(ORDER) == Receipt(invoice_id=42)
    assert seen["child"].train_name == Child.canonical_name()
    assert seen["child"].parent is seen["parent"]
    assert seen["parent"].train_name == Parent.canonical_name()
    assert seen["parent"].parent is None
    assert seen["parent-after-child"] is seen["parent"]


def test_a_nested_failure_keeps_the_inner_context_and_the_outer_names_the_outer_junction() -> None:
    def inner_charge(invoice: Invoice) -> Receipt:
        raise PaymentDeclined("inner declined")

    class Inner(Train[Invoice, Receipt]):
        junctions = [inner_charge]

    class CallInner(Junction):
        def run(self, invoice: Invoice) -> Receipt:
            return Inner().run(invoice)

    class Outer(Train[Order, Receipt]):
        junctions = [make_invoice, CallInner]

    result = Outer().run_result(ORDER)

    assert isinstance(result, Failure)
    assert isinstance(result.error, PaymentDeclined)
    assert result.context.train_name == Outer.canonical_name()
    assert result.context.junction_name == "CallInner"
    assert result.context.exception_type == "PaymentDeclined"
    assert result.context.message == "inner declined"
    assert ", in inner_charge" in result.context.stack_trace

    attached = failure_context(result.error)
    assert attached is not None
    assert attached.train_name == Inner.canonical_name()
    assert attached.junction_name == "inner_charge"
    assert result.error.__notes__ == [f"in junction inner_charge of train {Inner.canonical_name()}"]


def test_a_nested_failure_reraised_by_the_outer_run_is_the_same_exception_object() -> None:
    raised: list[Exception] = []

    def inner_charge(invoice: Invoice) -> Receipt:
        error = PaymentDeclined("inner declined")
        raised.append(error)
        raise error

    class Inner(Train[Invoice, Receipt]):
        junctions = [inner_charge]

    def call_inner(invoice: Invoice) -> Receipt:
        return Inner().run(invoice)

    class Outer(Train[Order, Receipt]):
        junctions = [make_invoice, call_inner]

    with pytest.raises(PaymentDeclined) as info:
        Outer().run(ORDER)
    assert info.value is raised[0]
    context = failure_context(info.value)
    assert context is not None
    assert context.train_name == Inner.canonical_name()


def test_a_junction_may_handle_a_nested_failure_and_carry_on() -> None:
    def inner_charge(invoice: Invoice) -> Receipt:
        raise PaymentDeclined("inner declined")

    class Inner(Train[Invoice, Receipt]):
        junctions = [inner_charge]

    def try_inner(invoice: Invoice) -> Receipt:
        result = Inner().run_result(invoice)
        return result.value if isinstance(result, Success) else Receipt(-1)

    class Outer(Train[Order, Receipt]):
        junctions = [make_invoice, try_inner]

    assert Outer().run(ORDER) == Receipt(-1)


# current_run()


def test_current_run_inside_a_junction_gives_the_train_name_and_the_token() -> None:
    seen: list[RunContext] = []

    def look(order: Order) -> Invoice:
        seen.append(current_run())
        return Invoice(1, 1)

    class Looks(Train[Order, Invoice]):
        junctions = [look]

    token = CancellationToken()
    Looks().run(ORDER, token=token)
    assert seen[0].train_name == Looks.canonical_name()
    assert seen[0].token is token
    assert seen[0].run_id is None
    assert seen[0].parent is None


def test_current_run_outside_a_run_raises_no_active_run() -> None:
    with pytest.raises(NoActiveRun):
        current_run()
    assert issubclass(NoActiveRun, LookupError)


def test_current_run_is_reset_after_a_successful_run() -> None:
    Billing().run(ORDER)
    with pytest.raises(NoActiveRun):
        current_run()


def test_current_run_is_reset_after_a_failed_run() -> None:
    with pytest.raises(PaymentDeclined):
        DeclinedBilling().run(ORDER)
    with pytest.raises(NoActiveRun):
        current_run()
    DeclinedBilling().run_result(ORDER)
    with pytest.raises(NoActiveRun):
        current_run()


def test_current_run_is_reset_after_a_cancelled_run() -> None:
    token = CancellationToken()
    token.cancel()
    with pytest.raises(TrainCancelled):
        Billing().run(ORDER, token=token)
    with pytest.raises(NoActiveRun):
        current_run()


def test_runs_on_different_threads_each_see_their_own_run() -> None:
    both_inside = threading.Barrier(2, timeout=10)
    seen: dict[int, str] = {}

    def look(order: Order) -> Invoice:
        both_inside.wait()
        seen[order.order_id] = current_run().train_name
        return Invoice(order.order_id, 0)

    class First(Train[Order, Invoice]):
        junctions = [look]

    class Second(Train[Order, Invoice]):
        junctions = [look]

    thread = threading.Thread(target=lambda: Second().run(Order(2, 0)))
    thread.start()
    First().run(Order(1, 0))
    thread.join(timeout=10)

    assert seen == {1: First.canonical_name(), 2: Second.canonical_name()}


def test_execute_uses_the_run_context_it_is_given() -> None:
    seen: list[RunContext] = []

    def look(order: Order) -> Invoice:
        seen.append(current_run())
        return Invoice(1, 1)

    class Looks(Train[Order, Invoice]):
        junctions = [look]

    token = CancellationToken()
    context = RunContext(train_name="recorded", token=token, run_id=7, external_id="ext-7")
    execute(Looks(), ORDER, token=token, context=context)
    assert seen == [context]
    assert seen[0] is context


# The junction observer seam.


class RecordingObserver:
    def __init__(self, cancel_before: str | None = None, token: CancellationToken | None = None):
        self.events: list[tuple[str, str, str | None]] = []
        self.cancel_before = cancel_before
        self.token = token

    def before_junction(self, spec: JunctionSpec) -> None:
        self.events.append(("before", spec.name, None))
        if spec.name == self.cancel_before and self.token is not None:
            self.token.cancel("observer")

    def after_junction(self, spec: JunctionSpec, error: BaseException | None) -> None:
        self.events.append(("after", spec.name, None if error is None else type(error).__name__))


def test_the_observer_is_told_about_each_junction_boundary() -> None:
    observer = RecordingObserver()
    execute(Billing(), ORDER, token=CancellationToken(), observer=observer)
    assert observer.events == [
        ("before", "make_invoice", None),
        ("after", "make_invoice", None),
        ("before", "make_receipt", None),
        ("after", "make_receipt", None),
    ]


def test_the_observer_is_told_about_the_failing_junction_and_no_later_one() -> None:
    observer = RecordingObserver()
    with pytest.raises(PaymentDeclined):
        execute(DeclinedBilling(), ORDER, token=CancellationToken(), observer=observer)
    assert observer.events == [
        ("before", "make_invoice", None),
        ("after", "make_invoice", None),
        ("before", "ChargeCard", None),
        ("after", "ChargeCard", "PaymentDeclined"),
    ]


def test_an_observer_firing_the_token_before_a_junction_stops_it_from_running() -> None:
    calls: list[str] = []

    def receipt(invoice: Invoice) -> Receipt:
        calls.append("receipt")
        return Receipt(1)

    class Watched(Train[Order, Receipt]):
        junctions = [make_invoice, receipt]

    token = CancellationToken()
    observer = RecordingObserver(cancel_before="receipt", token=token)
    with pytest.raises(TrainCancelled) as info:
        execute(Watched(), ORDER, token=token, observer=observer)
    assert info.value.reason == "observer"
    assert calls == []
    assert observer.events[-1] == ("before", "receipt", None)


def test_the_observer_is_told_when_a_junction_is_cancelled() -> None:
    def cancel_self(order: Order, token: CancellationToken) -> Invoice:
        token.cancel("inside")
        token.raise_if_cancelled()
        return Invoice(1, 1)

    class Cancels(Train[Order, Invoice]):
        junctions = [cancel_self]

    observer = RecordingObserver()
    with pytest.raises(TrainCancelled):
        execute(Cancels(), ORDER, token=CancellationToken(), observer=observer)
    assert observer.events == [
        ("before", "cancel_self", None),
        ("after", "cancel_self", "TrainCancelled"),
    ]
