"""JSON in and out of train inputs and outputs via pydantic v2 ``TypeAdapter`` (never pickle)."""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from trax.core.annotations import NONE_TYPE, type_name
from trax.core.errors import InputValidationError, SerializationError, TrainDeclarationError


@functools.cache
def adapter_for(value_type: type) -> TypeAdapter[Any]:
    """The cached adapter of a type; TrainDeclarationError if pydantic cannot handle it."""
    try:
        return TypeAdapter(value_type)
    except PydanticSchemaGenerationError as error:
        raise TrainDeclarationError(
            f"{type_name(value_type)} cannot be converted to and from JSON: {error}"
        ) from None


def to_json(value_type: type, value: Any, *, what: str) -> Any:
    """``value`` as JSON-compatible data; SerializationError naming ``what`` if it can't be."""
    if value_type is NONE_TYPE:
        return None
    try:
        data = adapter_for(value_type).dump_python(value, mode="json", warnings="error")
        # Strict JSON, as PostgreSQL's jsonb stores it: no NaN or infinity, no NUL characters.
        if "\\u0000" in json.dumps(data, allow_nan=False):
            raise ValueError("text contains a NUL character (\\x00)")
    except (PydanticSerializationError, TypeError, ValueError) as error:
        raise SerializationError(
            f"{what} of type {type_name(type(value))} cannot be serialised as JSON: {error}"
        ) from None
    return data


def from_json(value_type: type, data: Any, *, what: str) -> Any:
    """Validate ``data`` into ``value_type``; InputValidationError naming each bad field."""
    if value_type is NONE_TYPE:
        if data is not None:
            raise InputValidationError(f"{what} takes no input; got {data!r}")
        return None
    try:
        return adapter_for(value_type).validate_python(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in error.errors()
        )
        raise InputValidationError(
            f"{what} does not match {type_name(value_type)}: {problems}"
        ) from None


def normalise(
    value_type: type, value: Any, *, what: str, max_bytes: int | None = None
) -> tuple[Any, Any]:
    """Validate ``value`` (an instance or JSON-like data) and return ``(value, json_data)``;
    with ``max_bytes``, its JSON may be at most that long (``InputValidationError``).

    The value is rebuilt from its JSON form, so what runs is exactly what can be stored and
    replayed by a worker later.
    """
    if isinstance(value, value_type) and value_type is not NONE_TYPE:
        try:
            data = to_json(value_type, value, what=what)
        except SerializationError as error:  # an instance whose fields break its own types
            raise InputValidationError(
                f"{what} does not match {type_name(value_type)}: {error}"
            ) from None
    else:
        data = value
    validated = from_json(value_type, data, what=what)
    try:
        stored = to_json(value_type, validated, what=what)
    except SerializationError as error:  # NaN, NUL: valid Python, not storable JSON
        raise InputValidationError(str(error)) from None
    if max_bytes is not None:
        size = len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode())
        if size > max_bytes:
            raise InputValidationError(
                f"{what} is {size:,} bytes of JSON; MAX_INPUT_BYTES allows at most {max_bytes:,}"
            )
    return validated, stored
