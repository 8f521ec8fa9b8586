"""torch.distributed for QAT: one process per CPU (or machine), gloo, DistributedDataParallel.

Launch with torchrun, which sets RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT:

    torchrun --nproc_per_node 2 -m mvedge.cli qat --target executorch --data DIR
    torchrun --nnodes 2 --node_rank R --master_addr HOST --master_port 29500 --nproc_per_node 8 -m mvedge.cli qat ...

Every rank builds the same model (same seed), reads its own shard of the images, and DDP
averages gradients; its buffer broadcast keeps the fake quantizers' ranges and observers equal
on every rank (rank 0's). Only rank 0 prints progress and writes the checkpoint.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    started_here: bool = False

    @property
    def main(self) -> bool:
        """Whether this process prints and writes files."""
        return self.rank == 0


def from_environment(backend: str = "gloo") -> Ranks:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    if dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), False)
    dist.init_process_group(backend)
    return Ranks(dist.get_rank(), dist.get_world_size(), True)


def join(rank: int, world: int, init_method: str, backend: str = "gloo") -> Ranks:
    """Join an explicit process group (tests, torch.multiprocessing.spawn)."""
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world)
    return Ranks(rank, world, True)


def leave(ranks: Ranks) -> None:
    """Destroy the process group if this module created it."""
    if ranks.started_here and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, ranks: Ranks) -> nn.Module:
    """The module in DistributedDataParallel when running on several ranks (CPU: no device ids)."""
    if ranks.world <= 1:
        return module
    return nn.parallel.DistributedDataParallel(module, broadcast_buffers=True)


def mean(value: float, ranks: Ranks) -> float:
    """The mean of `value` over all ranks."""
    if ranks.world <= 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor) / ranks.world


def weights_digest(module: nn.Module) -> str:
    """sha256 of every parameter and buffer, in name order (what "identical weights" means)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def ranks_agree(module: nn.Module, ranks: Ranks) -> bool:
    """Whether every rank holds exactly the same weights (compares digests across ranks)."""
    if ranks.world <= 1:
        return True
    mine = weights_digest(module)
    gathered: list[str | None] = [None] * ranks.world
    dist.all_gather_object(gathered, mine)
    return all(item == mine for item in gathered)
