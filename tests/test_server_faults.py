"""Misbehaving model servers (real HTTP servers on 127.0.0.1): each fault is a clear error or a visible notice,
bounded in time and tokens; never a hang, a traceback, or a card line passed off as the model's."""

import json
import time

import pytest
from conftest import free_port, run_cli
from fault_server import FaultServer

from simtrainer.config import PatientSettings, config_file, load_settings
from simtrainer.events import PatientDone, PatientNotice
from simtrainer.llm import GenParams, ModelCallError
from simtrainer.llm.openai_compat import OpenAICompatBackend
from simtrainer.scenarios import get_card
from simtrainer.session import Session
from simtrainer.storage import open_store

PROMPT = "COUNSELOR: How are you?\nCLIENT:"
SCRIPT = ["What brings you in today?", "How has work been?", "What would you like to change?",
          "What worries you most?"]


@pytest.fixture
def faults():
    server = FaultServer()
    yield server
    server.close()


def _backend(url: str, **bounds) -> OpenAICompatBackend:
    return OpenAICompatBackend(url, "x", name="faulty", **bounds)


def _wait_for_streams(server: FaultServer, fault: str, count: int) -> list[str]:
    """The server notices a closed connection on its next write; wait (bounded) until it has."""
    deadline = time.monotonic() + 30
    while len(server.streams[fault]) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.streams[fault]


@pytest.mark.parametrize(("fault", "bounds", "expected"), [
    ("html", {}, ["not an event stream", "text/html", "Router login"]),
    ("empty", {}, ["empty answer (HTTP 200)"]),
    ("garbage", {}, ["not an event stream", "GARBAGE"]),
    ("shape", {}, ["JSON without the OpenAI fields", "all of them"]),
    ("error500", {}, ["HTTP 500", "model exploded"]),
    ("stall", {"timeout_s": 1}, ["sent nothing for 1 s"]),
    ("keepalive", {"timeout_s": 1}, ["stopped sending tokens (none for 1 s)"]),
    ("slow", {"timeout_s": 5, "reply_timeout_s": 1}, ["took longer than 1 s"]),
])
def test_each_fault_is_a_clear_error_naming_the_server(faults, fault, bounds, expected):
    backend = _backend(faults.url(fault), **bounds)
    with pytest.raises(ModelCallError) as info:
        "".join(backend.complete(PROMPT, GenParams(max_tokens=16)))
    error = info.value
    assert error.where == faults.url(fault) + "/completions" and error.fix
    for fragment in expected:
        assert fragment in error.what
    assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in error.render().replace("\n", ""))


def test_an_unreachable_server(faults):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelCallError, match="Cannot reach the model server"):
        list(_backend(url).chat([{"role": "user", "content": "Hi"}], GenParams()))


@pytest.mark.parametrize("fault", ["endless", "la"])
def test_an_endless_stream_is_cut_at_the_token_cap_and_closed(faults, fault):
    backend = _backend(faults.url(fault))
    pieces = list(backend.complete(PROMPT, GenParams(max_tokens=12)))
    assert len(pieces) == 12
    pieces = list(backend.chat([{"role": "user", "content": "Hi"}], GenParams(max_tokens=5)))
    assert len(pieces) == 5
    ended = _wait_for_streams(faults, fault, 2)
    assert len(ended) == 2 and all(e.startswith("closed by client after") for e in ended)
    assert all(int(e.rsplit(" ", 1)[1]) <= 12 + 10 for e in ended)  # a write or two in flight, no more


@pytest.mark.parametrize(("fault", "expected"), [
    ("html", "not JSON"),
    ("shape", "JSON without choices[0].message.content"),
    ("error500", "HTTP 500"),
])
def test_json_calls_fail_clearly(faults, fault, expected):
    schema = {"type": "object", "properties": {"code": {"type": "string"}}}
    with pytest.raises(ModelCallError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        _backend(faults.url(fault)).json([{"role": "user", "content": "Code it."}], schema, GenParams())
    assert _backend(faults.url("ok")).json([{"role": "user", "content": "Code it."}], schema,
                                           GenParams()) == {"code": "question"}


def _session(url: str, **patient) -> Session:
    from simtrainer.feedback.registry import coders_for

    settings = load_settings()
    card = get_card("mi-alcohol-nurse", settings)
    backend = _backend(url, timeout_s=5)
    return Session(open_store(), card, backend, patient_settings=PatientSettings(**patient),
                   coders=coders_for(card, settings, backend), seed=3)


def _turn(session: Session, line: str) -> tuple[list[str], PatientDone]:
    events = list(session.submit(line))
    return [e.text for e in events if isinstance(e, PatientNotice)], next(e for e in events
                                                                          if isinstance(e, PatientDone))


@pytest.mark.parametrize("steering", [True, False])
def test_a_model_whose_every_reply_is_rejected_gets_a_notice(faults, steering):
    session = _session(faults.url("la"), steering=steering)
    notices, done = _turn(session, SCRIPT[0])
    assert notices == ["This reply is a line from the scenario card: every reply the model wrote was rejected "
                       "(repeats itself)."]
    assert done.meta["source"].startswith("card:") and done.meta["notice"] == notices[0]
    card = session.card
    written = card.voice.examples + card.voice.sustain_examples + card.voice.change_examples + \
        card.pressure_reactions + [line.text for line in card.lines] + [x for r in card.reactions for x in r.lines]
    assert done.text in written


@pytest.mark.parametrize("steering", [True, False])
def test_a_server_that_never_answered_ends_the_turn_with_its_error(faults, steering):
    session = _session(faults.url("error500"), steering=steering)
    with pytest.raises(ModelCallError, match="HTTP 500"):
        _turn(session, SCRIPT[0])


@pytest.mark.parametrize("steering", [True, False])
def test_transient_failures_are_covered_with_a_notice_then_end_the_session(faults, steering):
    # priming and the first call of turn 1 answer; a later candidate failing in that turn is covered silently
    session = _session(faults.url("flaky-2"), steering=steering)
    session.prime()
    notices, done = _turn(session, SCRIPT[0])
    assert notices == [] and done.meta["source"] in ("model", "card:change", "card:sustain", "card:neutral")
    for line in SCRIPT[1:3]:  # the server now fails: a card line, said to be one, with the server's error
        notices, done = _turn(session, line)
        assert len(notices) == 1 and "the model failed (The model server answered HTTP 500" in notices[0]
        assert done.meta["source"].startswith("card:") and "HTTP 500" in done.meta["model_error"]
    with pytest.raises(ModelCallError, match="HTTP 500"):  # the third failed turn in a row ends it
        _turn(session, SCRIPT[3])


def _config(url: str, **settings) -> None:
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items() if key != "patient"]
    lines += ['model = "faulty"', "[patient]", "max_tokens = 16"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.get("patient", {}).items()]
    lines += ["[models.faulty]", 'backend = "openai"', f'base_url = "{url}"', 'model = "x"']
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text("\n".join(lines) + "\n")


def _practice(tmp_path, *lines: str, json_out: bool = False):
    script = tmp_path / "lines.txt"
    script.write_text("\n".join(lines) + "\n")
    return run_cli("practice", "--scenario", "mi-alcohol-nurse", "--script", str(script),
                   *(["--json"] if json_out else []), timeout=180)


@pytest.mark.parametrize(("fault", "settings", "expected"), [
    ("html", {}, "not an event stream"),
    ("empty", {}, "empty answer"),
    ("garbage", {}, "not an event stream"),
    ("shape", {}, "JSON without the OpenAI fields"),
    ("error500", {}, "HTTP 500"),
    ("stall", {"timeout_s": 1}, "sent nothing for 1 s"),
    ("keepalive", {"timeout_s": 1}, "stopped sending tokens"),
    ("slow", {"timeout_s": 5, "reply_timeout_s": 1}, "took longer than 1 s"),
    ("refused", {}, "Cannot reach the model server"),
])
def test_practice_against_a_broken_server_exits_2_with_the_error(faults, tmp_path, fault, settings, expected):
    url = f"http://127.0.0.1:{free_port()}/v1" if fault == "refused" else faults.url(fault)
    _config(url, **settings)
    result = _practice(tmp_path, *SCRIPT[:2])
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and url in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr and "\x1b]" not in result.stderr and "\x07" not in result.stderr
    # A trainee line already kept can be resumed; a session the model failed before any was kept is closed as
    # abandoned, with nothing to resume and nothing stuck.
    (session,) = json.loads(run_cli("sessions", "list", "--json").stdout)
    kept = run_cli("sessions", "export", session["id"], "--format", "json").stdout
    has_trainee_turn = any(t["speaker"] == "trainee" for t in json.loads(kept)["turns"])
    assert session["status"] == ("interrupted" if has_trainee_turn else "abandoned")
    assert ("--resume" in result.stderr) == has_trainee_turn
    if fault == "refused":
        assert not has_trainee_turn


def test_practice_against_an_endless_stream_finishes(faults, tmp_path):
    _config(faults.url("endless"))
    result = _practice(tmp_path, *SCRIPT[:2], json_out=True)
    assert result.returncode == 0, result.stderr
    replies = [t for t in json.loads(result.stdout)["turns"][1:] if t["speaker"] == "patient"]
    assert len(replies) == 2
    ended = _wait_for_streams(faults, "endless", faults.calls["endless"])
    assert all(e.startswith("closed by client after") and int(e.rsplit(" ", 1)[1]) <= 16 + 10 for e in ended)


def test_practice_shows_a_notice_and_the_source_when_the_server_fails_mid_session(faults, tmp_path):
    _config(faults.url("flaky-2"), patient={"steering": False})  # the priming call and turn 1 answer well
    result = _practice(tmp_path, *SCRIPT[:3])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("This reply is a line from the scenario card: the model failed") == 2
    assert "Traceback" not in result.stderr
    session_id = result.stdout.split("Review it with: simtrainer sessions show ")[1].split()[0]
    shown = run_cli("sessions", "show", session_id).stdout
    assert shown.count("reply: the model's own words") == 1 and shown.count("reply: a card line (the model's") == 2

    faults.calls.clear()  # the server answers well again for two calls, then fails
    result = _practice(tmp_path, *SCRIPT[:2], json_out=True)  # JSON on stdout, the notice beside it
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("notice: This reply is a line from the scenario card") == 1
    turns = json.loads(result.stdout)["turns"]
    assert [t["meta"]["source"] for t in turns[2::2]] == ["model", "card:fallback"]


def test_a_server_down_for_three_turns_ends_practice(faults, tmp_path):
    _config(faults.url("flaky-2"), patient={"steering": False})
    result = _practice(tmp_path, *SCRIPT)
    assert result.returncode == 2 and "HTTP 500" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.count("This reply is a line from the scenario card") == 2
