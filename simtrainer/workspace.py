"""Everything a front end needs, opened once: settings, cards, the session store, the model, the coders.

The CLI and the TUI both start sessions through here, so they check the same things in the same order and
share one loaded model.
"""

from __future__ import annotations

from functools import cached_property

from simtrainer.config import Settings
from simtrainer.errors import UserError
from simtrainer.llm import ChatBackend, ModelEntry, open_backend, resolve_model
from simtrainer.scenarios import Card, CardProblem, get_card, load_cards, scenario_dirs
from simtrainer.session import Session, check_resumable
from simtrainer.storage import Store, open_store


class Workspace:
    def __init__(self, settings: Settings, *, model: str | None = None):
        self.settings = settings
        self.model_name = model
        self._backend: ChatBackend | None = None
        self._cards: tuple[list[Card], list[CardProblem]] | None = None
        self._extra_buffers: bool | None = None

    @cached_property
    def model_entry(self) -> ModelEntry:
        return resolve_model(self.settings, self.model_name)

    @cached_property
    def store(self) -> Store:
        return open_store()

    def cards(self) -> tuple[list[Card], list[CardProblem]]:
        """The cards, read once per workspace (the command palette asks on every keystroke)."""
        if self._cards is None:
            self._cards = load_cards(scenario_dirs(self.settings))
        return self._cards

    def card(self, card_id: str) -> Card:
        return get_card(card_id, self.settings)

    @property
    def backend(self) -> ChatBackend:
        """The patient model, loaded on first use and then shared by every session."""
        if self._backend is None:
            self._backend = open_backend(self.settings, self.model_name, extra_buffers=self._extra_buffers)
        return self._backend

    @property
    def backend_loaded(self) -> bool:
        return self._backend is not None

    def check(self) -> None:
        """Fail early (before a UI starts) on a bad config, a missing model file, a model that crashes this
        machine's llama.cpp (tried in a child process, once per file) or an unusable data folder."""
        entry = self.model_entry
        if entry.spec.backend == "llamacpp":
            from simtrainer.llm.probe import check_model_runs

            probe = check_model_runs(entry.local_file(), n_threads=self.settings.n_threads,
                                     n_gpu_layers=self.settings.n_gpu_layers)
            self._extra_buffers = probe.extra_buffers
        self.store  # noqa: B018 - opening it checks the data folder

    def new_session(self, card: Card, *, resume: str | None = None, exercise: dict | None = None) -> Session:
        """A session on `card`; `exercise` is the record of the pack it runs for (`classroom.pack.Pack.record`)."""
        from simtrainer.feedback.registry import coders_for

        return Session(
            self.store,
            card,
            self.backend,
            patient_settings=self.settings.patient,
            coders=coders_for(card, self.settings, self.backend),
            trainee=self.settings.trainee,
            seed=self.settings.seed,
            model_name=self.model_entry.name,
            resume=resume,
            exercise=exercise,
        )

    def resume_session(self, session_id: str) -> Session:
        """Continue an interrupted session with its card (an exercise's from its pack, which must be unchanged)
        and the configured model; refused (with the reason) before the model loads when it cannot be resumed."""
        row = self.store.get_session(session_id)
        check_resumable(row)
        if row.get("exercise"):  # an exercise's card may have come with its pack
            from simtrainer.classroom.pack import reopen

            card = reopen(row["exercise"], self.settings).card
        else:
            card = self.card(row["scenario_id"])
        return self.new_session(card, resume=row["id"])

    def use_model(self, settings: Settings, model: str | None) -> None:
        """Run the sessions started from now on with another model (an exercise pack's). Only between sessions:
        the loaded model is released and the new one loads on first use."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        self.settings, self.model_name, self._extra_buffers = settings, model, None
        self.__dict__.pop("model_entry", None)

    def close(self) -> None:
        """Sessions still running here become interrupted (resumable), then the model is released."""
        if "store" in self.__dict__:
            try:
                self.store.release()
            except UserError:
                pass  # the next open marks them, as after a crash
        if self._backend is not None:
            self._backend.close()
            self._backend = None
