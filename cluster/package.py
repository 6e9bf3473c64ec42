"""Build what a Spark cluster needs to run curate: a self-contained Python environment and the code.

    python cluster/package.py [--out dist/cluster] [--venv .venv] [--exclude GLOB]... [--reuse-env]

writes into OUT:

``curate-env.tar.gz``
    A relocatable Python environment for ``--archives OUT/curate-env.tar.gz#env`` with
    ``spark.pyspark.python=./env/bin/python``: the base interpreter the venv was made from (binary,
    ``libpython``, standard library), the venv's site-packages (fastText, trafilatura, resiliparse,
    pyarrow, torch, …) and curate itself installed from its wheel (not the editable link to this
    checkout). A venv alone is not relocatable: its ``bin/python`` is a symlink to an absolute path
    (here a pyenv build) that executors do not have. ``bin/python`` is a small shell wrapper that puts
    the archive's ``lib/`` on ``LD_LIBRARY_PATH`` (the interpreter links ``libpython3.11.so`` through
    an absolute RUNPATH) and execs the real binary, which finds its standard library next to itself.
    Nodes need only a compatible Linux (x86_64, glibc at least the build machine's, see MANIFEST.json).
    It must stay a ``.tar.gz``: Spark unpacks a plain ``.tar`` with a Java untar that drops the
    executable bits (SPARK-38632), and ``./env/bin/python`` then fails with "Permission denied".
``curate-<version>-py3-none-any.whl``
    The project alone (``pip wheel --no-deps``), for images that install their dependencies anyway.
``curate.zip``
    The project's packages for ``--py-files``: on the executors it comes before the archive's copy on
    ``sys.path``, so a code change ships without rebuilding the environment (same dependencies only).
``MANIFEST.json``
    Interpreter, glibc, sizes, what was excluded and every distribution in the environment.

Always left out: ``pyspark/jars`` and ``pyspark/examples`` (executors and the driver use the cluster's
Spark JVM; the Python side of pyspark is kept), the editable install, and from the base interpreter
its own site-packages, test suite, IDLE/tkinter, ensurepip, lib2to3, pydoc_data and build config
(``__pycache__`` is kept: executors import faster). ``--exclude GLOB`` (repeatable) drops more site-packages entries, e.g. ``--exclude 'streamlit*'``
for a leaner archive; only drop what no stage imports.
"""

from __future__ import annotations

import argparse
import fnmatch
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Project packages (pyproject's packages.find include) and the files a wheel build needs.
PROJECT_PACKAGES = ("curate", "curation", "classifiers", "spark_jobs", "dashboards")
PROJECT_FILES = ("pyproject.toml", "README.md", "LICENSE")
#: Standard-library entries no Spark worker needs (tests, GUI, build config, the base's own site-packages).
STDLIB_SKIP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data"}
STDLIB_SKIP_GLOBS = ("config-*",)
#: site-packages entries left out by default (relative paths, fnmatch).
DEFAULT_EXCLUDES = ("pyspark/jars", "pyspark/examples", "__editable__*", "curate-*.dist-info", "curate.egg-link")
PYTHON_WRAPPER = """#!/bin/sh
# curate's relocatable interpreter: the real binary links libpython through an absolute RUNPATH of the
# machine it was built on, so point the loader at this archive's lib/ first.
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/../lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/%s" "$@"
"""


def venv_info(venv: Path) -> dict:
    """Interpreter facts of the venv, asked from its own python (this script may run under another)."""
    code = ("import sys, sysconfig, platform, json, importlib.metadata as m;"
            "print(json.dumps({'base_prefix': sys.base_prefix, 'prefix': sys.prefix, 'version': platform.python_version(),"
            "'ldversion': sysconfig.get_config_var('LDVERSION'), 'purelib': sysconfig.get_paths()['purelib'],"
            "'libdir': sysconfig.get_config_var('LIBDIR'), 'ldlibrary': sysconfig.get_config_var('LDLIBRARY'),"
            "'shared': bool(sysconfig.get_config_var('Py_ENABLE_SHARED')), 'libc': platform.libc_ver(),"
            "'machine': platform.machine(),"
            "'dists': sorted({(d.metadata['Name'], d.version) for d in m.distributions() if d.metadata['Name']})}))")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def build_wheel(venv: Path, out: Path) -> Path:
    """``pip wheel --no-deps`` from a clean copy of the sources (an in-tree build leaves build/ behind)."""
    with tempfile.TemporaryDirectory(prefix="curate-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in PROJECT_FILES:
            if (ROOT / name).exists():
                shutil.copy2(ROOT / name, src / name)
        for pkg in PROJECT_PACKAGES:
            shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        before = set(out.glob("curate-*.whl"))
        for old in before:
            old.unlink()
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--no-index", "-q", "-w", str(out), str(src)], check=True)
    wheels = sorted(out.glob("curate-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"package: expected one curate wheel in {out}, found {wheels}")
    return wheels[0]


def py_files_zip(wheel: Path, dest: Path) -> Path:
    """The wheel's packages without its metadata, as a plain zip (Spark adds .zip, not .whl, to sys.path)."""
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename.split("/")[0] in PROJECT_PACKAGES:
                dst.writestr(item, src.read(item))
    return dest


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    parts = rel.split("/")
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(parts[0], p) for p in patterns)


def build_env(info: dict, wheel: Path, dest: Path, excludes: tuple[str, ...]) -> dict:
    """Stream the environment into ``dest`` as a tar through ``gzip -1`` (gzip is the slow part; -1 is
    within ~10% of -6 on these files and several times faster)."""
    base = Path(info["base_prefix"])
    pyver = ".".join(info["version"].split(".")[:2])
    stdlib = base / "lib" / f"python{pyver}"
    site = Path(info["purelib"])
    real = f"python{pyver}"
    if not (base / "bin" / real).is_file():
        raise SystemExit(f"package: base interpreter {base / 'bin' / real} not found")
    counts = {"files": 0, "bytes": 0}

    def add(tar: tarfile.TarFile, path: Path, arcname: str, skip=lambda rel: False) -> None:
        def walk(p: Path, name: str, rel: str) -> None:
            if rel and skip(rel):
                return
            info_ = tar.gettarinfo(str(p), arcname=name)
            if p.is_symlink() and p.is_dir():
                info_ = tar.gettarinfo(str(p.resolve()), arcname=name)  # directory symlinks: store the content
            if info_.isdir():
                tar.addfile(info_)
                for child in sorted(os.listdir(p)):
                    walk(p / child, f"{name}/{child}", f"{rel}/{child}" if rel else child)
            elif info_.isreg():
                with open(p, "rb") as f:
                    tar.addfile(info_, f)
                counts["files"] += 1
                counts["bytes"] += info_.size
            else:
                tar.addfile(info_)  # symlinks inside packages (e.g. libfoo.so -> libfoo.so.1) stay links

        walk(path, arcname, "")

    raw = open(dest, "wb")  # closed below
    gz = subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=raw)
    try:
        with tarfile.open(fileobj=gz.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for d in ("bin", "lib"):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                tar.addfile(ti)
            add(tar, base / "bin" / real, f"bin/{real}.bin")
            wrapper = (PYTHON_WRAPPER % f"{real}.bin").encode()
            for name in ("python", "python3", real):
                ti = tarfile.TarInfo(f"bin/{name}")
                ti.size, ti.mode, ti.mtime = len(wrapper), 0o755, int(time.time())
                tar.addfile(ti, io.BytesIO(wrapper))
            if info["shared"]:
                libdir = Path(info["libdir"])
                for lib in sorted(libdir.glob("libpython*.so*")):
                    add(tar, lib, f"lib/{lib.name}")
            add(tar, stdlib, f"lib/python{pyver}",
                skip=lambda rel: rel.split("/")[0] in STDLIB_SKIP or any(fnmatch.fnmatch(rel.split("/")[0], g) for g in STDLIB_SKIP_GLOBS))
            add(tar, site, f"lib/python{pyver}/site-packages", skip=lambda rel: _excluded(rel, excludes))
            # curate itself, installed from the wheel (a wheel is a zip laid out as site-packages).
            with tempfile.TemporaryDirectory(prefix="curate-site-") as tmp:
                with zipfile.ZipFile(wheel) as zf:
                    zf.extractall(tmp)
                for dist_info in Path(tmp).glob("*.dist-info"):
                    (dist_info / "INSTALLER").write_text("curate-package\n")
                for child in sorted(Path(tmp).iterdir()):
                    add(tar, child, f"lib/python{pyver}/site-packages/{child.name}",
                        skip=lambda rel: "__pycache__" in rel.split("/"))
    finally:
        gz.stdin.close()
        rc = gz.wait()
        raw.close()
    if rc != 0:
        raise SystemExit("package: gzip failed")
    return counts


def smoke_test(archive: Path, info: dict) -> dict:
    """Unpack into a temporary folder and import what executors import, with a bare environment."""
    with tempfile.TemporaryDirectory(prefix="curate-env-check-") as tmp:
        subprocess.run(["tar", "-xf", str(archive), "-C", tmp], check=True)
        code = ("import sys, json, curation, spark_jobs.extract, curation.filters.steps, pyarrow, fasttext, trafilatura, resiliparse;"
                "import curation.filters.langid as l; l.load_model();"
                "lib = [l.split()[-1] for l in open('/proc/self/maps') if 'libpython' in l];"
                "print(json.dumps({'executable': sys.executable, 'prefix': sys.prefix, 'curation': curation.__file__,"
                "'libpython': lib[0] if lib else 'static'}))")
        env = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
        proc = subprocess.run([f"{tmp}/bin/python", "-c", code], capture_output=True, text=True, env=env, cwd=tmp)
        if proc.returncode != 0:
            raise SystemExit(f"package: the unpacked environment does not work:\n{proc.stderr[-3000:]}")
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        for key in ("executable", "prefix", "curation") + (("libpython",) if info["shared"] else ()):
            if not got[key].startswith(tmp):
                raise SystemExit(f"package: the unpacked environment still uses the build machine's files ({key}={got[key]})")
        return {k: v.replace(tmp, "<env>") for k, v in got.items()}


def fingerprint(info: dict, excludes: tuple[str, ...]) -> str:
    """What the environment archive depends on: the installed distributions, the interpreter, the
    exclusions and this script, but not the project's code (that ships in curate.zip)."""
    import hashlib

    data = {"dists": info["dists"], "python": info["version"], "base": info["base_prefix"], "excludes": list(excludes),
            "script": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="package", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "dist" / "cluster"), help="output folder (default %(default)s)")
    parser.add_argument("--venv", default=str(ROOT / ".venv"), help="the verified venv to pack (default %(default)s)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="also leave out these site-packages entries (repeatable), e.g. 'streamlit*'")
    parser.add_argument("--reuse-env", action="store_true",
                        help="keep OUT's environment archive when it was built from the same distributions, interpreter and "
                             "exclusions (rebuild only the wheel and curate.zip; ship code changes with --py-files curate.zip)")
    parser.add_argument("--no-check", action="store_true", help="skip unpacking and importing the result")
    args = parser.parse_args(argv)

    started = time.monotonic()
    out, venv = Path(args.out).resolve(), Path(args.venv).resolve()
    out.mkdir(parents=True, exist_ok=True)
    info = venv_info(venv)
    if info["prefix"] == info["base_prefix"]:
        raise SystemExit(f"package: {venv} is not a virtual environment")
    wheel = build_wheel(venv, out)
    zip_path = py_files_zip(wheel, out / "curate.zip")
    excludes = (*DEFAULT_EXCLUDES, *args.exclude)
    archive = out / "curate-env.tar.gz"
    fp = fingerprint(info, excludes)
    old_manifest = json.loads((out / "MANIFEST.json").read_text()) if (out / "MANIFEST.json").exists() else {}
    if args.reuse_env and archive.exists() and old_manifest.get("fingerprint") == fp:
        old_manifest.update(wheel=wheel.name, py_files=zip_path.name, reused=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        (out / "MANIFEST.json").write_text(json.dumps(old_manifest, indent=2))
        print(f"{archive}  reused (same distributions, interpreter and exclusions)\n{out / wheel.name}\n{zip_path}\n"
              f"built in {time.monotonic() - started:.0f}s")
        return 0
    for old in out.glob("curate-env.tar*"):
        old.unlink()
    (out / "MANIFEST.json").unlink(missing_ok=True)
    partial = archive.with_name(archive.name + ".inprogress")
    counts = build_env(info, wheel, partial, excludes)
    partial.rename(archive)
    check = None if args.no_check else smoke_test(archive, info)
    manifest = {
        "fingerprint": fp, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "archive": archive.name, "archive_bytes": archive.stat().st_size, "unpacked_bytes": counts["bytes"],
        "files": counts["files"], "wheel": wheel.name, "py_files": zip_path.name,
        "python": info["version"], "machine": info["machine"], "glibc_min": "-".join(info["libc"]),
        "source_venv": str(venv), "base_interpreter": info["base_prefix"], "excluded": list(excludes),
        "smoke_test": check, "distributions": {n: v for n, v in info["dists"] if not n.lower() == "curate"},
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2))
    print(f"{archive}  {archive.stat().st_size / 1e6:.0f} MB ({counts['bytes'] / 1e6:.0f} MB unpacked, {counts['files']} files)\n"
          f"{out / wheel.name}\n{zip_path}\n{out / 'MANIFEST.json'}\n"
          f"built in {time.monotonic() - started:.0f}s{'' if check else ' (not checked)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
