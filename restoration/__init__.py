"""deep-restoration: inverting deep image representations (VGG16, AlexNet) by trained and optimised pre-images.

Modules, lowest layer first: ``errors``, ``metrics``, ``plots``, ``nets``, ``data``, ``patches``, ``priors``,
``modules`` (trained inverters), ``inversion`` (optimisation pre-images), ``tracking`` (Sacred glue), ``cli``.
Nothing here imports Sacred except ``tracking``.
"""

__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notes) buries the progress bars on a CPU machine.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
