"""One config schema for every experiment family: each family declares the kinds of its keys, and :func:`check`
gives the same one-line errors for all of them (``config KEY=VALUE: must be ..., e.g. `with KEY=...` ``).

What a family checks beyond these kinds (a variant among the figure's variants, a square number of crops, the
held-out photos) stays in the family, next to the setting it is about.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

KINDS = ("count", "number", "fraction", "schedule", "names")


@dataclass(frozen=True)
class Key:
    """The kind of one config key: ``count`` (an integer >= 1, or >= ``least``), ``number`` (positive and
    finite), ``fraction`` (in (0, 1)), ``schedule`` (``[[step, lr], ...]`` from step 0) or ``names`` (a non-empty
    list of strings); ``optional``: None is allowed; ``example``: shown in the error."""

    kind: str
    example: object = None
    optional: bool = False
    least: int = 1
    unit: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"config kind {self.kind!r}: use one of {KINDS}")


def count(example=None, *, optional: bool = False, least: int = 1, unit: str = "") -> Key:
    return Key("count", example, optional, least, unit)


def number(example=None, *, optional: bool = False) -> Key:
    return Key("number", example, optional)


def fraction(example=0.1) -> Key:
    return Key("fraction", example)


def schedule(example=((0, 1e-3), (500, 3e-4))) -> Key:
    return Key("schedule", example, optional=True)


def names(example=("conv3_3",)) -> Key:
    return Key("names", example)


def _example(key: str, k: Key) -> str:
    value = list(k.example) if isinstance(k.example, tuple) else k.example
    return f", e.g. `with {key}={value}`" if k.example is not None else ""


def problem(key: str, value, k: Key) -> str | None:
    """Why ``value`` is not a valid ``key`` of kind ``k`` (one line), or None."""
    if value is None and k.optional:
        return None
    if k.kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            return (
                f"config {key}={value!r}: must be a positive integer"
                + (" or None" if k.optional else "")
                + _example(key, k)
            )
        if value < k.least:
            return f"config {key}={value}: too small, use at least {k.least}{k.unit}" + _example(key, k)
        return None
    if k.kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
            return f"config {key}={value!r}: must be a positive number" + _example(key, k)
        return None
    if k.kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            return f"config {key}={value!r}: must be in (0, 1), e.g. {k.example}"
        return None
    if k.kind == "schedule":
        from restoration.optim.schedule import Schedule

        try:
            Schedule.of(value)
        except (TypeError, ValueError) as e:
            return (
                f"config {key}={value!r}: must be [[step, lr], ...] from step 0, e.g. "
                f"{[list(p) for p in k.example]} ({e})"
            )
        return None
    if (
        isinstance(value, str)
        or not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, str) for v in value)
    ):
        return f"config {key}={value!r}: must be a non-empty list of names" + _example(key, k)
    return None


def check(cfg: Mapping, schema: Mapping[str, Key]) -> None:
    """Raise ``ValueError`` with one line for the first key of ``schema`` whose value in ``cfg`` is not of its
    kind (keys absent from ``cfg`` are left to Sacred, which fills every declared key)."""
    for key, k in schema.items():
        if key in cfg:
            why = problem(key, cfg[key], k)
            if why:
                raise ValueError(why)
