"""The pool's shared memory budget (schedlint/check/memory_budget.py): big trees never pile up."""

import multiprocessing
import threading

import pytest

from schedlint.check.memory_budget import SMALL_FILE, MemoryBudget, reservation

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


@fork
def test_a_reservation_that_may_not_wait_raises_instead():
    from schedlint.check.memory_budget import WouldWait

    budget = MemoryBudget(multiprocessing.get_context("fork"), cap=100)
    with budget.reserve(80):
        with pytest.raises(WouldWait):
            with budget.reserve(50, wait=False):
                pass
        with budget.reserve(20, wait=False):  # fits: no wait, no raise
            pass


@fork
def test_a_pool_task_hands_back_the_files_that_do_not_fit_and_checks_the_rest(
    tmp_path, monkeypatch
):
    from schedlint.check import pool
    from schedlint.check.options import Options
    from schedlint.rules import checkable_rules

    big = tmp_path / "big.py"
    big.write_text(
        "import torch\nopt = torch.optim.SGD(p, lr=0.1)\n"
        + "".join(f"x{i} = {i}\n" for i in range(SMALL_FILE // 8))
    )
    small = tmp_path / "small.py"
    small.write_text("import torch\nopt = torch.optim.SGD(p, lr=0.1)\n")
    options = Options(codes=frozenset(r.code for r in checkable_rules()))
    budget = MemoryBudget(multiprocessing.get_context("fork"), cap=1 << 20)
    monkeypatch.setattr(pool._Worker, "budget", budget)  # what a worker inherits
    with budget.reserve(1 << 20):  # another worker holds the whole budget
        done, put_off = pool._task([str(big), str(small)], options, may_put_off=True)
    assert [r.path for r in done] == [str(small)] and done[0].parsed
    assert put_off == [str(big)]
    # Handed out again as a final task, it waits for the budget and is checked.
    results, put_off = pool._task(put_off, options, may_put_off=False)
    assert [r.path for r in results] == [str(big)] and results[0].parsed and put_off == []
