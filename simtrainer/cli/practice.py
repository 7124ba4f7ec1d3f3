"""`practice`: the headless practice loop (a text REPL, or a script of trainee lines)."""

from __future__ import annotations

import os
import secrets
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape
from rich.text import Text

from simtrainer.cli import report
from simtrainer.cli.output import console, print_json
from simtrainer.config import Settings, load_settings
from simtrainer.errors import UserError
from simtrainer.events import CodesReady, PatientDone, PatientNotice, PatientReset, PatientToken, ReplySaved
from simtrainer.feedback.shown import shown_codes, shown_rubrics
from simtrainer.review.summary_view import rich_table, summary_tables
from simtrainer.session import Session
from simtrainer.text_safety import plain, terminal_safe


def open_session(settings: Settings, scenario_id: str, model: str | None, *, pack=None) -> Session:
    """Check everything a session needs (card, model, database), then start one; with an exercise `pack`, on the
    pack's card, kept with the pack's record."""
    from simtrainer.workspace import Workspace

    workspace = Workspace(settings, model=model)
    card = pack.card if pack is not None else workspace.card(scenario_id)
    workspace.check()
    return workspace.new_session(card, exercise=pack.record(settings.seed) if pack is not None else None)


def resume_session(settings: Settings, session_id: str, model: str | None) -> Session:
    """Check the session can be resumed and the model loads, then take it over."""
    from simtrainer.workspace import Workspace

    workspace = Workspace(settings, model=model)
    workspace.check()
    return workspace.resume_session(session_id)


def _code_badges(codes) -> Text:
    return Text.assemble(("  codes: ", "dim"), plain(" ".join(f"[{c.label}{'?' if c.uncertain else ''}]" for c in codes)))


def _said(name: str, text: str = "", style: str = "bold cyan") -> Text:
    """A transcript line, `NAME: text`, with both parts shown as written."""
    return Text.assemble(plain(f"{name}:", style), " ", plain(text))


def run_turn(session: Session, text: str | None, *, show: bool, speech=None, meta: dict | None = None) -> None:
    """Send one trainee line (None: catch up a resumed session); print codes and the streamed reply when `show`;
    speak it when `speech`."""
    name = session.card.person.name
    streaming = False
    for event in session.submit(text, meta) if text is not None else session.catch_up():
        if isinstance(event, ReplySaved) and speech is not None and speech.speaker is not None:
            speech.speaker.say(event.text)
        if isinstance(event, PatientNotice) and not show:
            click.echo(f"notice: {event.text}", err=True)  # beside the JSON, never hidden
        if not show:
            continue
        shown = shown_codes(session.card.modality, event.codes) if isinstance(event, CodesReady) else []
        if shown:
            console.print(_code_badges(shown))
        elif isinstance(event, PatientToken):
            if not streaming:
                console.print(_said(name), end="")
                streaming = True
            console.print(terminal_safe(event.text), end="", markup=False, highlight=False)
        elif isinstance(event, PatientReset):
            console.print()
            console.print(plain(f"  (reply withdrawn: {event.reason}; regenerating)", "dim"))
            streaming = False
        elif isinstance(event, PatientNotice):
            console.print(f"{chr(10) if streaming else ''}  [dim yellow]({escape(event.text)})[/]")
            streaming = False
        elif isinstance(event, PatientDone):
            console.print()
            streaming = False


def print_history(session: Session) -> None:
    """The conversation so far, when a session is resumed."""
    for line in session.history:
        if line.speaker == "patient":
            console.print(_said(session.card.person.name, line.text))
        else:
            console.print(_said("You", line.text, "bold"))


def print_summary(session: Session, summary: dict | None) -> None:
    if summary is None:
        console.print(f"\n[bold]Session {session.id} not scored:[/] it ended before your first reply "
                      "(kept in the history as abandoned).")
        return
    console.print(f"\n[bold]Session {session.id} saved[/] ({summary['trainee_turns']} trainee turns).")
    for table, scorer in summary_tables(summary):
        console.print(rich_table(table, expand=False))
        console.print(plain(f"scorer: {scorer}", "dim"))
    console.print(f"Review it with: simtrainer sessions show {session.id}")


def session_json(session: Session) -> dict:
    from simtrainer.classroom.handin import transcript

    turns = session.store.turns(session.id)
    row = session.store.get_session(session.id)
    return {
        "session_id": session.id,
        "scenario": session.card.id,
        "trainee": row["trainee"] or "",
        "model": row["model"],
        "seed": session.seed,
        "scorers": {r: s for r, s in session.scorers.items() if r in shown_rubrics(session.card.modality)},
        "turns": transcript(turns, session.card.modality),
        "summary": session.summary if session.ended else None,
    }


def _listen(session: Session, speech) -> tuple[str, dict] | None:
    """Push-to-talk in the terminal: record until Enter, then let the trainee review the transcript."""
    speech.recorder.start()
    console.print("[bold red]● Recording[/] — press Enter to stop.")
    try:
        input()
    finally:
        recording = speech.recorder.stop()
    try:
        heard, meta = speech.transcribe(recording, session_id=session.id, turn=len(session.history))
    except UserError as error:
        console.print(Text.assemble(plain(error.what, "yellow"), " ", plain(error.fix or "")))
        return None
    text = click.prompt("Heard (edit, then Enter to send)", default=heard, show_default=True)
    return text, meta


def script_lines(text: str) -> list[str]:
    """A script's lines, split at newlines only (LF or CR LF); a lone CR inside a line is a space, so one line of
    the file is always one turn."""
    return [line.replace("\r", " ") for line in text.replace("\r\n", "\n").split("\n")]


def repl(session: Session, *, show: bool = True, speech=None, after_turn: Callable[[], bool] | None = None) -> None:
    """Read trainee lines from the terminal until Ctrl-D (or /end); with speech, an empty line records. A line the
    session refuses (too long) is reported and the trainee goes on. `after_turn` runs after each turn and ends
    the loop by returning True (an exercise's limits)."""
    card = session.card
    console.print(Text.assemble(plain(card.title, "bold"), f" — {card.modality_name}, {card.difficulty}"))
    console.print(plain(card.summary))
    if card.dearman:
        console.print(Text.assemble(plain(f"You are the {card.dearman.trainee_role.lower()}. Ask for:", "bold"), " ",
                                    plain(card.dearman.request)))
    console.print(plain(f"Model: {session.backend.label}. Type your reply and press Enter; Ctrl-D or /end ends.\n",
                        "dim"))
    if speech is not None and speech.can_listen:
        console.print("[dim]Voice: press Enter on an empty line to speak, Enter again to stop.[/]")
    if session.resumed:
        print_history(session)
        run_turn(session, None, show=show, speech=speech)
    else:
        console.print(_said(card.person.name, card.opening_line))
        if speech is not None and speech.speaker is not None:
            speech.speaker.say(card.opening_line)
    session.prime()
    while True:
        try:
            text = input("You: ")
        except EOFError:
            console.print()
            break
        if text.strip() in ("/end", "/quit"):
            break
        meta = None
        if not text.strip() and speech is not None and speech.can_listen:
            heard = _listen(session, speech)
            if heard is None:
                continue
            text, meta = heard
        if text.strip():
            saved = len(session.history)
            try:
                run_turn(session, text, show=show, speech=speech, meta=meta)
            except UserError as error:
                if len(session.history) != saved:  # the turn failed part-way: not a refused line
                    raise
                report(error)
                continue
            if after_turn is not None and len(session.history) != saved and after_turn():
                break


@click.command()
@click.option("-s", "--scenario", "scenario_id", help="Scenario id (see `scenarios list`).")
@click.option("--resume", "resume_id", metavar="ID",
              help="Continue an interrupted session (see `sessions list`) with its scenario and patient state.")
@click.option("--script", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run non-interactively: one trainee line per line of this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON at the end.")
@click.option("-m", "--model", help="Model name or .gguf path (default: the configured model).")
@click.option("--seed", type=click.IntRange(0, 2**31 - 2),
              help="Sampling seed: the same seed, model and lines replay a session (`sessions show --json` has it).")
@click.option("--trainee", help="Your name or student id, saved with the session.")
@click.option("--voice", is_flag=True, help="Speak the patient's replies; an empty line records your reply.")
@click.option("--exercise", "exercise_pack", type=click.Path(path_type=Path), metavar="PACK",
              help="Run an exercise pack (its scenario, model, limits and goals) instead of --scenario.")
def practice(scenario_id: str | None, resume_id: str | None, script: Path | None, as_json: bool,
             model: str | None, seed: int | None, trainee: str | None, voice: bool,
             exercise_pack: Path | None) -> None:
    """Practise with a scenario in the terminal (Ctrl-D ends), or run a --script of trainee lines.

    --exercise PACK runs an instructor's exercise: its instructions first, live progress toward each goal,
    its turn or time limit, and a result per goal at the end (hand it in with `exercise submit`).

    A session stopped before it ended (Ctrl-C, a crash, a killed process) is kept as interrupted;
    --resume ID continues it where it stopped."""
    if exercise_pack is not None and (scenario_id is not None or resume_id is not None):
        raise UserError(
            f"--exercise sets the scenario itself; it cannot be combined with "
            f"{'--scenario' if scenario_id is not None else '--resume'}.",
            where="--exercise",
            fix="Give --exercise PACK alone (see `simtrainer exercise show PACK` for its scenario).",
        )
    if exercise_pack is None and (scenario_id is None) == (resume_id is None):
        raise UserError(
            "Give either --scenario (a new session) or --resume (an interrupted one).",
            fix="See `simtrainer scenarios list` for scenarios and `simtrainer sessions list` for sessions.",
        )
    overrides = {k: v for k, v in {"seed": seed, "trainee": trainee}.items() if v is not None}
    settings = load_settings(**overrides)
    pack, elapsed = None, 0.0
    if exercise_pack is not None:
        from simtrainer.cli.exercise import exercise_settings

        pack, settings, model = exercise_settings(exercise_pack, settings, model)
    elif resume_id is not None:
        from simtrainer.cli.exercise import resumed_exercise

        pack, settings, model, elapsed = resumed_exercise(settings, resume_id, model)
    lines: list[str] | None = None
    if script is not None:
        try:
            lines = [line for line in script_lines(script.read_bytes().decode("utf-8")) if line.strip()]
        except UnicodeDecodeError:
            raise UserError("The script is not UTF-8 text.", where=str(script), fix="Save it as UTF-8.") from None
        if not lines:
            raise UserError("The script has no trainee lines.", where=str(script), fix="Write one line per turn.")
    if resume_id is not None:
        session = resume_session(settings, resume_id, model)
    else:
        session = open_session(settings, scenario_id or "", model, pack=pack)
    show = not as_json
    tracker = None
    if pack is not None:
        from simtrainer.cli.exercise import Tracker, print_instructions

        if show:
            print_instructions(pack)
        if not settings.trainee and not session.resumed:
            click.echo("notice: no trainee name is set; give --trainee NAME so your instructor can tell the "
                       "hand-in is yours.", err=True)
        tracker = Tracker(pack, session, show=show, elapsed_s=elapsed)
    after_turn = tracker.after_turn if tracker is not None else None
    speech = None
    if voice:
        from simtrainer.speech.live import SpeechIO

        speech = SpeechIO(settings.speech, session.card.id, listen=lines is None)
        if speech.notice:
            console.print(plain(speech.notice, "yellow"), soft_wrap=True)
    try:
        if session.resumed and show:
            console.print(f"[dim]Resuming session {session.id} ({len(session.history)} turns so far).[/]")
        if lines is None:
            if tracker is not None:
                tracker.start()
            repl(session, show=show, speech=speech, after_turn=after_turn)
        else:
            if show and session.resumed:
                print_history(session)
            elif show:
                console.print(_said(session.card.person.name, session.card.opening_line))
            if session.resumed:
                run_turn(session, None, show=show, speech=speech)
            session.prime()
            if tracker is not None:
                tracker.start()
            for number, line in enumerate(lines, start=1):
                if show:
                    console.print(_said("You", line, "bold"))
                saved = len(session.history)
                run_turn(session, line, show=show, speech=speech)
                if after_turn is not None and len(session.history) != saved and after_turn():
                    if number < len(lines):
                        click.echo(f"({len(lines) - number} script lines left unused)", err=True)
                    break
    except BaseException:
        if session.interrupt():
            click.echo(f"Session {session.id} interrupted; continue it with: simtrainer practice --resume "
                       f"{session.id}", err=True)
        raise
    finally:
        if speech is not None and speech.speaker is not None:
            speech.speaker.close()
    summary = session.end()
    if as_json:
        data = session_json(session)
        if tracker is not None:
            data["exercise"] = tracker.results(summary)
        print_json(data)
    else:
        print_summary(session, summary)
        if tracker is not None:
            tracker.print_results(summary)


def start_app(exercise_pack: Path | None = None) -> None:
    """Bare `simtrainer`: check config, model (an exercise pack's, with `--exercise`) and data folder, then open
    the Textual app (straight into the exercise)."""
    from simtrainer.workspace import Workspace

    settings = load_settings()
    pack, model = None, None
    if exercise_pack is not None:
        from simtrainer.cli.exercise import exercise_settings

        pack, settings, model = exercise_settings(exercise_pack, settings, None)
    workspace = Workspace(settings, model=model)
    workspace.check()
    served = "TEXTUAL_DRIVER" in os.environ  # textual-serve runs the app over pipes with its web driver
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError(
            "The app needs a terminal.",
            fix="Run `simtrainer` in a terminal, `simtrainer serve` for a browser, or "
            "`simtrainer practice --scenario ID --script FILE` without one.",
        )
    cards, _ = workspace.cards()
    if not cards:
        raise UserError("No scenarios found.", fix="Reinstall simtrainer or add cards to <data dir>/scenarios.")
    from simtrainer.ui.app import SimTrainerApp

    try:
        SimTrainerApp(workspace, exercise=pack).run()
    finally:
        workspace.close()  # a session still running (Ctrl+Q, a crash) is kept as interrupted


@click.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Keep the default to stay on this machine; any other address needs the access token printed at start.",
)
@click.option(
    "--token", "use_token", is_flag=True, help="Ask for the access token on this machine too (shared computers)."
)
@click.option("--exercise", "exercise_pack", type=click.Path(path_type=Path), metavar="PACK",
              help="Open every tab's app on this exercise pack (a file, or a shipped example's name).")
def serve(port: int, host: str, use_token: bool, exercise_pack: Path | None) -> None:
    """Serve the app to a browser window (textual-serve) on this machine.

    Only pages from this server can connect to the app. Listening on another address (e.g. 0.0.0.0) lets
    other machines reach it, so it then asks for an access token, made afresh and printed here once.
    --exercise PACK opens every tab on that exercise, as `simtrainer --exercise PACK` does.
    """
    try:
        from simtrainer.cli.web import GuardedServer, is_loopback, page_url
    except ImportError:
        raise UserError("Browser mode needs textual-serve.", fix="pip install textual-serve") from None
    settings = load_settings()  # a broken config (or pack) is reported here, not in every browser tab
    pack_file = None
    if exercise_pack is not None:
        from simtrainer.cli.exercise import exercise_settings

        pack_file = exercise_settings(exercise_pack, settings, None)[0].path
    token = secrets.token_urlsafe(24) if use_token or not is_loopback(host) else None
    if not is_loopback(host):
        console.print(
            f"[yellow]Listening on {escape(terminal_safe(host))}: anyone who can reach this machine on port {port} could open "
            "the app and read your transcripts, so the page asks for an access token.[/]",
            soft_wrap=True,
        )
    console.print(f"Open {escape(terminal_safe(page_url(host, port, token)))} in your browser (Ctrl-C stops).", soft_wrap=True)
    server = GuardedServer(app_command(pack_file), host=host, port=port, token=token, title="simtrainer")
    try:
        server.serve()
    except OSError as exc:
        raise UserError(
            f"Cannot listen on {host} port {port}: {exc.strerror or exc}.",
            fix="Choose another --port, or stop the program that is using it.",
        ) from None


def app_command(pack_file: Path | None = None) -> str:
    """The shell command each browser tab runs: the bare app, or `simtrainer --exercise PACK` on a checked pack
    (an absolute path, so the tab finds the file the server checked)."""
    command = f"{shlex.quote(sys.executable)} -m simtrainer"
    return command if pack_file is None else f"{command} --exercise {shlex.quote(str(pack_file))}"


COMMANDS = [practice, serve]
