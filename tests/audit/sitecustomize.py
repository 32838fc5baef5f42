"""Records every file a Python process opens for reading, for the end-to-end test's check that each
DVC stage reads only what dvc.yaml declares. A file the process itself wrote before reading it (a
temporary output it rewrites, as the export stage's tokenizer writer does) is its output, not an input,
and is left out. Active only when SLM_AUDIT_DIR is set and this folder is
on PYTHONPATH (the test sets both for its `dvc repro`); each process writes <pid>.json at exit."""

import atexit
import json
import os
import sys

_DIR = os.environ.get("SLM_AUDIT_DIR")

if _DIR:
    _reads: set[str] = set()
    _written: set[str] = set()

    def _hook(event: str, args: tuple) -> None:
        if event != "open":
            return
        path, mode, flags = args
        if not isinstance(path, (str, bytes, os.PathLike)):
            return  # a file descriptor
        reading = ("r" in mode or "+" in mode) if isinstance(mode, str) else (flags & os.O_ACCMODE) != os.O_WRONLY
        full = os.path.abspath(os.fsdecode(path))
        if not reading:
            _written.add(full)
        elif full not in _written:
            _reads.add(full)

    def _dump() -> None:
        with open(os.path.join(_DIR, f"{os.getpid()}.json"), "w") as f:
            json.dump({"argv": sys.argv, "cwd": os.getcwd(), "reads": sorted(_reads)}, f)

    sys.addaudithook(_hook)
    atexit.register(_dump)
