"""Every artifact store backend passes the public conformance suite (``weekend.testing``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from weekend.artifacts import (
    ArtifactStore,
    LocalBackend,
    artifact_backend_kinds,
    register_artifact_backend,
)
from weekend.testing import Check, artifact_store_checks, parametrize_with_checks, run_checks


@pytest.fixture(params=["local", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    """A store on a fresh root: a local folder, or fsspec's ``memory://``."""
    if request.param == "local":
        yield ArtifactStore(str(tmp_path / "store"))
        return
    import fsspec

    name = f"weekend-test-{uuid.uuid4().hex}"
    yield ArtifactStore(f"memory://{name}")
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{name}"):
        memory.rm(f"/{name}", recursive=True)


@parametrize_with_checks(artifact_store_checks())
def test_artifact_store(check: Check[ArtifactStore], store: ArtifactStore) -> None:
    check.run(store)


class CopyingBackend(LocalBackend):
    """A backend whose rename copies and leaves the source: what the suite must catch."""

    def rename(self, src: str, dst: str) -> None:
        with self.open(src) as handle:
            self.write(dst, [handle.read()])


def test_a_backend_registered_by_scheme_is_used_and_the_suite_catches_its_bug(
    tmp_path: Path,
) -> None:
    register_artifact_backend("copying", lambda root: CopyingBackend(root.split("://")[1]))
    assert {"copying", "file", "*"} <= set(artifact_backend_kinds())
    counter = iter(range(1000))

    def make() -> ArtifactStore:
        return ArtifactStore(f"copying://{tmp_path / str(next(counter))}")

    assert isinstance(make().backend, CopyingBackend)
    with pytest.raises(AssertionError, match="conformance check 'the_backend_verbs' failed"):
        run_checks([c for c in artifact_store_checks() if c.name == "the_backend_verbs"], make)
    empty_blob = [c for c in artifact_store_checks() if c.name == "an_empty_blob"]
    assert run_checks(empty_blob, make) == []
