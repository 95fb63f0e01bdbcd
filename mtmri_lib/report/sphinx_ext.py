"""A Sphinx extension of the book (``_config.yml``'s ``extra_extensions``): each page's
scripts once.

sphinx-thebe and sphinx-togglebutton register inline scripts (``const THEBE_JS_URL = ...``,
the toggle selector) after the HTML builder has started. Sphinx 7.4 then keeps two copies of
each: the builder's, with no file name (``None``), and the registry's, which it adds again
with an empty one (``""``); the two do not compare equal, so every page declared
``THEBE_JS_URL`` twice and the browser stopped at the second (``Identifier 'THEBE_JS_URL'
has already been declared``). Here the page's script list keeps the first of each copy.
"""

from __future__ import annotations

from typing import Any

__all__ = ["unique_scripts", "setup"]


def _key(script: Any) -> tuple:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def unique_scripts(scripts: list) -> list:
    """``scripts`` (Sphinx's ``_JavaScript`` entries or plain names) without repeats, where a
    script without a file name equals one with an empty file name and the same body."""
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _dedupe(app, pagename, templatename, context, doctree) -> None:
    if "script_files" in context:
        context["script_files"] = unique_scripts(context["script_files"])


def setup(app) -> dict[str, Any]:
    # Late (priority 900): after every extension has added its page scripts.
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
