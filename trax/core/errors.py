"""Errors raised by the train engine."""


class TraxError(Exception):
    """Base class of every error trax raises on purpose."""


class TrainDeclarationError(TraxError, TypeError):
    """A train or junction is declared wrongly (caught when it is defined, not when it runs)."""


class MissingInputError(TraxError, LookupError):
    """A junction asked memory for a type nothing has provided."""


class SerializationError(TraxError, ValueError):
    """A value cannot be turned into JSON (never pickled instead)."""


class InputValidationError(TraxError, ValueError):
    """A train input does not match the train's declared input type."""


class NoActiveRun(TraxError, LookupError):
    """``current_run()`` was called outside a running train."""
