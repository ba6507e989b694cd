"""The registry: canonical names, the allow-list of what runs by name."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import trax
from trax.registry import (
    DuplicateTrainError,
    TrainRegistry,
    UnknownTrainError,
    registry,
    resolve_train,
)


@dataclass
class In:
    x: int


def step(value: In) -> In:
    return value


class Unnamed(trax.Train[In, In]):
    junctions = [step]


class Named(trax.Train[In, In]):
    name = "billing.named"
    junctions = [step]


def test_the_canonical_name_is_explicit_or_module_and_qualname() -> None:
    assert Named.canonical_name() == "billing.named"
    assert Unnamed.canonical_name() == "tests.trax.test_registry.Unnamed"


def test_autodiscovery_registers_the_trains_modules_of_installed_apps() -> None:
    assert {"demo.greet", "demo.always_fails", "demo.slow"} <= set(registry.names())


def test_registering_another_class_under_a_taken_name_is_refused() -> None:
    local = TrainRegistry()
    local.add(Named)

    class Impostor(trax.Train[In, In]):
        name = "billing.named"
        junctions = [step]

    with pytest.raises(DuplicateTrainError, match=r"'billing\.named' is taken"):
        local.add(Impostor)
    assert local.get("billing.named") is Named


def test_registering_the_same_class_twice_is_harmless() -> None:
    local = TrainRegistry()
    local.add(Named)
    local.add(Named)
    assert local.names() == ["billing.named"]


def test_register_with_a_name_sets_the_canonical_name() -> None:
    class Renamed(trax.Train[In, In]):
        junctions = [step]

    try:
        trax.register(name="tests.renamed")(Renamed)
        assert Renamed.canonical_name() == "tests.renamed"
        assert registry.get("tests.renamed") is Renamed
    finally:
        registry.remove("tests.renamed")


def test_abstract_trains_and_non_trains_cannot_be_registered() -> None:
    class Base(trax.Train[In, In], abstract=True):
        pass

    local = TrainRegistry()
    with pytest.raises(TypeError, match="abstract"):
        local.add(Base)
    with pytest.raises(TypeError, match="not a Train subclass"):
        local.add(int)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["tests.unknown", 42, None, object])
def test_unknown_names_and_non_trains_are_clear_errors(bad: object) -> None:
    with pytest.raises(UnknownTrainError):
        resolve_train(bad)  # type: ignore[arg-type]
