"""JSON in and out of train inputs and outputs through pydantic (never pickle)."""

import json
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from trax.core import InputValidationError, SerializationError, TrainDeclarationError, TraxError
from trax.core.serialization import adapter_for, from_json, normalise, to_json

NONE_TYPE = type(None)


@dataclass
class Customer:
    email: str
    vip: bool = False


@dataclass
class Order:
    order_id: int
    customer: Customer
    placed_at: datetime
    lines: list[str] = field(default_factory=list)


class Refund(pydantic.BaseModel):
    order_id: int
    amount: Decimal
    reason: str = "unspecified"


@dataclass
class Envelope:
    payload: Any


class Opaque:
    """A plain class pydantic cannot describe."""

    def __init__(self, handle: object) -> None:
        self.handle = handle


PLACED_AT = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

ORDER_DATA = {
    "order_id": 7,
    "customer": {"email": "ada@example.com"},
    "placed_at": "2024-05-01T12:30:00Z",
    "lines": ["tea"],
}


@pytest.fixture
def no_pickling(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("pickle must never be used")

    monkeypatch.setattr(pickle, "dumps", refuse)
    monkeypatch.setattr(pickle, "dump", refuse)


def test_normalise_validates_a_dict_into_a_dataclass_and_returns_json_data() -> None:
    value, data = normalise(Order, ORDER_DATA, what="input")

    assert value == Order(7, Customer("ada@example.com"), PLACED_AT, ["tea"])
    assert isinstance(value.customer, Customer)
    assert data == {
        "order_id": 7,
        "customer": {"email": "ada@example.com", "vip": False},
        "placed_at": "2024-05-01T12:30:00Z",
        "lines": ["tea"],
    }
    assert json.loads(json.dumps(data)) == data


def test_normalise_validates_a_dict_into_a_pydantic_model() -> None:
    value, data = normalise(Refund, {"order_id": "3", "amount": "9.50"}, what="input")

    assert value == Refund(order_id=3, amount=Decimal("9.50"))
    assert data == {"order_id": 3, "amount": "9.50", "reason": "unspecified"}


def test_normalise_rebuilds_an_instance_from_its_json_form() -> None:
    original = Order(7, Customer("ada@example.com", vip=True), PLACED_AT)

    value, data = normalise(Order, original, what="input")

    assert value == original
    assert value is not original
    assert data["customer"] == {"email": "ada@example.com", "vip": True}


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_normalise_of_an_instance_with_a_wrongly_typed_field_is_refused() -> None:
    broken = Order(7, Customer("ada@example.com"), PLACED_AT, lines="tea")  # type: ignore[arg-type]
    with pytest.raises(InputValidationError, match=r"lines"):
        normalise(Order, broken, what="input")


def test_a_wrong_shape_is_an_input_validation_error_naming_the_field() -> None:
    with pytest.raises(InputValidationError) as info:
        normalise(Order, {**ORDER_DATA, "order_id": "not a number"}, what="train input")

    message = str(info.value)
    assert "train input" in message
    assert "Order" in message
    assert "order_id" in message


def test_a_missing_nested_field_is_named_by_its_path() -> None:
    with pytest.raises(InputValidationError, match=r"customer\.email: Field required"):
        normalise(Order, {**ORDER_DATA, "customer": {}}, what="input")


def test_every_bad_field_is_named() -> None:
    with pytest.raises(InputValidationError) as info:
        from_json(Refund, {"amount": "lots"}, what="input")
    assert "order_id" in str(info.value)
    assert "amount" in str(info.value)


def test_a_value_of_the_wrong_kind_altogether_is_named_at_the_root() -> None:
    with pytest.raises(InputValidationError, match=r"\(root\)"):
        from_json(int, "seven", what="input")


def test_input_validation_errors_are_value_errors_and_trax_errors() -> None:
    assert issubclass(InputValidationError, ValueError)
    assert issubclass(InputValidationError, TraxError)


def test_to_json_of_a_value_pydantic_cannot_serialise_is_a_serialization_error_naming_the_type(
    no_pickling: None,
) -> None:
    with pytest.raises(SerializationError) as info:
        to_json(Envelope, Envelope(payload=Opaque(1)), what="output")

    message = str(info.value)
    assert "output" in message
    assert "Envelope" in message
    assert "Opaque" in message
    assert issubclass(SerializationError, TraxError)


def test_to_json_returns_json_compatible_data(no_pickling: None) -> None:
    data = to_json(Refund, Refund(order_id=1, amount=Decimal("2.5")), what="output")
    assert data == {"order_id": 1, "amount": "2.5", "reason": "unspecified"}
    assert json.loads(json.dumps(data)) == data


def test_to_json_and_from_json_round_trip() -> None:
    original = Order(7, Customer("ada@example.com"), PLACED_AT, ["tea", "cake"])
    assert from_json(Order, to_json(Order, original, what="x"), what="x") == original


def test_from_json_for_no_type_accepts_only_none() -> None:
    assert from_json(NONE_TYPE, None, what="input") is None
    with pytest.raises(InputValidationError, match=r"takes no input"):
        from_json(NONE_TYPE, {"order_id": 1}, what="input")


def test_to_json_and_normalise_for_no_type_give_none() -> None:
    assert to_json(NONE_TYPE, None, what="output") is None
    assert normalise(NONE_TYPE, None, what="input") == (None, None)
    with pytest.raises(InputValidationError):
        normalise(NONE_TYPE, 0, what="input")


def test_a_type_pydantic_cannot_handle_is_a_declaration_error() -> None:
    with pytest.raises(TrainDeclarationError, match=r"Opaque cannot be converted"):
        adapter_for(Opaque)


def test_adapters_are_built_once_per_type() -> None:
    assert adapter_for(Refund) is adapter_for(Refund)
