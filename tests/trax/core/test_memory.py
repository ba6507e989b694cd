"""A train's memory: one value per exact class."""

from dataclasses import dataclass

import pytest

from trax.core import MissingInputError
from trax.core.memory import Memory


@dataclass
class Animal:
    name: str


@dataclass
class Dog(Animal):
    pass


def test_a_stored_value_is_returned_for_its_class() -> None:
    memory = Memory()
    rex = Dog("rex")
    memory.put(Dog, rex)
    assert memory.get(Dog) is rex
    assert Dog in memory
    assert memory.types() == (Dog,)


def test_values_are_keyed_by_exact_class_not_by_subclass() -> None:
    memory = Memory()
    memory.put(Dog, Dog("rex"))
    assert Animal not in memory
    with pytest.raises(MissingInputError, match=r"memory holds no Animal"):
        memory.get(Animal)


def test_a_later_value_of_the_same_class_replaces_the_earlier_one() -> None:
    memory = Memory()
    memory.put(Animal, Animal("first"))
    memory.put(Animal, Animal("second"))
    assert memory.get(Animal) == Animal("second")
    assert memory.types() == (Animal,)


def test_asking_for_a_class_nothing_provided_is_a_missing_input_error() -> None:
    with pytest.raises(MissingInputError) as info:
        Memory().get(Animal)
    assert isinstance(info.value, LookupError)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
