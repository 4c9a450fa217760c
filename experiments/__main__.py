"""Run a registered experiment by figure id: ``python -m experiments fig06 with quick``.

Everything after the id is Sacred's command line (``with quick``, ``with thesis image_dir=...``,
``print_config``, ...). ``python -m experiments --list`` shows the registry.
"""
import importlib
import sys
import tomllib
from pathlib import Path

REGISTRY = Path(__file__).with_name("registry.toml")


def load_registry() -> dict:
    with open(REGISTRY, "rb") as f:
        return tomllib.load(f)


def main(argv: list[str]) -> int:
    reg = load_registry()
    if not argv or argv[0] in ("-h", "--help", "--list"):
        print(__doc__)
        for fid, entry in sorted(reg.items(), key=lambda kv: kv[1]["order"]):
            print(f"  {fid}  {entry['title']}  ({entry['module']})")
        return 0
    fid = argv[0]
    if fid.isdigit():
        fid = f"fig{int(fid):02d}"
    if fid not in reg:
        print(f"unknown figure {argv[0]!r}; registered: {', '.join(sorted(reg))}", file=sys.stderr)
        return 2
    module = importlib.import_module(reg[fid]["module"])
    run = module.ex.run_commandline([reg[fid]["module"]] + list(argv[1:]))
    return 0 if run is not None and run.status == "COMPLETED" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
