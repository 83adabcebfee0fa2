"""SLG106: the same group LRs on every rank of a ``torch.distributed`` process group.

One ``all_gather`` of the group LRs every ``check_every`` optimizer steps, issued with
``async_op=True`` and waited on with a timeout, so a rank that died or stopped stepping turns
into a "not checked" warning on the others instead of a hang inside the guard.
"""

from __future__ import annotations

from datetime import timedelta

import torch


def world():
    """``(rank, world_size)`` of the default process group, or None outside distributed runs."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    size = dist.get_world_size()
    return (dist.get_rank(), size) if size > 1 else None


def gather_lrs(lrs: list, timeout_s: float) -> list:
    """Every rank's LR list, indexed by rank. Raises on timeout or a broken group."""
    import torch.distributed as dist

    device = torch.device("cpu")
    if dist.get_backend() == "nccl":  # pragma: no cover - needs GPUs
        device = torch.device("cuda", torch.cuda.current_device())
    mine = torch.tensor(lrs, dtype=torch.float64, device=device)
    everyone = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    work = dist.all_gather(everyone, mine, async_op=True)
    if not work.wait(timeout=timedelta(seconds=timeout_s)):
        raise TimeoutError(f"LR all_gather did not finish within {timeout_s:g} s")
    return [t.tolist() for t in everyone]


def diverging(per_rank: list) -> list:
    """``[(group, rank, rank0_lr, that_rank_lr), ...]``: for each group whose LR is not the same on
    every rank, the first rank that differs from rank 0. Every rank computes the same list, so
    every rank reports (and in raise mode stops) at the same step."""
    reference = per_rank[0]
    out = []
    for i, expected in enumerate(reference):
        for rank, values in enumerate(per_rank[1:], start=1):
            if values[i] != expected and not (values[i] != values[i] and expected != expected):
                out.append((i, rank, expected, values[i]))
                break
    return out
