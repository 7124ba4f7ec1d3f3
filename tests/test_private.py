"""Private by default: folders 0700, files 0600, looser ones left by an older version tightened with a notice."""

import json
import stat

from conftest import run_cli

from simtrainer.config import config_file
from simtrainer.storage import Store


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_run_creates_owner_only_files(home, tmp_path):
    script = tmp_path / "lines.txt"
    script.write_text("What brings you in today?\n")
    result = run_cli("practice", "-s", "mi-alcohol-nurse", "--script", str(script), "-m", "fake", "--json")
    assert result.returncode == 0, result.stderr
    assert "Made private" not in result.stderr  # nothing to tighten on a fresh run
    sid = json.loads(result.stdout)["session_id"]
    out = tmp_path / "exports" / "session.md"
    out.parent.mkdir()
    assert run_cli("sessions", "export", sid, "--format", "md", "-o", str(out)).returncode == 0
    assert mode(home) == 0o700 and mode(home / "data") == 0o700
    assert mode(home / "data" / "sessions.db") == 0o600
    assert mode(out) == 0o600


def test_the_database_and_its_wal_files_are_owner_only_without_the_cli(tmp_path):
    """The store makes its file 0600 itself, whatever the umask; SQLite gives -wal and -shm the same mode."""
    path = tmp_path / "data" / "s.db"
    store = Store(path)
    store.create_session(scenario_id="x", scenario_title="X", modality="mi", model="m", trainee="")
    assert mode(path.parent) == 0o700
    for name in ("s.db", "s.db-wal", "s.db-shm"):
        assert mode(path.parent / name) == 0o600, name
    store.close()


def test_loose_modes_are_tightened_with_a_notice(home):
    assert run_cli("sessions", "list").returncode == 0
    db = home / "data" / "sessions.db"
    (home / "data").chmod(0o755)
    db.chmod(0o644)
    config_file().parent.mkdir(parents=True)
    config_file().write_text('trainee = "ana"\n')
    config_file().chmod(0o664)
    result = run_cli("sessions", "list")
    assert result.returncode == 0, result.stderr
    notice = [line for line in result.stderr.splitlines() if "Made private" in line]
    assert len(notice) == 1 and "(644->600)" in notice[0] and "(755->700)" in notice[0]
    assert mode(home / "data") == 0o700 and mode(db) == 0o600 and mode(config_file()) == 0o600
    assert "Made private" not in run_cli("sessions", "list").stderr  # said once, when something changed
