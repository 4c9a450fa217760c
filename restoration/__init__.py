"""deep-restoration: inverting deep image representations (VGG16, AlexNet) by trained and optimised pre-images.

Modules, lowest layer first: ``errors``, ``geometry``, ``measures``, ``metrics``, ``payload``, ``plots``,
``nets``, ``data``, ``registry``, ``priors``, ``training`` (the one training loop), ``modules`` (trained
inverters as data and layers), ``stack_training`` (stacked / end to end / joint / merged), ``reconstruction``,
``module_store``, ``stack_tables``, ``inversion`` (optimisation pre-images) and ``inversion_tables``,
``recipes``, ``tracking`` (Sacred glue), ``cli``. Nothing here imports Sacred except ``tracking``.
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) buries the progress bars on a CPU machine.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _NoRetracingNote:
    """Drops TensorFlow's "N out of the last M calls ... triggered tf.function retracing" warning: every training
    loop and every inversion traces its own step function once by design, which that heuristic counts as
    retracing."""

    @staticmethod
    def filter(record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


import logging as _logging  # noqa: E402

_logging.getLogger("tensorflow").addFilter(_NoRetracingNote)
