"""Every command has a label and a tooltip, and the keyboard contract's shortcuts."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtGui import QAction, QKeySequence
from pytestqt.qtbot import QtBot

from gui.actions import Actions
from gui.main_window import MainWindow


def shortcuts(action: QAction) -> list[str]:
    return [s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()]


def test_every_action_has_text_and_its_own_tooltip(qtbot: QtBot) -> None:
    window = MainWindow()
    actions = [getattr(window.commands, field.name) for field in fields(Actions)]

    assert len(actions) >= 15
    for action in actions:
        text = action.text().replace("&", "").strip()
        assert text, action.objectName()
        assert action.toolTip().strip(), action.objectName()
        # set on purpose: Qt's fallback tooltip is the text itself
        assert action.toolTip().replace("&", "") != text, action.objectName()


def test_keyboard_contract_shortcuts(qtbot: QtBot) -> None:
    window = MainWindow()
    commands = window.commands

    assert set(shortcuts(commands.force_refresh)) == {"Ctrl+Shift+R", "Ctrl+F5"}
    assert shortcuts(commands.refresh) == ["F5"]
    assert shortcuts(commands.cancel) == ["Esc"]
    assert shortcuts(commands.quit) == ["Ctrl+Q"]  # once: twice is ambiguous, and does nothing
    assert QKeySequence("Ctrl+A") in commands.select_all.shortcuts()
    everything = [s for f in fields(Actions) for s in shortcuts(getattr(commands, f.name))]
    assert len(everything) == len(set(everything)), "a shortcut is bound twice"
    assert "" not in everything, "an empty shortcut (a standard key this platform lacks)"
