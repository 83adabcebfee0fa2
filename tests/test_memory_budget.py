"""The pool's shared memory budget (schedlint/memory_budget.py): big trees never pile up."""

import multiprocessing
import threading

import pytest

from schedlint.memory_budget import SMALL_FILE, MemoryBudget, reservation

fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")


@fork
def test_a_reservation_waits_while_the_others_would_exceed_the_cap():
    budget = MemoryBudget(multiprocessing.get_context("fork"), cap=100)
    order = []

    def second():
        with budget.reserve(50):
            order.append("second in")

    with budget.reserve(80):
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # 80 + 50 > 100: it waits
        order.append("first out")
    waiter.join(10)
    assert order == ["first out", "second in"]


@fork
def test_reservations_within_the_cap_do_not_wait_and_an_oversized_one_runs_alone():
    budget = MemoryBudget(multiprocessing.get_context("fork"), cap=100)
    with budget.reserve(40):
        with budget.reserve(40):
            pass
    with budget.reserve(10_000):  # bigger than the cap, nothing else reserved: proceeds
        pass


def test_small_files_and_single_process_runs_reserve_nothing():
    class Refuses:
        def reserve(self, nbytes):
            raise AssertionError("reserved")

    with reservation(Refuses(), SMALL_FILE - 1, 400):
        pass
    with reservation(None, 10 * SMALL_FILE, 400):
        pass
