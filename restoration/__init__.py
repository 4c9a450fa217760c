"""deep-restoration: inverting deep image representations (VGG16, AlexNet) by trained and optimised pre-images.

Packages, lowest layer first (each imports only from those above it in this list; ``.importlinter`` checks it):

* infrastructure: ``errors``, ``paths``, ``atomic``;
* ``contract`` - what a run hands its readers (payload, measures, registry), pure Python;
* the science, one package per concept, knowing neither Sacred, matplotlib nor the payload: ``nets`` (feature
  nets, op geometry), ``metrics``, ``data``, ``precision`` (float32 / bfloat16 / auto by measurement), ``optim``
  (the one training loop), ``objectives`` (energy terms, jitter), ``priors`` (hand-made and learned),
  ``preimage`` (optimisation inversion, M&V recipes), ``stacks`` (trained inversion modules), ``benchmark``;
* ``tracking`` - Sacred runs in a SQL database: the write side and the read side (the only Sacred importer);
* orchestration: ``sweeps`` (Dask), ``replicates`` (claim seeds), ``cli`` (``python -m restoration``).

Tables and plots made from results live in :mod:`restoration_reports`; how a thesis result is run, in
:mod:`restoration_experiments`.
"""

import os as _os

__version__ = "0.1.0"


def program(module: str) -> str:
    """The name a command line was started by: its console command (``restoration-report``), or
    ``python -m <module>``."""
    import sys

    name = _os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name.startswith("restoration") and not name.endswith(".py") else f"python -m {module}"


def version_text(prog: str) -> str:
    """What ``--version`` prints for command ``prog``."""
    return f"{prog} (deep-restoration) {__version__}"


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


class _QuietTensorFlowStart:
    """TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()", the oneDNN note,
    CUDA probing and its failed ``cuInit`` on a CPU machine) go to file descriptor 2 while it is imported and its
    devices are first listed, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. This finder imports ``tensorflow`` with that
    descriptor pointed at ``/dev/null`` for exactly that time, once per process, so every command starts with its
    own lines only. ``RESTORATION_TF_START_LOGS=1`` keeps them (to debug TensorFlow's start)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or _os.environ.get("RESTORATION_TF_START_LOGS") == "1":
            return None
        import importlib.machinery
        import sys

        # a fresh spec each time: a mere probe (Sacred's dependency scan asks for the spec without importing) must
        # not use the finder up
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load, finder = spec.loader.exec_module, self

        def exec_module(module):
            if finder in sys.meta_path:
                sys.meta_path.remove(finder)
            with _stderr_to_devnull():
                load(module)
                try:
                    module.config.list_physical_devices()  # the device probe logs its failures now, not later
                except Exception:  # noqa: BLE001 - a failing probe is TensorFlow's to report at first use
                    pass

        spec.loader.exec_module = exec_module
        return spec


class _stderr_to_devnull:
    """File descriptor 2 pointed at /dev/null (C++ writes there directly); Python's ``sys.stderr`` is flushed first
    and restored after."""

    def __enter__(self):
        import sys

        sys.stderr.flush()
        self.saved = _os.dup(2)
        null = _os.open(_os.devnull, _os.O_WRONLY)
        _os.dup2(null, 2)
        _os.close(null)

    def __exit__(self, *exc):
        _os.dup2(self.saved, 2)
        _os.close(self.saved)
        return False


def _install_quiet_tensorflow_start() -> None:
    import sys

    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowStart) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowStart())


_install_quiet_tensorflow_start()
