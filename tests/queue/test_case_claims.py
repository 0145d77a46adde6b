"""Claims (``queue/claims.py``) and the next case (``queue/views.next_case``): a case opened through
"next" is the expert's for a while; two experts asking at the same moment get different cases, on SQLite
and PostgreSQL; the filters and the cases left are honoured; a decision or an admin ends a claim."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import event, update

from classifier.queue import CaseStore
from classifier.queue.schema import claims_table
from classifier.queue.values import now
from classifier.queue.views import OPEN, QueueFilter, next_case
from scored_rows import scored

MINUTES = 15
ROUNDS = 5
ANYTHING_OPEN = QueueFilter(status=OPEN)


def three_cases(store: CaseStore) -> list[int]:
    """Case ids, most urgent first: a Russian, a Kazakh and a Russian page."""
    store.add_scored(
        [
            scored("r1", "https://a.kz/", priority=0.9),
            scored("r2", "https://b.kz/", priority=0.8, language="kk"),
            scored("r3", "https://c.kz/", priority=0.7),
        ]
    )
    return [c["id"] for c in store.cases()]


def test_a_claim_is_taken_by_one_expert_until_it_expires_or_is_released(store: CaseStore) -> None:
    first, second, _ = three_cases(store)
    assert store.claim(first, "boris", MINUTES)
    assert not store.claim(first, "vera", MINUTES)  # boris works on it
    assert store.claim(first, "boris", MINUTES)  # his own: renewed
    claim = store.claim_of(first)
    assert claim is not None and claim["expert"] == "boris"
    with store.engine.begin() as conn:  # time passes: the claim runs out
        conn.execute(update(claims_table).values(expires_at=now() - timedelta(seconds=1)))
    assert store.claim_of(first) is None and store.running_claims() == []
    assert store.claim(first, "vera", MINUTES)  # an expired claim is anyone's
    assert store.claim(second, "vera", MINUTES)  # one claim per expert: taking another ends the first
    assert [(c["case_id"], c["expert"]) for c in store.running_claims()] == [(second, "vera")]
    assert not store.release_claim(second, "boris")  # not his
    assert store.release_claim(second)  # an admin's release
    assert store.running_claims() == [] and store.claim(second, "boris", MINUTES)


def test_a_decision_ends_the_claim(store: CaseStore) -> None:
    first, *_ = three_cases(store)
    assert store.claim(first, "boris", MINUTES)
    store.record_decision(first, "rejected", "boris", expected_version=0)
    assert store.claim_of(first) is None


def test_two_experts_asking_for_the_next_case_one_after_the_other_get_different_cases(
    store: CaseStore,
) -> None:
    first, second, third = three_cases(store)
    assert next_case(store, ANYTHING_OPEN, "boris", MINUTES) == first
    assert next_case(store, ANYTHING_OPEN, "vera", MINUTES) == second  # boris has the first
    assert next_case(store, ANYTHING_OPEN, "boris", MINUTES) == first  # his own claim stays his
    assert next_case(store, ANYTHING_OPEN, "boris", MINUTES, skip=[first]) == third  # he left it
    assert next_case(store, ANYTHING_OPEN, "anna", MINUTES) == first  # left, so free again
    assert next_case(store, ANYTHING_OPEN, "rita", MINUTES) is None  # all three are claimed


def test_next_keeps_the_filters_and_passes_the_cases_left(store: CaseStore) -> None:
    first, second, third = three_cases(store)
    russian = QueueFilter(status=OPEN, language="ru")
    assert next_case(store, russian, "boris", MINUTES) == first
    assert next_case(store, russian, "boris", MINUTES, skip=[first]) == third
    assert next_case(store, russian, "boris", MINUTES, skip=[first, third]) is None
    assert next_case(store, QueueFilter(status=OPEN, language="kk"), "vera", MINUTES) == second
    store.record_decision(second, "unsure", "vera", expected_version=0)
    assert next_case(store, QueueFilter(status="unsure"), "vera", MINUTES) == second
    assert next_case(store, QueueFilter(status=OPEN, search="c.kz"), "anna", MINUTES) is None  # boris's


def test_next_offers_a_case_waiting_for_a_second_confirmation_to_the_other_experts(db_url: str) -> None:
    with CaseStore(db_url, confirmations_required=2) as store:
        first, second, _ = three_cases(store)
        store.record_decision(first, "confirmed", "boris", expected_version=0)  # pending: one more expert
        assert next_case(store, ANYTHING_OPEN, "boris", MINUTES) == second
        assert next_case(store, ANYTHING_OPEN, "vera", MINUTES) == first
        store.record_decision(first, "rejected", "vera")  # a rejection voids boris's confirmation
        store.record_decision(first, "confirmed", "vera")
        assert next_case(store, ANYTHING_OPEN, "boris", MINUTES) == first  # his to confirm again


def ask_at_once(stores: list[CaseStore], experts: list[str]) -> list[int | None]:
    """Each expert asks their store for the next case from a thread of their own, the threads released
    together by a barrier; the cases they got, in the experts' order."""
    barrier = threading.Barrier(len(experts))
    found: list[int | None] = [None] * len(experts)

    def ask(k: int) -> None:
        barrier.wait(timeout=30)
        found[k] = next_case(stores[k], ANYTHING_OPEN, experts[k], MINUTES)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(len(experts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return found


def test_experts_claiming_at_the_same_moment_never_share_a_case(db_url: str) -> None:
    """Four experts, each with a store of their own (a server process each), ask for the next case at
    once, again and again: every answer is a different case, and the claims say who has which."""
    experts = ["anna", "boris", "vera", "rita"]
    with CaseStore(db_url) as setup:
        setup.add_scored([scored(f"r{i}", f"https://{i}.kz/", priority=1 - i / 100) for i in range(30)])
    stores = [CaseStore(db_url) for _ in experts]
    try:
        for _ in range(ROUNDS):
            got = ask_at_once(stores, experts)
            assert None not in got and len(set(got)) == len(experts), got
            holders = {c["case_id"]: c["expert"] for c in stores[0].running_claims()}
            assert holders == dict(zip(got, experts, strict=True))
            for one, name, case_id in zip(stores, experts, got, strict=True):  # decided: next round
                one.record_decision(case_id, "rejected", name)  # type: ignore[arg-type]
    finally:
        for one in stores:
            one.close()


def test_a_case_claimed_between_the_look_at_the_queue_and_the_claim_is_passed_by(db_url: str) -> None:
    """vera claims the most urgent case right after boris's "next" has read the queue, before it claims
    (an event on his store's connection, no timing): boris gets the second case, vera keeps hers."""
    with CaseStore(db_url) as boris, CaseStore(db_url) as vera:
        first, second, _ = three_cases(boris)
        done: list[bool] = []

        def meanwhile(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if not done and statement.lstrip().startswith("SELECT cases.id"):
                done.append(vera.claim(first, "vera", MINUTES))

        event.listen(boris.engine, "after_cursor_execute", meanwhile)
        try:
            assert next_case(boris, ANYTHING_OPEN, "boris", MINUTES) == second
        finally:
            event.remove(boris.engine, "after_cursor_execute", meanwhile)
        assert done == [True]
        holders = {c["case_id"]: c["expert"] for c in boris.running_claims()}
        assert holders == {first: "vera", second: "boris"}
