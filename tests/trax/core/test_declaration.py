"""A train is checked when its class statement runs: types, junction signatures, the chain."""

import typing
from dataclasses import dataclass
from typing import Any, Generic, Optional, TypeVar, Union

import pytest

from trax.core import CancellationToken, Junction, Train, TrainDeclarationError
from trax.core.annotations import memory_key_problem

T = TypeVar("T")


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
class Animal:
    name: str


@dataclass
class Dog(Animal):
    pass


class Box(Generic[T]):
    """A generic class: as a bare annotation it names no concrete type."""


class Opaque:
    """A plain class pydantic cannot turn into JSON."""

    def __init__(self, handle: object) -> None:
        self.handle = handle


def make_invoice(order: Order) -> Invoice:
    return Invoice(order.order_id, order.total)


def make_receipt(invoice: Invoice) -> Receipt:
    return Receipt(invoice.order_id)


def ship(order: Order, receipt: Receipt) -> Shipment:
    return Shipment(order.order_id)


class MakeInvoice(Junction):
    def run(self, order: Order) -> Invoice:
        return Invoice(order.order_id, order.total)


class ModuleLevelTrain(Train[Order, Invoice]):
    junctions = [make_invoice]


def test_a_valid_train_records_its_types_and_one_spec_per_junction() -> None:
    class Billing(Train[Order, Receipt]):
        junctions = [MakeInvoice, make_receipt]

    assert Billing.input_type is Order
    assert Billing.output_type is Receipt
    assert not Billing.is_abstract
    assert [spec.name for spec in Billing.specs] == ["MakeInvoice", "make_receipt"]
    assert Billing.specs[0].inputs == (("order", Order),)
    assert Billing.specs[0].output is Invoice
    assert Billing.specs[0].is_class
    assert not Billing.specs[1].is_class


# Memory: what each junction may ask for.


def test_a_junction_whose_input_nothing_earlier_provides_is_refused_naming_both() -> None:
    with pytest.raises(TrainDeclarationError) as info:

        class Broken(Train[Order, Receipt]):
            junctions = [make_receipt]

    message = str(info.value)
    assert "make_receipt" in message
    assert "Invoice" in message
    assert "'invoice'" in message
    assert "Broken" in message


def test_a_junction_cannot_use_a_value_a_later_junction_produces() -> None:
    with pytest.raises(TrainDeclarationError, match=r"make_receipt needs Invoice"):

        class OutOfOrder(Train[Order, Receipt]):
            junctions = [make_receipt, make_invoice]


def test_memory_is_keyed_by_exact_class_so_a_subclass_does_not_satisfy_its_base() -> None:
    def adopt(order: Order) -> Dog:
        return Dog("rex")

    def greet(animal: Animal) -> Receipt:
        return Receipt(1)

    with pytest.raises(TrainDeclarationError, match=r"greet needs Animal"):

        class Kennel(Train[Order, Receipt]):
            junctions = [adopt, greet]


def test_a_junction_may_use_a_value_produced_two_steps_back() -> None:
    class Fulfilment(Train[Order, Shipment]):
        junctions = [make_invoice, make_receipt, ship]

    assert Fulfilment().run(Order(order_id=7, total=10)) == Shipment(order_id=7)


def test_a_later_output_of_the_same_class_replaces_the_earlier_one() -> None:
    def add_tax(invoice: Invoice) -> Invoice:
        return Invoice(invoice.order_id, invoice.amount + 2)

    def add_shipping(invoice: Invoice) -> Invoice:
        return Invoice(invoice.order_id, invoice.amount + 5)

    class Pricing(Train[Order, Invoice]):
        junctions = [make_invoice, add_tax, add_shipping]

    assert Pricing().run(Order(order_id=1, total=100)) == Invoice(order_id=1, amount=107)


def test_a_train_whose_output_type_no_junction_produces_is_refused() -> None:
    with pytest.raises(TrainDeclarationError) as info:

        class NoShipment(Train[Order, Shipment]):
            junctions = [make_invoice]

    assert "Shipment" in str(info.value)
    assert "produced by no junction" in str(info.value)


def test_a_train_whose_output_is_its_input_needs_no_junction_to_produce_it() -> None:
    seen: list[Order] = []

    def audit(order: Order) -> None:
        seen.append(order)

    class Audit(Train[Order, Order]):
        junctions = [audit]

    order = Order(order_id=3, total=4)
    assert Audit().run(order) is order
    assert seen == [order]


# Junction signatures.


def test_an_unannotated_parameter_is_refused() -> None:
    def untyped(order) -> Invoice:  # type: ignore[no-untyped-def]
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"parameter 'order' has no type annotation"):

        class Untyped(Train[Order, Invoice]):
            junctions = [untyped]


def test_a_junction_without_a_return_annotation_is_refused() -> None:
    def no_return(order: Order):  # type: ignore[no-untyped-def]
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"no_return has no return annotation"):

        class NoReturn(Train[Order, Invoice]):
            junctions = [make_invoice, no_return]


def test_an_unannotated_class_junction_run_is_refused() -> None:
    class Untyped(Junction):
        def run(self, order):  # type: ignore[no-untyped-def]
            return order

    with pytest.raises(TrainDeclarationError, match=r"junction Untyped"):

        class UsesUntyped(Train[Order, Order]):
            junctions = [Untyped]


def test_an_annotation_that_cannot_be_resolved_is_refused() -> None:
    def dangling(order: "NoSuchType") -> Invoice:  # type: ignore[name-defined]  # noqa: F821
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"cannot be resolved"):

        class Dangling(Train[Order, Invoice]):
            junctions = [dangling]


UNKEYABLE_ANNOTATIONS = [
    pytest.param(list[int], id="bare-generic-list"),
    pytest.param(dict[str, Order], id="bare-generic-dict"),
    pytest.param(Order | Invoice, id="pep604-union"),
    pytest.param(Union[Order, Invoice], id="typing-union"),  # noqa: UP007
    pytest.param(Optional[Order], id="optional"),  # noqa: UP045
    pytest.param(Order | None, id="pep604-optional"),
    pytest.param(Any, id="any"),
    pytest.param(Box, id="unparameterised-generic-class"),
    pytest.param(Box[int], id="parameterised-generic-class"),
]


@pytest.mark.parametrize("annotation", UNKEYABLE_ANNOTATIONS)
def test_a_junction_input_that_cannot_key_memory_is_refused(annotation: Any) -> None:
    def step(value):  # type: ignore[no-untyped-def]
        return Invoice(1, 1)

    step.__annotations__ = {"value": annotation, "return": Invoice}

    with pytest.raises(TrainDeclarationError, match=r"junction step: parameter 'value'"):

        class Refused(Train[Order, Invoice]):
            junctions = [step]


@pytest.mark.parametrize("annotation", UNKEYABLE_ANNOTATIONS)
def test_a_junction_output_that_cannot_key_memory_is_refused(annotation: Any) -> None:
    def step(order):  # type: ignore[no-untyped-def]
        return None

    step.__annotations__ = {"order": Order, "return": annotation}

    with pytest.raises(TrainDeclarationError, match=r"junction step: return type"):

        class Refused(Train[Order, Order]):
            junctions = [step]


@pytest.mark.parametrize("annotation", UNKEYABLE_ANNOTATIONS)
def test_a_train_input_type_that_cannot_key_memory_is_refused(annotation: Any) -> None:
    with pytest.raises(TrainDeclarationError, match=r"input type"):

        class Refused(Train[annotation, Invoice]):
            junctions = [make_invoice]


@pytest.mark.parametrize("annotation", UNKEYABLE_ANNOTATIONS)
def test_a_train_output_type_that_cannot_key_memory_is_refused(annotation: Any) -> None:
    with pytest.raises(TrainDeclarationError, match=r"output type"):

        class Refused(Train[Order, annotation]):
            junctions = [make_invoice]


def test_plain_concrete_classes_can_key_memory() -> None:
    for annotation in (Order, Dog, int, str, Opaque):
        assert memory_key_problem(annotation) is None


def test_star_args_are_refused() -> None:
    def variadic(*orders: Order) -> Invoice:
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"variadic takes \*args/\*\*kwargs"):

        class Variadic(Train[Order, Invoice]):
            junctions = [variadic]


def test_star_star_kwargs_are_refused() -> None:
    def keywords(order: Order, **extra: Order) -> Invoice:
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"keywords takes \*args/\*\*kwargs"):

        class Keywords(Train[Order, Invoice]):
            junctions = [keywords]


class NotAJunction:
    def run(self, order: Order) -> Invoice:
        return Invoice(1, 1)


class NoRun(Junction):
    pass


@pytest.mark.parametrize(
    "step",
    [
        pytest.param(MakeInvoice(), id="junction-instance"),
        pytest.param(NotAJunction, id="class-not-subclassing-junction"),
        pytest.param("make_invoice", id="string"),
        pytest.param(len, id="builtin-function"),
        pytest.param(42, id="integer"),
        pytest.param(None, id="none"),
    ],
)
def test_objects_that_are_not_junctions_are_refused(step: Any) -> None:
    with pytest.raises(TrainDeclarationError, match=r"not a Junction subclass or a function"):

        class Refused(Train[Order, Invoice]):
            junctions = [make_invoice, step]


def test_a_junction_class_without_run_is_refused() -> None:
    with pytest.raises(TrainDeclarationError, match=r"junction NoRun has no run\(\)"):

        class Refused(Train[Order, Invoice]):
            junctions = [make_invoice, NoRun]


def test_a_train_with_an_empty_junction_list_is_refused() -> None:
    with pytest.raises(TrainDeclarationError, match=r"junctions is empty"):

        class Empty(Train[Order, Order]):
            junctions = []


def test_a_train_that_lists_no_junctions_at_all_is_refused() -> None:
    with pytest.raises(TrainDeclarationError, match=r"junctions is empty"):

        class Nothing(Train[Order, Order]):
            pass


# Train type parameters.


def test_a_train_without_input_and_output_types_is_refused() -> None:
    with pytest.raises(TrainDeclarationError, match=r"declare the input and output types"):

        class Untyped(Train):
            junctions = [make_invoice]


def test_a_train_whose_types_are_still_type_variables_is_refused() -> None:
    In = TypeVar("In")
    Out = TypeVar("Out")

    with pytest.raises(TrainDeclarationError, match=r"declare the input and output types"):

        class StillGeneric(Train[In, Out]):
            junctions = [make_invoice]


def test_an_abstract_base_is_not_checked_and_its_concrete_subclass_inherits_its_types() -> None:
    class BillingBase(Train[Order, Invoice], abstract=True):
        """Declares the types; subclasses choose the chain."""

    assert BillingBase.is_abstract

    class Billing(BillingBase):
        junctions = [make_invoice]

    assert not Billing.is_abstract
    assert Billing.input_type is Order
    assert Billing.output_type is Invoice
    assert Billing().run(Order(order_id=5, total=9)) == Invoice(order_id=5, amount=9)


def test_a_concrete_subclass_inherits_the_abstract_bases_junctions() -> None:
    class ChainBase(Train[Order, Receipt], abstract=True):
        junctions = [make_invoice, make_receipt]

    class Chain(ChainBase):
        pass

    assert [spec.name for spec in Chain.specs] == ["make_invoice", "make_receipt"]
    assert Chain().run(Order(order_id=2, total=1)) == Receipt(invoice_id=2)


def test_a_concrete_subclass_of_an_abstract_base_is_still_checked() -> None:
    class ReceiptBase(Train[Order, Receipt], abstract=True):
        pass

    with pytest.raises(TrainDeclarationError, match=r"make_receipt needs Invoice"):

        class Broken(ReceiptBase):
            junctions = [make_receipt]


def test_a_generic_abstract_base_can_be_specialised_by_its_subclass() -> None:
    In = TypeVar("In")
    Out = TypeVar("Out")

    class Pipeline(Train[In, Out], abstract=True):
        pass

    class Billing(Pipeline[Order, Invoice]):
        junctions = [make_invoice]

    assert (Billing.input_type, Billing.output_type) == (Order, Invoice)


def test_a_train_input_type_pydantic_cannot_handle_is_refused() -> None:
    def use(handle: Opaque) -> Invoice:
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError) as info:

        class Refused(Train[Opaque, Invoice]):
            junctions = [use]

    assert "input type" in str(info.value)
    assert "Opaque" in str(info.value)
    assert "JSON" in str(info.value)


def test_a_train_output_type_pydantic_cannot_handle_is_refused() -> None:
    def wrap(order: Order) -> Opaque:
        return Opaque(order)

    with pytest.raises(TrainDeclarationError) as info:

        class Refused(Train[Order, Opaque]):
            junctions = [wrap]

    assert "output type" in str(info.value)
    assert "Opaque" in str(info.value)


def test_intermediate_values_need_not_be_json_serialisable() -> None:
    def open_handle(order: Order) -> Opaque:
        return Opaque(order.order_id)

    def close_handle(handle: Opaque) -> Receipt:
        return Receipt(typing.cast(int, handle.handle))

    class WithHandle(Train[Order, Receipt]):
        junctions = [open_handle, close_handle]

    assert WithHandle().run(Order(order_id=8, total=0)) == Receipt(invoice_id=8)


def test_a_train_with_no_input_runs_junctions_that_take_nothing() -> None:
    def first_order() -> Order:
        return Order(order_id=1, total=10)

    class Seed(Train[None, Invoice]):
        junctions = [first_order, make_invoice]

    assert Seed.input_type is type(None)
    assert Seed().run(None) == Invoice(order_id=1, amount=10)


def test_a_train_with_no_input_cannot_ask_memory_for_one() -> None:
    with pytest.raises(TrainDeclarationError, match=r"make_invoice needs Order"):

        class Broken(Train[None, Invoice]):
            junctions = [make_invoice]


def test_a_train_with_no_output_returns_none() -> None:
    def record(order: Order) -> None:
        return None

    class Fire(Train[Order, None]):
        junctions = [record]

    assert Fire.output_type is type(None)
    assert Fire().run(Order(order_id=1, total=1)) is None


def test_a_junction_returning_none_provides_nothing_to_later_junctions() -> None:
    def record(order: Order) -> None:
        return None

    def needs_none(value: type(None)) -> Invoice:  # type: ignore[valid-type]
        return Invoice(1, 1)

    with pytest.raises(TrainDeclarationError, match=r"needs NoneType"):

        class Broken(Train[Order, Invoice]):
            junctions = [record, needs_none]


# Mixed junction kinds, the token parameter, names.


def test_function_and_class_junctions_can_be_mixed() -> None:
    class IssueReceipt(Junction):
        def run(self, invoice: Invoice) -> Receipt:
            return Receipt(invoice.order_id * 10)

    class Mixed(Train[Order, Shipment]):
        junctions = [MakeInvoice, make_receipt, ship]

    class MixedOtherWay(Train[Order, Receipt]):
        junctions = [make_invoice, IssueReceipt]

    assert Mixed().run(Order(order_id=4, total=1)) == Shipment(order_id=4)
    assert MixedOtherWay().run(Order(order_id=4, total=1)) == Receipt(invoice_id=40)


def test_a_cancellation_token_parameter_is_not_a_memory_input_and_gets_the_runs_token() -> None:
    received: list[CancellationToken] = []

    def watchful(order: Order, cancel: CancellationToken) -> Invoice:
        received.append(cancel)
        return Invoice(order.order_id, order.total)

    class Watchful(Train[Order, Invoice]):
        junctions = [watchful]

    assert Watchful.specs[0].token_parameter == "cancel"
    assert Watchful.specs[0].inputs == (("order", Order),)
    token = CancellationToken()
    Watchful().run(Order(order_id=1, total=1), token=token)
    assert received == [token]
    assert received[0] is token


def test_a_class_junction_can_take_the_token_as_a_parameter_too() -> None:
    received: list[CancellationToken] = []

    class Watchful(Junction):
        def run(self, order: Order, token: CancellationToken) -> Invoice:
            received.append(token)
            return Invoice(order.order_id, order.total)

    class UsesWatchful(Train[Order, Invoice]):
        junctions = [Watchful]

    token = CancellationToken()
    UsesWatchful().run(Order(order_id=1, total=1), token=token)
    assert received[0] is token


def test_a_trains_name_attribute_is_its_canonical_name() -> None:
    class Billing(Train[Order, Invoice]):
        name = "billing.invoice"
        junctions = [make_invoice]

    assert Billing.canonical_name() == "billing.invoice"


def test_without_a_name_the_canonical_name_is_module_and_qualified_name() -> None:
    class Billing(Train[Order, Invoice]):
        junctions = [make_invoice]

    assert Billing.canonical_name() == f"{__name__}.{Billing.__qualname__}"
    assert ModuleLevelTrain.canonical_name() == f"{__name__}.ModuleLevelTrain"
    assert ModuleLevelTrain.canonical_name().endswith("test_declaration.ModuleLevelTrain")


def test_a_junctions_name_attribute_names_its_spec() -> None:
    class Invoicer(Junction):
        name = "invoice-the-order"

        def run(self, order: Order) -> Invoice:
            return Invoice(order.order_id, order.total)

    class Billing(Train[Order, Invoice]):
        junctions = [Invoicer]

    assert Billing.specs[0].name == "invoice-the-order"


def test_declaration_errors_are_type_errors() -> None:
    assert issubclass(TrainDeclarationError, TypeError)
