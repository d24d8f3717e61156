"""Folder Settings…: an adopted folder's variant rules (`original_:thumb_:250x250:crop`), one
row each, checked by core's parser before anything is saved."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.variants import Fit, VariantRule, VariantRuleError
from gui.dialogs import PROBLEM_STYLE

RULE_HEADERS = ("Original prefix", "Variant prefix", "Size (W×H)", "Fit")
NEW_RULE = ("original_", "thumb_", "250×250", Fit.CROP)
SOURCE, VARIANT, SIZE, FIT = range(4)


class FolderSettingsDialog(QDialog):
    def __init__(
        self, folder: Path, rules: list[VariantRule], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Folder Settings")
        intro = QLabel(
            f"Derived sizes of the originals in {folder}: a file whose name starts with the"
            " variant prefix instead of its original's is made anew from the original after"
            " each refresh, at that size (crop: fills it and cuts the centre; fit: shrinks"
            " into it), and replaced with it, together or not at all."
        )
        intro.setWordWrap(True)
        self.rules = QTableWidget(0, len(RULE_HEADERS))
        self.rules.setHorizontalHeaderLabels(RULE_HEADERS)
        self.rules.setAccessibleName("Variant rules")
        self.rules.verticalHeader().hide()
        self.rules.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.rules.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for rule in rules:
            self.add_rule(
                (rule.source_prefix, rule.variant_prefix, f"{rule.width}×{rule.height}", rule.fit)
            )
        add = QPushButton("&Add Rule")
        add.clicked.connect(lambda: self.add_rule(NEW_RULE))
        self.remove = QPushButton("&Remove Rule")
        self.remove.clicked.connect(self.remove_selected)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(add)
        row_buttons.addWidget(self.remove)
        row_buttons.addStretch(1)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(PROBLEM_STYLE)
        self.problem.setAccessibleName("Problem")
        self.rules.itemChanged.connect(lambda _item: self.problem.clear())
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Save and Reopen")
        ok.setToolTip("Save the rules with the folder and open it again with them")
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Variant rules:"))
        layout.addWidget(self.rules, 1)
        layout.addLayout(row_buttons)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(620, 380)

    def add_rule(self, values: tuple[str, str, str, Fit]) -> None:
        row = self.rules.rowCount()
        self.rules.insertRow(row)
        for column, text in zip((SOURCE, VARIANT, SIZE), values[:3], strict=True):
            self.rules.setItem(row, column, QTableWidgetItem(text))
        fit = QComboBox()
        fit.addItems([member.value for member in Fit])
        fit.setCurrentText(values[FIT])
        fit.setAccessibleName(f"Fit of rule {row + 1}")
        self.rules.setCellWidget(row, FIT, fit)
        self.rules.setCurrentCell(row, SOURCE)

    def remove_selected(self) -> None:
        for row in sorted({index.row() for index in self.rules.selectedIndexes()}, reverse=True):
            self.rules.removeRow(row)
        self.problem.clear()

    def chosen_rules(self) -> list[VariantRule]:
        """The rules as typed, parsed by core; VariantRuleError names the first bad row."""
        rules = []
        for row in range(self.rules.rowCount()):
            spec = ":".join(
                (self._text(row, SOURCE), self._text(row, VARIANT), self._size(row), self._fit(row))
            )
            try:
                rules.append(VariantRule.parse(spec))
            except VariantRuleError as error:
                raise VariantRuleError(f"Rule {row + 1}: {error}") from error
        return rules

    def _text(self, row: int, column: int) -> str:
        item = self.rules.item(row, column)
        return item.text().strip() if item is not None else ""

    def _size(self, row: int) -> str:
        return "".join(self._text(row, SIZE).split()).replace("×", "x").replace("X", "x")

    def _fit(self, row: int) -> str:
        fit = self.rules.cellWidget(row, FIT)
        return fit.currentText() if isinstance(fit, QComboBox) else ""

    def _accept_if_valid(self) -> None:
        try:
            self.chosen_rules()
        except VariantRuleError as error:
            self.problem.setText(f"Not saved: {error}")
            return
        self.accept()
