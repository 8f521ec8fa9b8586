"""Quantization-aware training: the target's PT2E quantizer in QAT mode, distillation from the float model.

1. The model is captured in training mode (drop-path off) and prepared with `prepare_qat_pt2e`
   and the target's recipe quantizer (mvedge.quant.pt2e; the scan and norms stay float); then
   its batch norms use their running statistics (frozen, as usual when fine-tuning on a small
   set, see `frozen_batch_norms`), while the fake quantizers keep rounding weights and
   activations to int8 in the forward pass (straight-through gradients).
2. The float model is the teacher: loss = T^2 * KL(teacher / T || student / T), plus, when the
   images have labels, `label_weight` * cross-entropy. A model without a head (features) uses
   the mean squared error of the features instead of the KL term.
3. Observers (the activation ranges) update for the first `freeze_observers` fraction of the
   steps, then freeze, so the last steps train against fixed ranges.
4. The tuned float weights are read back out of the prepared graph (same parameter names) into
   a plain MambaVision, checked to compute what the graph computes with fake quantization off.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvedge.errors import BadInput, Failed
from mvedge.model.checkpoints import load_state_dict_strict
from mvedge.model.mambavision import MambaVision
from mvedge.model.preprocessing import Preprocessing
from mvedge.progress import Progress
from mvedge.quiet import silenced
from mvedge.quant import distributed
from mvedge.quant.data import ImageFolder, batches, shard
from mvedge.quant.recipes import recipe_for


@dataclass
class QATConfig:
    """How to fine-tune: target, length, optimiser, distillation and observer schedule."""

    target: str
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-5
    weight_decay: float = 0.0
    temperature: float = 2.0
    label_weight: float = 0.5
    freeze_observers: float = 0.5
    seed: int = 0
    exclude: tuple[str, ...] = ()

    def check(self) -> None:
        """ValueError naming the first bad setting."""
        recipe_for(self.target)
        if self.epochs < 1:
            raise BadInput(f"--epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise BadInput(f"--batch-size must be >= 2 (batch norm in training graphs), got {self.batch_size}")
        if not self.lr > 0:
            raise BadInput(f"--lr must be positive, got {self.lr}")
        if not 0.0 <= self.freeze_observers <= 1.0:
            raise BadInput(f"freeze_observers must be in [0, 1], got {self.freeze_observers}")


@dataclass
class QATResult:
    """The tuned float model and what happened."""

    model: MambaVision
    prepared: torch.fx.GraphModule | None = None  # the QAT graph (fake quantization off at the end)
    epochs: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    images_per_epoch: int = 0
    seconds: float = 0.0
    quantized: dict[str, Any] = field(default_factory=dict)
    ranks_agree: bool = True
    world: int = 1


def prepare_qat(model: nn.Module, target: str, example: Tensor, exclude: tuple[str, ...] = ()) -> tuple[torch.fx.GraphModule, dict]:
    """The model prepared for QAT with the target's recipe quantizer, in eval semantics (frozen
    batch-norm statistics, no drop-path) with fake quantization on; and the recipe report."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    from mvedge.quant import pt2e

    quantizer = pt2e.recipe_quantizer(target, qat=True, exclude=exclude)
    copied = copy.deepcopy(model)
    for module in copied.modules():  # drop-path / dropout off in the captured training graph
        if hasattr(module, "rate"):
            module.rate = 0.0
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    with silenced():
        captured = pt2e.capture_for_training(copied, example)
        prepared = prepare_qat_pt2e(captured, quantizer)
    frozen_batch_norms(prepared, model)
    return prepared, quantizer.report()


def frozen_batch_norms(prepared: torch.fx.GraphModule, model: nn.Module) -> int:
    """Put every batch norm of a QAT graph in eval mode (running statistics, not updated) with
    its module's own eps; returns how many batch norms were changed.

    torchao 0.18's conv-batchnorm QAT fusion writes eps=1e-5 into the norm it rebuilds and into
    the `running_var + eps` of its weight scaling ("TODO: allow setting eps" in qat_utils.py),
    and `move_exported_model_to_eval` rebuilds norms with the default eps as well; MambaVision's
    stem norms use eps=1e-4 (an official quirk), so the QAT graph computed another function
    (1e-3 relative difference measured). Each norm is found through its running_var buffer."""
    modules = dict(model.named_modules())

    def eps_of(node: object) -> float | None:
        if isinstance(node, torch.fx.Node) and node.op == "get_attr" and str(node.target).endswith("running_var"):
            owner = modules.get(str(node.target).rsplit(".", 1)[0])
            return float(owner.eps) if isinstance(owner, nn.modules.batchnorm._BatchNorm) else None
        return None

    changed = 0
    for node in prepared.graph.nodes:
        if node.op != "call_function":
            continue
        if node.target == torch.ops.aten.batch_norm.default:
            args = list(node.args)
            eps = eps_of(args[4])
            args[5] = False
            if eps is not None:
                args[7] = eps
            node.args = tuple(args)
            changed += 1
        elif node.target == torch.ops.aten.add.Tensor and len(node.args) == 2 and isinstance(node.args[1], float):
            eps = eps_of(node.args[0])  # the fused pattern's sqrt(running_var + eps)
            if eps is not None:
                node.args = (node.args[0], eps)
        elif node.target == torch.ops.aten.dropout.default:
            node.args = (node.args[0], node.args[1], False)
    prepared.recompile()
    return changed


def fold_to_float(prepared: torch.fx.GraphModule, template: MambaVision) -> MambaVision:
    """A plain MambaVision holding the prepared graph's (tuned) weights, under the same names."""
    state = prepared.state_dict()
    names = list(template.state_dict())
    missing = [name for name in names if name not in state]
    if missing:
        raise RuntimeError(f"the QAT graph lost parameters {missing[:4]}; report it with the toolchain versions")
    model = copy.deepcopy(template)
    load_state_dict_strict(model, {name: state[name] for name in names})
    model.variant = getattr(template, "variant", None)  # type: ignore[attr-defined]
    return model.eval()


def check_folded(prepared: torch.fx.GraphModule, folded: nn.Module, images: Tensor) -> float:
    """Relative max difference between the folded float model and the QAT graph with fake
    quantization off (must be ~0: the weights were read back correctly). Leaves fake quant off."""
    from torchao.quantization.pt2e import disable_fake_quant, disable_observer

    prepared.apply(disable_fake_quant)
    prepared.apply(disable_observer)
    with torch.no_grad():
        want = prepared(images)
        got = folded(images)
    return float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))


def distillation_loss(student: Tensor, teacher: Tensor, labels: Tensor | None, temperature: float, label_weight: float) -> Tensor:
    """T^2 KL(softmax(teacher/T) || softmax(student/T)), plus label_weight * cross-entropy when
    labels are given (classifier outputs; feature outputs use MSE in `train`)."""
    log_student = F.log_softmax(student / temperature, dim=-1)
    log_teacher = F.log_softmax(teacher / temperature, dim=-1)
    loss = F.kl_div(log_student, log_teacher, log_target=True, reduction="batchmean") * temperature**2
    if labels is not None:
        loss = loss + label_weight * F.cross_entropy(student, labels)
    return loss


def _lr_at(step: int, total: int, base: float) -> float:
    """Cosine decay from `base` to 0 over `total` steps, after a 5% linear warm-up."""
    warmup = max(1, total // 20)
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train(
    teacher: MambaVision,
    folder: ImageFolder,
    preprocessing: Preprocessing,
    config: QATConfig,
    progress: Progress | None = None,
    ranks: distributed.Ranks | None = None,
) -> QATResult:
    """Fine-tune a copy of `teacher` under the target's fake quantization; returns the tuned
    float model. With `ranks` (torch.distributed), each rank trains on its shard under DDP."""
    from torchao.quantization.pt2e import disable_observer

    config.check()
    ranks = ranks or distributed.Ranks()
    progress = progress if (progress is not None and ranks.main) else Progress(quiet=True)
    teacher = teacher.eval()
    channels = teacher.config["in_channels"]
    features = teacher.config.get("num_classes") is None
    if features and folder.labels is not None:
        raise BadInput("labels need a classifier head; this model outputs features (train without labels)")
    torch.manual_seed(config.seed)
    per_rank = len(shard(len(folder), 0, config.seed, ranks.rank, ranks.world))
    steps_per_epoch = sum(1 for start in range(0, per_rank, config.batch_size) if per_rank - start >= 2)
    if steps_per_epoch == 0:
        raise BadInput(f"{len(folder)} images over {ranks.world} process(es) leave no batch of 2 or more; add images")
    first, _ = next(batches(folder, preprocessing, 2, np.arange(min(2, len(folder))), channels))
    example = first if len(first) >= 2 else first.repeat(2, 1, 1, 1)
    with progress.stage(f"preparing for QAT ({config.target} recipe, prepare_qat_pt2e)"):
        prepared, report = prepare_qat(teacher, config.target, example, config.exclude)
    student = distributed.wrap(prepared, ranks)
    optimizer = torch.optim.AdamW([p for p in prepared.parameters() if p.requires_grad], lr=config.lr, weight_decay=config.weight_decay)
    total = steps_per_epoch * config.epochs
    freeze_at = int(round(config.freeze_observers * total))
    result = QATResult(teacher, steps=total, images_per_epoch=per_rank * ranks.world, quantized=report, world=ranks.world)
    start_time, step = time.perf_counter(), 0
    every = max(1, steps_per_epoch // 4)
    for epoch in range(config.epochs):
        indices = shard(len(folder), epoch, config.seed, ranks.rank, ranks.world)
        running, count, epoch_start = 0.0, 0, time.perf_counter()
        for images, labels in batches(folder, preprocessing, config.batch_size, indices, channels):
            if len(images) < 2:
                continue
            if step == freeze_at:
                prepared.apply(disable_observer)
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(step, total, config.lr)
            with torch.no_grad():
                target = teacher(images)
            output = student(images)
            loss = F.mse_loss(output, target) if features else distillation_loss(output, target, labels, config.temperature, config.label_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += float(loss.detach()) * len(images)
            count += len(images)
            step += 1
            if step % every == 0:
                mean_loss = distributed.mean(running / count, ranks)
                progress.note(f"epoch {epoch + 1}/{config.epochs} step {step}/{total} loss {mean_loss:.5f} ({time.perf_counter() - start_time:.0f} s)")
        epoch_loss = distributed.mean(running / max(count, 1), ranks)
        result.epochs.append({"epoch": epoch + 1, "loss": epoch_loss, "seconds": round(time.perf_counter() - epoch_start, 1)})
        progress.note(f"epoch {epoch + 1}/{config.epochs} done: mean loss {epoch_loss:.5f}")
    folded = fold_to_float(prepared, teacher)
    drift = check_folded(prepared, folded, example)
    if not drift < 1e-4:
        raise RuntimeError(f"the tuned weights do not reproduce the QAT graph (relative difference {drift:.2e}); report it with the toolchain versions")
    result.model = folded
    result.prepared = prepared
    result.ranks_agree = distributed.ranks_agree(folded, ranks)
    if not result.ranks_agree:
        raise Failed("the ranks ended with different weights; check that every rank runs the same command on the same data")
    result.seconds = time.perf_counter() - start_time
    return result
