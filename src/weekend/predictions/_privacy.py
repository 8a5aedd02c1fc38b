"""Personal data in the prediction log: input columns dropped or hashed before a segment is
written (never on disk as they arrived).

Names are input features (``email`` means the column ``in.email``), full input column names
(``in.email``) or ``row_key``. A hashed value is the hex HMAC-SHA256 of its text under the
log's ``hash_key``; without a key it is a plain sha256, which anyone can recompute for a
guessed value (an e-mail address, a phone number): give a secret key for such columns.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

from weekend.core.errors import InvalidValueError
from weekend.predictions._records import INPUT_PREFIX, OUTPUT_PREFIX


def _column_names(names: Iterable[str] | None, what: str) -> tuple[str, ...]:
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    found: list[str] = []
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name or name.startswith(OUTPUT_PREFIX):
            raise InvalidValueError(
                f"{what}[{index}] must name an input feature ('email' or 'in.email') or "
                f"'row_key', got {name!r:.80}",
                field=f"{what}[{index}]",
            )
        if name != "row_key" and not name.startswith(INPUT_PREFIX):
            name = INPUT_PREFIX + name
        found.append(name)
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class Privacy:
    """Which input columns a log drops and which it hashes (see module)."""

    drop: tuple[str, ...] = ()
    hash: tuple[str, ...] = ()
    hash_key: bytes | None = None

    @classmethod
    def of(
        cls,
        drop: Iterable[str] | None,
        hash: Iterable[str] | None,
        hash_key: str | bytes | None,
    ) -> Privacy:
        dropped = _column_names(drop, "drop_inputs")
        hashed = _column_names(hash, "hash_inputs")
        both = sorted(set(dropped) & set(hashed))
        if both:
            raise InvalidValueError(
                f"{both[0]!r} is both dropped and hashed; name it in one of drop_inputs and "
                "hash_inputs",
                field="hash_inputs",
            )
        if hash_key is not None and not isinstance(hash_key, str | bytes):
            raise InvalidValueError(
                f"hash_key must be text or bytes, got {type(hash_key).__name__}", field="hash_key"
            )
        key = hash_key.encode() if isinstance(hash_key, str) else hash_key
        return cls(dropped, hashed, key or None)

    def __bool__(self) -> bool:
        return bool(self.drop or self.hash)

    def digest(self, value: object) -> str:
        text = value if isinstance(value, str) else str(value)
        data = text.encode("utf-8", "surrogatepass")
        if self.hash_key is None:
            return hashlib.sha256(data).hexdigest()
        return hmac.new(self.hash_key, data, hashlib.sha256).hexdigest()

    def apply(self, table: pa.Table) -> pa.Table:
        """``table`` without the dropped columns and with the hashed ones as hex digests."""
        present = set(table.column_names)
        table = table.drop_columns([name for name in self.drop if name in present])
        for name in self.hash:
            if name not in present:
                continue
            values = table.column(name).to_pylist()
            hashed = pa.array([None if v is None else self.digest(v) for v in values], pa.string())
            table = table.set_column(table.column_names.index(name), name, hashed)
        return table


__all__ = ["Privacy"]
