"""The cache key of a step: what it computes from, hashed part by part.

Key = sha256 over these parts (each kept, so that ``explain`` can say which one moved):

- ``source``: the step function's code, as its syntax tree (comments, blank lines, layout and
  decorators do not count; the docstring does, and so does the function's name);
- ``helpers``: each project-local function it calls, found by walking the code objects'
  global names recursively (library code, i.e. anything installed in site-packages or the
  standard library, is covered by ``environment`` instead), and simple module constants;
- ``params``: its parameters (canonical JSON);
- ``inputs``: the content sha256 of each upstream output;
- ``environment``: the installed distributions' names and versions.

The module the function lives in, and its file, are not part of the key: moving a step to
another file or renaming its module keeps its cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import inspect
import sys
import sysconfig
import textwrap
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from weekend.core.errors import InvalidValueError

_CONSTANTS = (int, float, str, bool, bytes, type(None))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.lru_cache(maxsize=1)
def environment_hash() -> str:
    """The sha256 of the installed distributions ``name==version``, sorted."""
    pins = sorted(
        {
            f"{(dist.metadata['Name'] or '').lower()}=={dist.version}"
            for dist in importlib.metadata.distributions()
        }
    )
    return _sha("\n".join(pins).encode())


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    roots.add(str(Path(__file__).resolve().parents[1]))
    return tuple(sorted(roots))


def is_library_file(path: str) -> bool:
    """Whether a file belongs to installed code (the standard library, site-packages, weekend)."""
    return path.startswith(_library_roots())


def _is_project_function(fn: Any) -> bool:
    if not isinstance(fn, types.FunctionType):
        return False
    code_file = fn.__code__.co_filename
    return not code_file.startswith("<") and not is_library_file(code_file)


def _unwrap(value: Any) -> Any:
    inner = getattr(value, "fn", None)  # a Step or a Pipeline
    return inner if isinstance(inner, types.FunctionType) else value


@functools.lru_cache(maxsize=4096)
def _code_hash(code: types.CodeType) -> str:
    """The hash of a function's syntax tree without decorators; bytecode if no source."""
    try:
        source = textwrap.dedent(inspect.getsource(code))
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                node.decorator_list = []
                break
        return _sha(ast.dump(tree, annotate_fields=False).encode())
    except (OSError, TypeError, SyntaxError):
        return _sha(code.co_code + repr(code.co_consts).encode())


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def source_hash(fn: Callable[..., Any]) -> str:
    return _code_hash(_unwrap(fn).__code__)


def helper_hashes(fn: Callable[..., Any]) -> dict[str, str]:
    """``{qualname: hash}`` of the project-local functions and constants ``fn`` reaches."""
    found: dict[str, str] = {}
    seen: set[int] = set()
    stack = [_unwrap(fn)]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        scope = current.__globals__
        for name in sorted(_global_names(current.__code__)):
            value = _unwrap(scope.get(name))
            if _is_project_function(value) and value is not current:
                found[value.__qualname__] = _code_hash(value.__code__)
                stack.append(value)
            elif isinstance(value, _CONSTANTS) and name in scope and not name.startswith("__"):
                found[f"{current.__qualname__}:{name}"] = _sha(repr(value).encode())
        for cell in current.__closure__ or ():
            try:
                inner = _unwrap(cell.cell_contents)
            except ValueError:
                continue
            if _is_project_function(inner):
                found[inner.__qualname__] = _code_hash(inner.__code__)
                stack.append(inner)
    found.pop(_unwrap(fn).__qualname__, None)
    return dict(sorted(found.items()))


def params_json(params: Mapping[str, Any], step_name: str) -> bytes:
    """Canonical JSON of a step's parameters; a value JSON cannot hold is refused."""
    try:
        return orjson.dumps(dict(params), option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError as exc:
        raise InvalidValueError(
            f"step {step_name!r}: parameters must be JSON values (numbers, strings, lists, "
            f"dicts) to be part of its cache key ({exc}); pass other objects as the output "
            "of a step",
            field=f"{step_name}.params",
        ) from None


def key_parts(
    fn: Callable[..., Any], params: Mapping[str, Any], inputs: Mapping[str, str], step_name: str
) -> dict[str, Any]:
    """Every part of the key, each a hash (helpers and inputs per name)."""
    return {
        "source": source_hash(fn),
        "helpers": helper_hashes(fn),
        "params": {k: _sha(params_json({k: v}, step_name)) for k, v in sorted(params.items())},
        "inputs": dict(sorted(inputs.items())),
        "environment": environment_hash(),
    }


def cache_key(parts: Mapping[str, Any]) -> str:
    return _sha(orjson.dumps(dict(parts), option=orjson.OPT_SORT_KEYS))


def diff_parts(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Human lines naming each part that differs between two keys' parts."""
    lines: list[str] = []
    for part in ("source", "helpers", "params", "inputs", "environment"):
        old, new = before.get(part), after.get(part)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for name in sorted(set(old) | set(new)):
                if name not in old:
                    lines.append(f"{part}: {name!r} is new")
                elif name not in new:
                    lines.append(f"{part}: {name!r} is gone")
                elif old[name] != new[name]:
                    lines.append(f"{part}: {name!r} changed")
        else:
            lines.append(f"{part} changed")
    return lines
