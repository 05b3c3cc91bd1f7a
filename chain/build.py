"""Compile the contracts in-process with Vyper's Python API and write their artifacts.

`python -m chain.build` writes resources/contracts/<name>.json (ABI + bytecode);
`python -m chain.build --check` exits non-zero when the committed artifacts differ from a
fresh compile. snekmate's modules are found on the search path through its installed package.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import vyper
from vyper.compiler import compile_from_file_input
from vyper.compiler.input_bundle import FilesystemInputBundle
from vyper.compiler.settings import OptimizationLevel, Settings

ROOT = Path(__file__).resolve().parent.parent
SOURCES = Path(__file__).resolve().parent / "contracts"
ARTIFACTS = ROOT / "resources" / "contracts"

VYPER_VERSION = "0.4.3"
# Core mainnet (1116) and testnet (1114) run the Shanghai rules: PUSH0 yes, Cancun opcodes no.
EVM_VERSION = "shanghai"
CONTRACTS = ("tipping", "content_registry", "track_nft", "marketplace", "subscriptions")


def _search_paths() -> list[Path]:
    import snekmate

    snekmate_root = Path(next(iter(snekmate.__path__))).parent
    return [snekmate_root, SOURCES]


def compile_source(path: Path, extra_search_paths: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Compile one .vy file; returns {"abi", "bytecode", "bytecode_runtime", ...}."""
    if vyper.__version__.split("+")[0] != VYPER_VERSION:
        raise RuntimeError(f"vyper {VYPER_VERSION} is required, found {vyper.__version__}")
    bundle = FilesystemInputBundle([*_search_paths(), path.parent, *extra_search_paths])
    file_input = bundle.load_file(path.name)
    settings = Settings(evm_version=EVM_VERSION, optimize=OptimizationLevel.GAS)
    out = compile_from_file_input(
        file_input,
        input_bundle=bundle,
        settings=settings,
        output_formats=["abi", "bytecode", "bytecode_runtime", "method_identifiers"],
    )
    return {
        "contractName": path.stem,
        "compiler": f"vyper-{VYPER_VERSION}",
        "evmVersion": EVM_VERSION,
        "abi": out["abi"],
        "bytecode": out["bytecode"],
        "bytecodeRuntime": out["bytecode_runtime"],
        "methodIdentifiers": out["method_identifiers"],
    }


def build_all() -> dict[str, dict[str, Any]]:
    return {name: compile_source(SOURCES / f"{name}.vy") for name in CONTRACTS}


def artifact_text(artifact: dict[str, Any]) -> str:
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def write_artifacts(out_dir: Path = ARTIFACTS) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, artifact in build_all().items():
        path = out_dir / f"{name}.json"
        path.write_text(artifact_text(artifact), encoding="utf-8")
        written.append(path)
    return written


def stale_artifacts(out_dir: Path = ARTIFACTS) -> list[str]:
    """Names whose committed artifact is missing or differs from a fresh compile."""
    stale = []
    for name, artifact in build_all().items():
        path = out_dir / f"{name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != artifact_text(artifact):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_artifacts()
        if stale:
            print(f"stale contract artifacts: {', '.join(stale)}; run python -m chain.build")
            return 1
        print("contract artifacts are up to date")
        return 0
    for path in write_artifacts():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
