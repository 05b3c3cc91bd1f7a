"""`make package`, after PyInstaller: the .deb and the .tar.gz of the one-folder build.

    python packaging/build_deb.py [--bundle dist/harmonie-studio] [--out dist]

No network: the .deb is laid out here and built with `dpkg-deb`; its `Depends:` are derived
from the bundle's ELF files with `dpkg-shlibdeps` (libraries shipped inside the bundle are
private and depend on nothing). Icons in the hicolor sizes are rendered from the SVG with Qt.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
PACKAGE = "harmonie-studio"
PREFIX = Path("opt") / PACKAGE
APP_ID = "io.harmoniecore.Studio"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICON_SVG = ROOT / "resources" / "icons" / "harmonie.svg"
ELF_MAGIC = b"\x7fELF"
# Libraries the app opens by name at run time, which dpkg-shlibdeps finds in no ELF file:
# sounddevice looks PortAudio up with ctypes.util.find_library (the system's ldconfig cache),
# so a copy inside the bundle is not enough. tests/packaging checks the installed app hears
# a microphone through it.
LOADED_BY_NAME = ("libportaudio2",)
# Programs the app runs: publishing fingerprints every track with fpcalc (media/fingerprint.py).
RUNS = ("libchromaprint-tools",)


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def render_icons(hicolor: Path) -> None:
    """PNGs of every hicolor size plus the scalable SVG, drawn by Qt without a display."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(ICON_SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {ICON_SVG}")
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        renderer.render(painter)
        painter.end()
        target = hicolor / f"{size}x{size}" / "apps" / f"{PACKAGE}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise SystemExit(f"cannot write {target}")
    scalable = hicolor / "scalable" / "apps" / f"{PACKAGE}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ICON_SVG, scalable)
    del app


def elf_files(tree: Path) -> list[Path]:
    found = []
    for path in sorted(tree.rglob("*")):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                if f.read(4) == ELF_MAGIC:
                    found.append(path)
    return found


def shlib_depends(bundle: Path) -> str:
    """`Depends:` of the bundle's ELF files, by dpkg-shlibdeps (system libraries only), and
    the libraries it loads by name."""
    elves = elf_files(bundle)
    private_dirs = sorted({str(p.parent) for p in elves})
    with tempfile.TemporaryDirectory() as work:
        (Path(work) / "debian").mkdir()
        (Path(work) / "debian" / "control").write_text(
            f"Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"
        )
        result = subprocess.run(
            [
                "dpkg-shlibdeps",
                "-O",
                "--ignore-missing-info",
                "--warnings=0",
                *(f"-l{d}" for d in private_dirs),
                *(str(p) for p in elves),
            ],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode != 0:
        raise SystemExit(f"dpkg-shlibdeps failed:\n{result.stderr}")
    for line in result.stdout.splitlines():
        if line.startswith("shlibs:Depends="):
            return ", ".join([line.split("=", 1)[1], *LOADED_BY_NAME, *RUNS])
    raise SystemExit("dpkg-shlibdeps printed no shlibs:Depends")


def systemd_unit() -> str:
    return (PACKAGING / "harmonie-backend.service").read_text()


def lay_out(bundle: Path, tree: Path) -> None:
    shutil.copytree(bundle, tree / PREFIX, symlinks=True)
    bin_dir = tree / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / PACKAGE).symlink_to(Path("/") / PREFIX / PACKAGE)
    backend = bin_dir / "harmonie-backend"
    backend.write_text(f'#!/bin/sh\nexec /{PREFIX}/{PACKAGE} backend "$@"\n')
    backend.chmod(0o755)
    share = tree / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    shutil.copyfile(PACKAGING / f"{PACKAGE}.desktop", share / "applications" / f"{PACKAGE}.desktop")
    (share / "metainfo").mkdir()
    shutil.copyfile(
        PACKAGING / f"{APP_ID}.metainfo.xml", share / "metainfo" / f"{APP_ID}.metainfo.xml"
    )
    render_icons(share / "icons" / "hicolor")
    doc = share / "doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: HarmonieCORE Studio\n\nFiles: *\nCopyright: HarmonieCORE\nLicense: MIT\n"
    )
    unit_dir = tree / "usr" / "lib" / "systemd" / "system"
    unit_dir.mkdir(parents=True)
    (unit_dir / "harmonie-backend.service").write_text(systemd_unit())
    for path in tree.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)


def installed_size_kib(tree: Path) -> int:
    return sum(p.lstat().st_size for p in tree.rglob("*") if p.is_file()) // 1024 + 1


def control(version: str, arch: str, depends: str, size_kib: int) -> str:
    return (
        f"Package: {PACKAGE}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        "Maintainer: HarmonieCORE <studio@harmoniecore.io>\n"
        f"Installed-Size: {size_kib}\n"
        f"Depends: {depends}\n"
        "Recommends: gnome-keyring | kwalletmanager, espeak-ng\n"
        "Section: sound\n"
        "Priority: optional\n"
        "Homepage: https://harmoniecore.io\n"
        "Description: Go live, publish your tracks and get tipped\n"
        " A studio for music artists: stream live from your own computer, publish tracks\n"
        " to IPFS and an on-chain registry, and hear about every tip the moment it lands.\n"
        " Includes harmonie-backend, the studio's backend, to host for others.\n"
    )


def build(bundle: Path, out: Path) -> tuple[Path, Path]:
    if not (bundle / PACKAGE).is_file():
        raise SystemExit(f"{bundle} holds no {PACKAGE} executable: run PyInstaller first")
    version = project_version()
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"{PACKAGE}_{version}_{arch}.deb"
    archive = out / f"{PACKAGE}-{version}-linux-{os.uname().machine}.tar.gz"
    with tempfile.TemporaryDirectory() as work:
        tree = Path(work) / "root"
        lay_out(bundle, tree)
        (tree / "DEBIAN").mkdir()
        (tree / "DEBIAN" / "control").write_text(
            control(version, arch, shlib_depends(bundle), installed_size_kib(tree))
        )
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "-z3", "--build", str(tree), str(deb)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=f"{PACKAGE}-{version}")
    return deb, archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / PACKAGE)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    for artifact in build(args.bundle, args.out):
        print(artifact)
    return 0


if __name__ == "__main__":
    sys.exit(main())
