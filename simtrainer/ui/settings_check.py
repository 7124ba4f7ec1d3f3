"""Theme and keymap entries that Textual would silently ignore, found and worded for the user.

Textual skips an unknown binding id and binds a misspelt key name without a word, so a remap simply does not
happen. The app applies only the entries that work and says which it dropped; `simtrainer config show` warns
about the same ones.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import REPLACED_KEYS, Keys, key_to_character
from textual.theme import BUILTIN_THEMES

try:  # names of keys beyond the basic set (caps_lock, media_play, ...), from a private Textual module
    from textual._keyboard_protocol import FUNCTIONAL_KEYS
except ImportError:  # a Textual that moved it: such keys are then reported, which is safe
    FUNCTIONAL_KEYS = {}

MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
KEY_NAMES = {key.value.rpartition("+")[2] for key in Keys} | set(REPLACED_KEYS) | set(FUNCTIONAL_KEYS.values())


def binding_ids() -> set[str]:
    """Every binding id the app and its screens and widgets define (the ids a keymap may name)."""
    import simtrainer.ui

    for module in pkgutil.walk_packages(simtrainer.ui.__path__, "simtrainer.ui."):
        importlib.import_module(module.name)
    ids: set[str] = set()
    classes: list[type] = [DOMNode]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        ids |= {b.id for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding) and b.id}
    return ids


def is_key(key: str) -> bool:
    """Whether Textual can ever report this key string, e.g. "ctrl+t", "f5", "question_mark", "?"."""
    *modifiers, name = key.strip().split("+")
    if not name or any(m not in MODIFIERS for m in modifiers):
        return False
    return len(name) == 1 or name in KEY_NAMES or key_to_character(name) is not None


def check_look(
    theme: str, keymap: dict[str, str], themes: Iterable[str] = BUILTIN_THEMES
) -> tuple[dict[str, str], list[str]]:
    """The keymap entries that can be applied, and one line for the theme and each entry that cannot."""
    problems: list[str] = []
    themes = sorted(themes)
    if theme not in themes:
        problems.append(f"Unknown theme '{theme}': using the default. Themes: {', '.join(themes)}.")
    ids = binding_ids()
    usable: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        bad = [key for key in keys.split(",") if not is_key(key)]
        if binding_id not in ids:
            problems.append(f"Keymap: unknown binding id '{binding_id}', ignored. Ids: {', '.join(sorted(ids))}.")
        elif bad:
            problems.append(f"Keymap: {binding_id} = '{keys}' names no key Textual knows ({', '.join(bad)}), ignored.")
        else:
            usable[binding_id] = keys
    return usable, problems
