"""The README's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["same"].image.tobytes() == namespace["result"].image.tobytes()


def test_readme_papermill_loop_lists_every_chapter_in_order():
    from mtmri_lib.report import runner as book

    loop = re.search(r"for chapter in ([^;]+); do", README.read_text())
    assert loop, "the README's per-notebook papermill loop is missing"
    root = README.parent
    notebooks = [n.split("/")[-1] for n in book.chapters() if (root / f"{n}.ipynb").exists()]
    assert loop.group(1).split() == notebooks
