"""QAT over torch.distributed: 2 processes on CPU (gloo) via torch.multiprocessing, each on its
own shard under DistributedDataParallel, end with identical weights that differ from the start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

pytest.importorskip("torchao")
pytest.importorskip("executorch")


def _worker(rank: int, world: int, init_file: str, data: str, out: str) -> None:
    torch.set_num_threads(1)
    from mvedge.model.preprocessing import Preprocessing
    from mvedge.quant import distributed
    from mvedge.quant.data import image_folder
    from mvedge.quant.qat import QATConfig, train
    from tests.quant.conftest import TINY, tiny_model

    ranks = distributed.join(rank, world, f"file://{init_file}")
    try:
        folder = image_folder(data, labelled=True, num_classes=10)
        pre = Preprocessing(input_size=TINY["image_size"], mean=(0.5,) * 3, std=(0.5,) * 3)
        result = train(tiny_model(), folder, pre, QATConfig("executorch", epochs=1, batch_size=8, lr=1e-3), ranks=ranks)
        record = {
            "digest": distributed.weights_digest(result.model),
            "start": distributed.weights_digest(tiny_model()),
            "steps": result.steps,
            "images": result.images_per_epoch,
            "agree": result.ranks_agree,
            "world": result.world,
        }
        Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    finally:
        distributed.leave(ranks)


def test_two_gloo_processes_end_with_identical_weights(tmp_path: Path, digits_folder: Path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(digits_folder), str(tmp_path)), nprocs=2, join=True)
    records = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert records[0]["digest"] == records[1]["digest"]  # the same weights on both ranks
    assert records[0]["digest"] != records[0]["start"]  # and they were trained
    assert all(r["world"] == 2 and r["agree"] for r in records)
    assert records[0]["images"] == 64 and records[0]["steps"] == 4  # 32 images per rank, batches of 8
