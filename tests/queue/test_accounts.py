"""Accounts of the review app: users, argon2 password hashes, sessions, the per-account login limit,
and the ``classifier users`` command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from argon2 import PasswordHasher, extract_parameters
from sqlalchemy import select, update

from classifier.cli import main
from classifier.queue import CaseStore
from classifier.queue import accounts as accounts_module
from classifier.queue.accounts import Accounts, LoginBlockedError, hash_token
from classifier.queue.schema import audit_table, sessions_table, users_table

PASSWORD = "correct-horse-1"
DAY = timedelta(days=1)
PRODUCTION_HASHER = accounts_module._HASHER
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at the app's cost takes ~0.3 s a hash; these tests are about accounts, not about cost
    (the two tests of the production parameters call ``production_hashes``)."""
    monkeypatch.setattr(accounts_module, "_HASHER", CHEAP_HASHER)
    dummy = CHEAP_HASHER.hash("dummy-password-0")
    monkeypatch.setattr(accounts_module, "_dummy_hash", lambda: dummy)


def production_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts_module, "_HASHER", PRODUCTION_HASHER)


@pytest.fixture()
def accounts(store: CaseStore) -> Accounts:
    return Accounts(store, max_failures=3)


@pytest.fixture()
def boris(accounts: Accounts) -> dict:
    return accounts.add_user("boris", PASSWORD, role="expert", created_by="tests")


def rows(store: CaseStore, table) -> list[dict]:
    with store.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


def actions(store: CaseStore, action: str) -> list[str]:
    return [entry["actor"] for entry in store.audit_log(1000, action=action)]


def attempted(store: CaseStore, action: str) -> list[str]:
    """The names typed in failed or refused logins (newest first), whose actor is always ``?``."""
    entries = store.audit_log(1000, action=action)
    assert {entry["actor"] for entry in entries} <= {"?"}
    return [entry["detail"]["username"] for entry in entries]


def age_failures(store: CaseStore, minutes: float) -> None:
    """Move every failed login ``minutes`` into the past: no clock need move."""
    a = audit_table.c
    with store.engine.begin() as conn:
        for entry_id, at in conn.execute(select(a.id, a.at).where(a.action == "login_failed")).all():
            conn.execute(
                update(audit_table).where(a.id == entry_id).values(at=at - timedelta(minutes=minutes))
            )


# -- users --


def test_add_user_returns_the_user_without_its_hash(accounts: Accounts, store: CaseStore) -> None:
    user = accounts.add_user("  Boris.K ", PASSWORD, role="admin", created_by="anna")
    assert user["username"] == "boris.k"
    assert user["role"] == "admin"
    assert user["active"]
    assert user["created_by"] == "anna"
    assert "password_hash" not in user
    assert [u["username"] for u in accounts.users()] == ["boris.k"]
    [entry] = store.audit_log(action="user_added")
    assert entry["actor"] == "anna"
    assert entry["detail"] == {"username": "boris.k", "role": "admin"}


@pytest.mark.parametrize(
    "username", ["", "b", "-boris", ".boris", "boris smith", "борис", "boris/../x", "x" * 65, "boris@example"]
)
def test_add_user_refuses_bad_usernames(username: str, accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="username"):
        accounts.add_user(username, PASSWORD)
    assert accounts.users() == []


@pytest.mark.parametrize("username", ["cli", " CLI "])
def test_no_account_may_be_named_as_the_command_line(username: str, accounts: Accounts) -> None:
    # the audit log shows the actor "cli" as «командная строка»: an account so named would pose as it
    with pytest.raises(ValueError, match="reserved"):
        accounts.add_user(username, PASSWORD)
    assert accounts.users() == []


@pytest.mark.parametrize("password", ["", "short", "123456789", None])
def test_add_user_refuses_short_passwords(password: str | None, accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="at least 10 characters"):
        accounts.add_user("boris", password)
    assert accounts.users() == []


@pytest.mark.parametrize(
    "password",
    [
        "1111111111",
        "aaaaaaaaaaaaaaaa",
        "1212121212",
        "1234567890",
        "0987654321",
        "qwertyuiop",
        "йцукенгшщз",
        "abcdefghijkl",
        "password123",
        "Password2024!",
        "qwerty123456",
        "пароль12345",
        "P@ssw0rd!!",
    ],
)
def test_common_and_repetitive_passwords_are_refused(password: str, accounts: Accounts, boris: dict) -> None:
    with pytest.raises(ValueError, match=r"guessed first|guessers try first"):
        accounts.add_user("vera", password)
    with pytest.raises(ValueError, match=r"guessed first|guessers try first"):
        accounts.set_password("boris", password)
    assert [u["username"] for u in accounts.users()] == ["boris"]
    assert accounts.authenticate("boris", PASSWORD) is not None


@pytest.mark.parametrize("role", ["root", "Admin", ""])
def test_add_user_refuses_unknown_roles(role: str, accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        accounts.add_user("boris", PASSWORD, role=role)
    assert accounts.users() == []


def test_add_user_refuses_a_duplicate_name(accounts: Accounts, boris: dict) -> None:
    with pytest.raises(ValueError, match="exists already"):
        accounts.add_user(" BORIS ", "another-password-2", role="admin")
    [user] = accounts.users()
    assert user["role"] == "expert"
    assert accounts.authenticate("boris", PASSWORD) is not None


def test_password_is_stored_as_a_strong_argon2id_hash(
    accounts: Accounts, store: CaseStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    production_hashes(monkeypatch)
    accounts.add_user("boris", PASSWORD)
    [row] = rows(store, users_table)
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in repr(row)
    parameters = extract_parameters(row["password_hash"])
    assert parameters.memory_cost >= 19 * 1024 and parameters.time_cost >= 2  # OWASP's minimum for argon2id
    assert PasswordHasher().verify(row["password_hash"], PASSWORD)


def test_weak_hash_is_upgraded_at_the_next_login(
    accounts: Accounts, store: CaseStore, boris: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    [before] = rows(store, users_table)
    production_hashes(monkeypatch)
    assert accounts.authenticate("boris", PASSWORD) is not None
    [after] = rows(store, users_table)
    assert after["password_hash"] != before["password_hash"]
    assert not PRODUCTION_HASHER.check_needs_rehash(after["password_hash"])
    assert accounts.authenticate("boris", PASSWORD) is not None


def test_same_password_gets_different_salts(accounts: Accounts, store: CaseStore) -> None:
    accounts.add_user("boris", PASSWORD)
    accounts.add_user("vera", PASSWORD)
    hashes = {row["password_hash"] for row in rows(store, users_table)}
    assert len(hashes) == 2


# -- logging in --


def test_authenticate_with_the_right_password(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    user = accounts.authenticate(" Boris ", PASSWORD, ip="10.0.0.1")
    assert user is not None
    assert user["username"] == "boris"
    assert "password_hash" not in user
    [entry] = store.audit_log(action="login")
    assert (entry["actor"], entry["detail"]) == ("boris", {"ip": "10.0.0.1"})


def test_authenticate_with_a_wrong_password_is_none_and_audited(
    accounts: Accounts, store: CaseStore, boris: dict
) -> None:
    assert accounts.authenticate("boris", PASSWORD + "x", ip="10.0.0.2") is None
    assert accounts.authenticate("boris", "") is None
    assert attempted(store, "login_failed") == ["boris", "boris"]
    assert [entry["detail"]["ip"] for entry in store.audit_log(action="login_failed")] == ["", "10.0.0.2"]
    assert actions(store, "login") == []


def test_unknown_user_is_audited_as_a_failed_login(accounts: Accounts, store: CaseStore) -> None:
    assert accounts.authenticate("nobody", PASSWORD) is None
    assert accounts.authenticate("", PASSWORD) is None
    assert attempted(store, "login_failed") == ["", "nobody"]


def test_a_typed_name_is_never_an_actor(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    """Whoever types 'anna' or a spoofed name at the login form acts as no one in the audit log."""
    assert accounts.authenticate("anna", PASSWORD) is None
    assert accounts.authenticate("bor\u202eis", PASSWORD) is None
    assert store.audit_log(actor="anna") == [] and actions(store, "login_failed") == ["?", "?"]
    assert attempted(store, "login_failed") == ["bor\u202eis", "anna"]


def test_disabled_user_cannot_log_in(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    accounts.set_active("boris", False, actor="anna")
    assert accounts.authenticate("boris", PASSWORD) is None
    assert attempted(store, "login_failed") == ["boris"]
    assert actions(store, "user_disabled") == ["anna"]
    accounts.set_active("boris", True)
    assert accounts.authenticate("boris", PASSWORD) is not None


def test_account_is_blocked_after_max_failures(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    accounts.add_user("vera", "vera-password-3")
    for _ in range(3):
        assert accounts.authenticate("boris", "wrong-password") is None
    with pytest.raises(LoginBlockedError):
        accounts.authenticate("boris", PASSWORD)
    with pytest.raises(LoginBlockedError) as blocked:
        accounts.authenticate("BORIS", PASSWORD)  # the same account, however it is typed
    assert 0 < blocked.value.seconds <= 60  # the first wait: ``delay``
    assert attempted(store, "login_blocked") == ["boris"]  # once a wait: a flood does not flood the log
    assert accounts.authenticate("vera", "vera-password-3") is not None  # other accounts are not blocked


def test_failures_from_one_address_do_not_block_the_account_from_another(
    accounts: Accounts, boris: dict
) -> None:
    for _ in range(3):  # the fixture's max_failures
        assert accounts.authenticate("boris", "wrong-password", ip="203.0.113.9") is None
    with pytest.raises(LoginBlockedError):
        accounts.authenticate("boris", PASSWORD, ip="203.0.113.9")
    assert accounts.authenticate("boris", PASSWORD, ip="10.0.0.1") is not None  # the owner, elsewhere


def test_the_wait_doubles_with_each_further_failure(store: CaseStore, boris: dict) -> None:
    accounts = Accounts(store, max_failures=2, delay=timedelta(minutes=1), window=timedelta(hours=1))
    waits = []
    for _ in range(4):
        assert accounts.authenticate("boris", "wrong-password", ip="10.0.0.9") is None
        waits.append(accounts.wait("boris", "10.0.0.9")[0])
        age_failures(store, 5)  # past each wait, still within the window
    assert waits[0] == 0
    assert [round(w / 60) for w in waits[1:]] == [1, 2, 4]
    assert accounts.recent_failures("boris", "10.0.0.9") == 4


def test_a_successful_login_clears_the_pairs_earlier_failures(store: CaseStore, boris: dict) -> None:
    accounts = Accounts(store, max_failures=2)
    assert accounts.authenticate("boris", "wrong-password", ip="10.0.0.3") is None
    assert accounts.authenticate("boris", PASSWORD, ip="10.0.0.3") is not None
    assert accounts.recent_failures("boris", "10.0.0.3") == 0
    assert accounts.authenticate("boris", "wrong-password", ip="10.0.0.3") is None
    assert accounts.authenticate("boris", PASSWORD, ip="10.0.0.3") is not None  # one failure, not two


def test_failures_before_the_window_do_not_block(store: CaseStore, boris: dict) -> None:
    accounts = Accounts(store, max_failures=1, window=timedelta(minutes=15))
    assert accounts.authenticate("boris", "wrong-password") is None
    with pytest.raises(LoginBlockedError):
        accounts.authenticate("boris", PASSWORD)
    age_failures(store, 16)
    assert accounts.authenticate("boris", PASSWORD) is not None


# -- sessions --


def test_session_gives_the_user_and_the_csrf_token(accounts: Accounts, boris: dict) -> None:
    token, csrf = accounts.start_session(boris["id"], DAY)
    session = accounts.session(token)
    assert session is not None
    assert (session["username"], session["role"], session["csrf_token"]) == ("boris", "expert", csrf)
    assert token != csrf


@pytest.mark.parametrize("token", ["", "not-a-session", None])
def test_unknown_session_token_is_none(token: str | None, accounts: Accounts, boris: dict) -> None:
    accounts.start_session(boris["id"], DAY)
    assert accounts.session(token) is None


@pytest.mark.parametrize("lifetime", [timedelta(seconds=-1), timedelta(0), timedelta(microseconds=1)])
def test_session_expires(lifetime: timedelta, accounts: Accounts, boris: dict) -> None:
    token, _ = accounts.start_session(boris["id"], lifetime)
    assert accounts.session(token) is None


def test_expired_sessions_are_deleted_when_a_new_one_starts(
    accounts: Accounts, store: CaseStore, boris: dict
) -> None:
    accounts.start_session(boris["id"], timedelta(seconds=-1))
    accounts.start_session(boris["id"], DAY)
    assert len(rows(store, sessions_table)) == 1


def test_session_token_is_stored_only_as_its_hash(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    token, _ = accounts.start_session(boris["id"], DAY)
    [row] = rows(store, sessions_table)
    assert row["token_hash"] == hash_token(token)
    assert all(token not in str(value) for value in row.values())


def test_end_session_ends_only_that_session(accounts: Accounts, boris: dict) -> None:
    first, _ = accounts.start_session(boris["id"], DAY)
    second, _ = accounts.start_session(boris["id"], DAY)
    accounts.end_session(first)
    assert accounts.session(first) is None
    assert accounts.session(second) is not None


def test_password_change_ends_all_sessions_of_the_user(
    accounts: Accounts, store: CaseStore, boris: dict
) -> None:
    vera = accounts.add_user("vera", "vera-password-3")
    tokens = [accounts.start_session(boris["id"], DAY)[0] for _ in range(2)]
    other, _ = accounts.start_session(vera["id"], DAY)
    accounts.set_password("boris", "new-password-99", actor="anna")
    assert [accounts.session(t) for t in tokens] == [None, None]
    assert accounts.session(other) is not None
    assert accounts.authenticate("boris", PASSWORD) is None
    assert accounts.authenticate("boris", "new-password-99") is not None
    assert actions(store, "password_changed") == ["anna"]


def test_an_idle_session_ends_and_a_used_one_lasts(accounts: Accounts, store: CaseStore, boris: dict) -> None:
    timed = Accounts(store, lifetime=timedelta(hours=12), idle=timedelta(minutes=30))
    idle, _ = timed.start_session(boris["id"], timedelta(hours=12))
    used, _ = timed.start_session(boris["id"], timedelta(hours=12))
    s = sessions_table.c

    def move_back(minutes: float) -> None:  # the sessions' times, earlier: no clock need move
        with store.engine.begin() as conn:
            for token_hash, created, expires in conn.execute(
                select(s.token_hash, s.created_at, s.expires_at)
            ):
                earlier = timedelta(minutes=minutes)
                conn.execute(
                    update(sessions_table)
                    .where(s.token_hash == token_hash)
                    .values(created_at=created - earlier, expires_at=expires - earlier)
                )

    move_back(20)
    assert timed.session(used) is not None  # a request 20 minutes in: 30 more from now
    move_back(20)
    assert timed.session(idle) is None  # 40 minutes without a request
    assert timed.session(used) is not None  # 20 minutes since its last request


def test_disabling_a_user_ends_their_sessions(accounts: Accounts, boris: dict) -> None:
    token, _ = accounts.start_session(boris["id"], DAY)
    accounts.set_active("boris", False)
    assert accounts.session(token) is None


def test_changing_an_unknown_user_fails(accounts: Accounts) -> None:
    with pytest.raises(ValueError, match="unknown user"):
        accounts.set_password("nobody", "new-password-99")
    with pytest.raises(ValueError, match="unknown user"):
        accounts.set_active("nobody", False)


# -- the command line --


def test_cli_adds_and_lists_a_user(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("carol-password-1\n"))
    assert main(["users", "add", "carol", "--role", "admin", "--password-stdin", "--db", db_url]) == 0
    assert "added admin carol" in capsys.readouterr().out
    assert main(["users", "list", "--db", db_url]) == 0
    listing = capsys.readouterr().out
    assert listing.split()[:3] == ["carol", "admin", "active"]
    with CaseStore(db_url) as store:
        user = Accounts(store).authenticate("carol", "carol-password-1")
    assert user is not None and user["role"] == "admin"


def test_cli_refuses_a_short_password(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "carol", "--password-stdin", "--db", db_url]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    with CaseStore(db_url) as store:
        assert Accounts(store).users() == []


def test_cli_refuses_a_repetitive_password(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("1111111111\n"))
    assert main(["users", "add", "carol", "--password-stdin", "--db", db_url]) == 2
    assert "guessed first" in capsys.readouterr().err
    with CaseStore(db_url) as store:
        assert Accounts(store).users() == []


def test_cli_disables_a_user(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("carol-password-1\n"))
    main(["users", "add", "carol", "--password-stdin", "--db", db_url])
    assert main(["users", "disable", "carol", "--db", db_url]) == 0
    assert "disabled" in capsys.readouterr().out.splitlines()[-1]
    assert main(["users", "list", "--db", db_url]) == 0
    assert capsys.readouterr().out.split()[:3] == ["carol", "expert", "disabled"]
