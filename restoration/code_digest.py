"""The digest of the code that computes a run's numbers, and what a run loaded (priors, stored modules).

A stored result says what made it (issue 28): a claim pairs only runs made by the same code, and a run that loaded
a prior or a trained module made by other code is not current. :func:`code_digest` hashes the syntax of every
module of the library (``restoration``) and of the experiments (``restoration_experiments``): their abstract
syntax trees with docstrings dropped, so an edit of a comment or a docstring leaves runs current while any change
of a statement, a default or a setting does not. It is the same in a checkout and in an installed wheel (it reads
the files Python imports, not git). The report (``restoration_reports``) is left out: it computes no stored number.

:func:`note` records an input a run loaded (kind, name, its own digest, the code digest that made it);
``tracking`` clears the list when a run starts and stores it with the run's report payload.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

#: the packages whose code computes stored numbers
PACKAGES = ("restoration", "restoration_experiments")


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(text: str) -> str:
    """The digest of one module's source: its syntax without docstrings (comments and layout never reach it)."""
    tree = _strip_docstrings(ast.parse(text))
    return hashlib.sha1(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def _package_root(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {name!r} is not importable; install the project (make install)")
    return Path(list(spec.submodule_search_locations)[0])


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A 12-hex digest of every ``.py`` file of :data:`PACKAGES` (path and syntax), computed once per process."""
    h = hashlib.sha1()
    for package in PACKAGES:
        root = _package_root(package)
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            h.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            h.update(source_digest(path.read_text(encoding="utf-8")).encode())
    return h.hexdigest()[:12]


@dataclass(frozen=True)
class Loaded:
    """One input a run loaded: ``kind`` ("prior", "module"), its name, its own digest or id, and the code digest
    that made it ("" when it was made before code digests were recorded)."""

    kind: str
    name: str
    ident: str
    code: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "ident": self.ident, "code": self.code}


_LOADED: list[Loaded] = []


def clear() -> None:
    """Forget what earlier runs of this process loaded (called when a run starts)."""
    _LOADED.clear()


def note(kind: str, name: str, ident: str, code: str | None) -> None:
    """Record that the current run loaded input ``name`` (see :class:`Loaded`)."""
    item = Loaded(str(kind), str(name), str(ident), str(code or ""))
    if item not in _LOADED:
        _LOADED.append(item)


def loaded() -> tuple[Loaded, ...]:
    """What the current run has loaded so far, in order."""
    return tuple(_LOADED)
