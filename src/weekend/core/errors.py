"""The one exception tree of weekend.

::

    WeekendError                  base of everything weekend raises on purpose
    ├── UserInputError            the caller passed something wrong (name, value, data, request)
    │   ├── InvalidNameError      a name or key that is not allowed (path traversal, characters)
    │   ├── InvalidValueError     a value of the wrong type, range or length
    │   ├── FilterSyntaxError     a search filter that does not parse (points at the character)
    │   ├── ParamConflictError    a parameter set again with a different value
    │   └── DataValidationError   data that does not match a schema or expectations
    ├── NotFoundError             a run, experiment, model, dataset ... that does not exist
    ├── ConflictError             a state change not allowed now (logging to a finished run)
    ├── ConfigurationError        bad settings, missing optional dependency, unreachable backend
    │   └── CatalogVersionError   the catalog was written by a newer weekend than this one
    ├── IntegrityError            stored data does not match its recorded hash, or is unreadable
    ├── UnsafeModelError          loading would run code and the caller did not say trusted=True
    └── UserCodeError             an exception raised inside user code (``__cause__`` kept)

HTTP status codes belong to the HTTP layer, which maps these classes; domain code never
chooses one.
"""

from __future__ import annotations


class WeekendError(Exception):
    """Base class of every error weekend raises on purpose.

    ``field`` optionally names the input at fault (``"entities[3].driver_id"``), for the
    edges (HTTP, CLI) to report beside the message.
    """

    field: str | None = None

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


class UserInputError(WeekendError, ValueError):
    """The caller passed something wrong."""


class InvalidNameError(UserInputError):
    """A name or key that is not allowed."""


class InvalidValueError(UserInputError):
    """A value of the wrong type, range or length."""


class FilterSyntaxError(UserInputError):
    """A search filter that does not parse.

    ``position`` is the 0-based offset of the offending character in ``text``.
    """

    def __init__(self, message: str, text: str, position: int) -> None:
        self.text = text
        self.position = position
        pointer = " " * position + "^"
        super().__init__(f"{message} at position {position}:\n  {text}\n  {pointer}")


class ParamConflictError(UserInputError):
    """A parameter set again with a different value."""


class DataValidationError(UserInputError):
    """Data that does not match a schema or expectations."""


class NotFoundError(WeekendError, LookupError):
    """Something that was asked for does not exist."""


class ConflictError(WeekendError):
    """A state change that is not allowed in the current state."""


class ConfigurationError(WeekendError):
    """Bad settings, a missing optional dependency or an unreachable backend."""


class CatalogVersionError(ConfigurationError):
    """The catalog was written by a newer version of weekend."""


class IntegrityError(WeekendError):
    """Stored data does not match its recorded hash, or cannot be read."""


class UnsafeModelError(WeekendError):
    """Loading a model would run code and the caller did not pass ``trusted=True``."""


class UserCodeError(WeekendError):
    """An exception raised inside user code; the original is kept as ``__cause__``."""


__all__ = [
    "CatalogVersionError",
    "ConfigurationError",
    "ConflictError",
    "DataValidationError",
    "FilterSyntaxError",
    "IntegrityError",
    "InvalidNameError",
    "InvalidValueError",
    "NotFoundError",
    "ParamConflictError",
    "UnsafeModelError",
    "UserCodeError",
    "UserInputError",
    "WeekendError",
]
