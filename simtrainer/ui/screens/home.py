"""Home: scenarios grouped by modality (Enter starts the highlighted one), the model and trainee name in use,
recent sessions (Enter opens one read-only)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from simtrainer.scenarios import Card
from simtrainer.text_safety import plain, terminal_safe

RECENT_COLUMNS = ("started", "scenario", "turns", "status")
MODALITIES = (("mi", "Motivational Interviewing"), ("dearman", "DBT — DEAR MAN"), ("cbt", "Cognitive therapy"))

WELCOME = (
    "[b]Welcome to simtrainer.[/b]\n\n"
    "Pick a scenario on the left and press [b]Enter[/b]. You will talk with a simulated patient played by a "
    "local model; every reply you send is coded at once (MI codes under your turn, running scores on the "
    "right). Press [b]Ctrl+E[/b] to end a session and see its summary, [b]H[/b] for past sessions, "
    "[b]F1[/b] for help. Nothing leaves this machine."
)


def _entry(card: Card) -> Table:
    """A scenario's line: a long title wraps under itself, not under the list's margin."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column(ratio=1)
    grid.add_row("", Text.assemble(plain(card.title), "  ", (f"({card.difficulty})", "dim")))
    return grid


class HomeScreen(Screen):
    BINDINGS = [
        Binding("enter", "start", "Start", id="start", show=True),
        Binding("h", "history", "History", id="history"),
        Binding("n", "name", "Name", id="trainee_name"),
        Binding("t", "trainees", "Trainees", id="trainees"),
        Binding("x", "exercise", "Exercise", id="exercise"),
        Binding("f1", "app.help", "Help", id="help"),
        Binding("q", "app.quit", "Quit", id="quit", show=False),  # the footer already shows ^q Quit (app-wide)
    ]

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[Card] = []

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="home-left"):
                yield OptionList(id="scenarios")
                yield Static(id="model-indicator")
            with Vertical(id="home-right"):
                yield Static(id="card-detail")
                yield Static(WELCOME, id="welcome")
                yield DataTable(id="recent", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        workspace = self.app.workspace
        self.cards, problems = workspace.cards()
        options = self.query_one("#scenarios", OptionList)
        options.border_title = "Scenarios"
        for modality, title in MODALITIES:
            group = [c for c in self.cards if c.modality == modality]
            if not group:
                continue
            options.add_option(Option(Text(title, style="bold underline"), disabled=True))
            for card in group:
                options.add_option(Option(_entry(card), id=card.id))
        for problem in problems:
            self.notify(terminal_safe(f"{problem.file}: {problem.field}: {problem.message}"), title="Broken card",
                        severity="warning", markup=False)
        self.show_in_use()
        self.call_after_refresh(self.refresh_recent)  # after layout, so the columns can be fitted to the width
        first = next((i for i in range(options.option_count) if not options.get_option_at_index(i).disabled), None)
        if first is not None:
            options.highlighted = first
        options.focus()

    def show_in_use(self) -> None:
        workspace = self.app.workspace
        entry = workspace.model_entry
        where = "server" if entry.spec.backend == "openai" else "local" if entry.spec.backend == "llamacpp" else "fake"
        indicator = self.query_one("#model-indicator", Static)
        rubric_scorer = f"LLM judge ({entry.name})" if workspace.settings.feedback.judge == "llm" else "trained scorers"
        trainee = workspace.settings.trainee
        indicator.update(Text.assemble("Model: ", plain(entry.name, "bold"), f" ({where})\nFeedback: MI coder "
                                       "(trained, runs locally)\nDEAR MAN, CTRS: ", plain(rubric_scorer),
                                       "\nTrainee: ", plain(trainee, "bold") if trainee else ("none", "dim"),
                                       (" (N to change)", "dim")))
        indicator.border_title = "In use"

    def refresh_recent(self) -> None:
        """The last sessions, columns fitted to the panel: the scenario takes the width the others leave."""
        recent = self.app.listed_sessions(limit=8)
        table = self.query_one("#recent", DataTable)
        cursor = table.cursor_row
        table.clear(columns=True)
        table.border_title = "Recent sessions"
        rows = [(row["started_at"][:16].replace("T", " "), terminal_safe(row["scenario_title"]),
                 str(row["turn_count"]), row["status"], row["id"]) for row in recent]
        widths = [max([len(label), *(len(r[i]) for r in rows)]) for i, label in enumerate(RECENT_COLUMNS)]
        room = self.query_one("#home-right").content_size.width - 2 - 2 * len(RECENT_COLUMNS)  # border, padding
        widths[1] = max(12, min(widths[1], room - widths[0] - widths[2] - widths[3]))
        for label, width in zip(RECENT_COLUMNS, widths, strict=True):
            table.add_column(label, width=width)
        for started, title, turns, status, key in rows:
            table.add_row(started, Text(title, overflow="ellipsis", no_wrap=True), turns, status, key=key)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))  # back from a session: still on it
        self.query_one("#welcome").display = not recent
        table.display = bool(recent)

    def on_screen_resume(self) -> None:
        self.refresh_recent()

    def on_resize(self) -> None:
        self.call_after_refresh(self.refresh_recent)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click) on a recent session opens it read-only, as History does."""
        from simtrainer.ui.screens.review import ReviewScreen

        self.app.push_screen(ReviewScreen(event.row_key.value))

    def _highlighted_card(self) -> Card | None:
        options = self.query_one("#scenarios", OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return next((c for c in self.cards if c.id == option.id), None)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        card = self._highlighted_card()
        if card is None:
            return
        detail = self.query_one("#card-detail", Static)
        detail.border_title = plain(card.title)
        text = Text.assemble(plain(card.summary), "\n\n", plain(card.person.name, "bold"),
                             f", {card.person.age} · {card.modality_name} · difficulty: ", (card.difficulty, "bold"))
        if card.dearman:
            text.append_text(plain(f"\nYou are the {card.dearman.trainee_role.lower()}. Ask for: "
                                   f"{card.dearman.request}"))
        detail.update(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_start()

    def action_start(self) -> None:
        card = self._highlighted_card()
        if card is not None:
            self.app.start_practice(card)

    def action_history(self) -> None:
        self.app.open_history()

    def action_name(self) -> None:
        self.app.change_name()

    def action_trainees(self) -> None:
        self.app.open_progress()

    def action_exercise(self) -> None:
        self.app.open_exercise()
