"""Spatial geometry of a net's operations and of the modules that undo them. Pure Python, no TensorFlow.

A forward operation (convolution or pooling) is described by its kernel, stride and padding
(:class:`OpGeometry`); it maps an input of ``n`` pixels to

* ``SAME``:  ``ceil(n / s)``,
* ``VALID``: ``floor((n - k) / s) + 1``

pixels (TensorFlow's and Caffe's convention for these nets). An inversion module that undoes such an operation
must give back *exactly* ``n`` pixels, and ``n`` is not a function of the output size alone: AlexNet's 3x3 /
stride-2 pools map both 55 and 56 to 27, VGG16's 2x2 / stride-2 pools map both 56 and 57 to 28. So a module
is always told the size of its target (:func:`up_size` is the size its transposed convolution produces
naturally, :func:`fit_slices` how that is cropped or edge-padded to the exact target). Pixels that no forward
window reads (the last row of an odd-sized input to a 2x2/2 pool) carry no information; the module repeats the
edge there.

How the up-sampling operation of a module is chosen (:meth:`OpGeometry.up_op`), following the thesis code
(frhrdr/deep_restoration, ``modules/inv_default_modules.py``):

* a ``VALID`` operation whose kernel differs from its stride (AlexNet's conv1 11x11/4, its 3x3/2 pools) is
  undone by a ``VALID`` transposed convolution with the operation's own kernel and stride: ``(m - 1) s + k``
  pixels from ``m``, which is the exact size whenever the forward operation read every input pixel;
* every other operation (SAME convolutions, VGG16's 2x2/2 pools, stride 1) by a ``SAME`` transposed
  convolution with the module's kernel: ``m s`` pixels from ``m``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

PADDINGS = ("SAME", "VALID")


@dataclass(frozen=True)
class OpGeometry:
    """Kernel, stride and padding of one spatial operation (square kernels and strides).

    ``OpGeometry()`` is a pointwise operation (ReLU, LRN, 1x1 SAME): it keeps the size.
    """

    kernel: int = 1
    stride: int = 1
    padding: str = "SAME"

    def __post_init__(self):
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        for name in ("kernel", "stride"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"OpGeometry.{name} must be a positive int, got {v!r}")

    @property
    def resizes(self) -> bool:
        """Whether the operation changes the spatial size (a stride, or a VALID window wider than 1)."""
        return self.stride > 1 or (self.padding == "VALID" and self.kernel > 1)

    def out_size(self, n: int) -> int:
        """Output pixels for ``n`` input pixels (one axis)."""
        if self.padding == "SAME":
            return -(-n // self.stride)
        if n < self.kernel:
            raise ValueError(f"an input of {n} px is smaller than the {self.kernel}x{self.kernel} VALID window")
        return (n - self.kernel) // self.stride + 1

    def out_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        return self.out_size(int(hw[0])), self.out_size(int(hw[1]))

    def in_sizes(self, m: int) -> range:
        """Every input size that this operation maps to ``m`` output pixels."""
        if self.padding == "SAME":
            return range(self.stride * (m - 1) + 1, self.stride * m + 1)
        first = (m - 1) * self.stride + self.kernel
        return range(first, first + self.stride)

    def up_op(self, module_kernel: int) -> "UpOp":
        """The transposed convolution a module uses to undo this operation (see the module docstring)."""
        if self.padding == "VALID" and self.kernel != self.stride and self.kernel > 1:
            return UpOp(kernel=self.kernel, stride=self.stride, padding="VALID")
        return UpOp(kernel=int(module_kernel), stride=self.stride, padding="SAME")

    def describe(self) -> str:
        if not self.resizes and self.kernel == 1:
            return "size-preserving"
        return f"{self.kernel}x{self.kernel}/{self.stride} {self.padding}"


IDENTITY = OpGeometry()


@dataclass(frozen=True)
class UpOp:
    """The up-sampling (transposed) convolution of a module: kernel, stride, padding."""

    kernel: int
    stride: int
    padding: str

    def natural_size(self, m: int) -> int:
        """Pixels the transposed convolution produces from ``m`` before fitting to the target."""
        if self.padding == "VALID":
            return (m - 1) * self.stride + self.kernel
        return m * self.stride


def up_size(up: UpOp, hw: tuple[int, int]) -> tuple[int, int]:
    """Natural output size (both axes) of ``up`` for an input of ``hw`` pixels."""
    return up.natural_size(int(hw[0])), up.natural_size(int(hw[1]))


def fit_slices(natural: int, target: int) -> tuple[int, int]:
    """``(crop, pad)`` at the bottom/right that turn ``natural`` pixels into ``target``: one of them is 0."""
    return max(natural - target, 0), max(target - natural, 0)


def compose(geoms: Iterable[OpGeometry], *, where: str = "") -> OpGeometry:
    """The one resizing operation among ``geoms`` (or :data:`IDENTITY`); a span with two is refused.

    A module inverts one resizing operation (plus any number of size-preserving ones, e.g. ReLU, LRN, a 3x3
    SAME convolution); two strided operations in one module would need two up-sampling steps.
    """
    resizing = [g for g in geoms if g.resizes]
    if len(resizing) > 1:
        raise ValueError(
            f"{where or 'this span'} contains {len(resizing)} resizing operations "
            f"({', '.join(g.describe() for g in resizing)}); split it into one module per resizing "
            f"operation"
        )
    if resizing:
        return resizing[0]
    # size-preserving: keep the widest window (for FLOP counts and descriptions), stride 1, SAME
    k = max((g.kernel for g in geoms), default=1)
    return OpGeometry(kernel=k, stride=1, padding="SAME") if k > 1 else IDENTITY
