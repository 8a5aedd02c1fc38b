"""Text the registry stores (descriptions, alias reasons, actors) is checked at the call: a NUL
byte, which PostgreSQL refuses, never reaches the catalog as a raw DataError."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from weekend import InvalidValueError, Workspace


def test_nul_bytes_are_refused_where_the_user_passes_them(ws_any: Workspace) -> None:
    x = np.arange(20, dtype=float).reshape(10, 2)
    model = LogisticRegression().fit(x, np.arange(10) % 2)
    with pytest.raises(InvalidValueError, match=r"description must be text without NUL"):
        ws_any.models.register(model, "m", description="bad\x00text")
    assert ws_any.models.list() == []
    version = ws_any.models.register(model, "m")
    with pytest.raises(InvalidValueError, match=r"reason must be text without NUL"):
        ws_any.models.set_alias("m", version.version, "champion", reason="a\x00b")
    with pytest.raises(InvalidValueError, match=r"actor must be text without NUL"):
        ws_any.models.set_alias("m", version.version, "champion", actor="me\x00")
    assert ws_any.models.aliases("m") == {}
