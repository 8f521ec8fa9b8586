"""MambaVision (NVlabs) in plain PyTorch: checkpoint-exact, export-friendly, quantization-aware.

Module names and parameter shapes match the official `mamba_vision.py`, so official state dicts
load key for key. The function is the official one, quirks included: dt bias applied
twice, concat instead of a gate, non-causal depthwise conv1d, unmasked window padding, tanh GELU
in conv blocks and erf GELU in MLPs, BN eps 1e-4 in the stem. What differs is only *how* it is
computed: the chunked scan instead of the CUDA kernel, explicit attention instead of SDPA, and
window partitioning with rank <= 4 tensors.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mvedge.errors import BadInput
from mvedge.model.configs import config, dt_rank, resolve_config
from mvedge.model.scan import DEFAULT_CHUNK_SIZE, SelectiveScan, is_eager


class DropPath(nn.Module):
    """Stochastic depth per sample (training only; identity in eval)."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class PatchEmbed(nn.Module):
    """Stem: two 3x3 stride-2 convs (no bias), each with BN (eps 1e-4) and ReLU; /4 resolution."""

    def __init__(self, in_channels: int, in_dim: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Identity()
        self.conv_down = nn.Sequential(
            nn.Conv2d(in_channels, in_dim, 3, 2, 1, bias=False),
            nn.BatchNorm2d(in_dim, eps=1e-4),
            nn.ReLU(),
            nn.Conv2d(in_dim, dim, 3, 2, 1, bias=False),
            nn.BatchNorm2d(dim, eps=1e-4),
            nn.ReLU(),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_down(self.proj(x))


class ConvBlock(nn.Module):
    """Residual conv block of levels 0/1: x + BN(conv(GELU_tanh(BN(conv(x))))) (optional layer scale)."""

    def __init__(self, dim: int, drop_path: float = 0.0, layer_scale: float | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(dim, dim, 3, 1, 1)
        self.norm1 = nn.BatchNorm2d(dim, eps=1e-5)
        self.act1 = nn.GELU(approximate="tanh")
        self.conv2 = nn.Conv2d(dim, dim, 3, 1, 1)
        self.norm2 = nn.BatchNorm2d(dim, eps=1e-5)
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.gamma = nn.Parameter(layer_scale * torch.ones(dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor) -> Tensor:
        y = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        if self.layer_scale:
            y = y * self.gamma.reshape(1, -1, 1, 1)
        return x + self.drop_path(y)


class Downsample(nn.Module):
    """3x3 stride-2 conv doubling the channels; no bias, no norm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Sequential(nn.Conv2d(dim, 2 * dim, 3, 2, 1, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.reduction(x)


class MambaVisionMixer(nn.Module):
    """Mamba mixer of MambaVision: in_proj, non-causal depthwise conv + SiLU on both halves, selective
    scan on the first half, concat with the second (no gate), out_proj. Token-major throughout."""

    def __init__(self, dim: int, d_state: int = 8, d_conv: int = 3, scan_chunk_size: int | None = DEFAULT_CHUNK_SIZE) -> None:
        super().__init__()
        self.d_model = dim
        self.d_inner = dim // 2
        self.d_state = d_state
        self.d_conv = d_conv
        self.dt_rank = dt_rank(dim)
        h = self.d_inner
        self.in_proj = nn.Linear(dim, dim, bias=False)
        self.x_proj = nn.Linear(h, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, h, bias=True)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(h, 1))
        self.D = nn.Parameter(torch.ones(h))
        self.conv1d_x = nn.Conv1d(h, h, d_conv, groups=h, bias=False)
        self.conv1d_z = nn.Conv1d(h, h, d_conv, groups=h, bias=False)
        self.scan = SelectiveScan(scan_chunk_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """hidden: (B', L, C) -> (B', L, C)."""
        h = self.d_inner
        xz = self.in_proj(hidden).transpose(1, 2)  # (B', C, L)
        # both depthwise convs as one grouped conv over C channels, centred ('same') zero padding
        weight = torch.cat([self.conv1d_x.weight, self.conv1d_z.weight], dim=0)
        xz = F.silu(F.conv1d(xz, weight, padding=self.d_conv // 2, groups=2 * h))
        xz = xz.transpose(1, 2)  # (B', L, C)
        x, z = xz[..., :h], xz[..., h:]
        params = self.x_proj(x)
        r, n = self.dt_rank, self.d_state
        dt, B, C = params[..., :r], params[..., r : r + n], params[..., r + n :]
        delta = self.dt_proj(dt)  # includes the dt bias once; the scan adds it again (official quirk)
        A = -torch.exp(self.A_log)
        y = self.scan(x, delta, A, B, C, self.D, self.dt_proj.bias)
        return self.out_proj(torch.cat([y, z], dim=-1))


class Attention(nn.Module):
    """Multi-head self-attention over window tokens, written as explicit matmul + softmax."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        heads, hd = self.num_heads, self.head_dim
        qkv = self.qkv(x)
        q = qkv[..., :c].reshape(b, n, heads, hd).permute(0, 2, 1, 3)
        k = qkv[..., c : 2 * c].reshape(b, n, heads, hd).permute(0, 2, 3, 1)
        v = qkv[..., 2 * c :].reshape(b, n, heads, hd).permute(0, 2, 1, 3)
        attn = torch.softmax(torch.matmul(q * self.scale, k), dim=-1)
        out = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(b, n, c)
        return self.proj(out)


class Mlp(nn.Module):
    """timm-style MLP: fc1, exact (erf) GELU, fc2."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Hybrid block of levels 2/3: x + g1*mixer(LN(x)); x + g2*mlp(LN(x)). Mixer is Mamba or attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        attention: bool,
        drop_path: float,
        layer_scale: float | None,
        d_state: int,
        d_conv: int,
        scan_chunk_size: int | None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        if attention:
            self.mixer: nn.Module = Attention(dim, num_heads)
        else:
            self.mixer = MambaVisionMixer(dim, d_state, d_conv, scan_chunk_size)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        self.layer_scale = layer_scale is not None
        if self.layer_scale:
            self.gamma_1 = nn.Parameter(layer_scale * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale * torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = self.mixer(self.norm1(x))
        if self.layer_scale:
            y = y * self.gamma_1.reshape(1, 1, -1)
        x = x + self.drop_path(y)
        y = self.mlp(self.norm2(x))
        if self.layer_scale:
            y = y * self.gamma_2.reshape(1, 1, -1)
        return x + self.drop_path(y)


def window_partition(x: Tensor, window: int) -> Tensor:
    """(B, C, Hp, Wp) -> (B*nH*nW, window*window, C): row-major tokens, windows image-major then
    row then column (official order), using only rank <= 4 views and permutes."""
    b, c, hp, wp = x.shape
    nh, nw = hp // window, wp // window
    x = x.reshape(b * c * nh, window, nw, window).permute(0, 2, 1, 3)  # (B*C*nH, nW, w, w)
    x = x.reshape(b, c, nh * nw, window * window).permute(0, 2, 3, 1)  # (B, nH*nW, w*w, C)
    return x.reshape(b * nh * nw, window * window, c)


def window_reverse(windows: Tensor, window: int, hp: int, wp: int) -> Tensor:
    """Inverse of window_partition: (B*nH*nW, window*window, C) -> (B, C, Hp, Wp)."""
    nh, nw = hp // window, wp // window
    c = windows.shape[-1]
    x = windows.reshape(-1, nh * nw, window * window, c).permute(0, 3, 1, 2)  # (B, C, nH*nW, w*w)
    x = x.reshape(-1, nw, window, window).permute(0, 2, 1, 3)  # (B*C*nH, w, nW, w)
    return x.reshape(-1, c, hp, wp)


def _is_symbolic(*sizes: int) -> bool:
    """Whether a size is a torch.export symbol (an export taking several input sizes)."""
    return any(isinstance(s, torch.SymInt) for s in sizes)


def _symbolic_pad_partition(x: Tensor, window: int, hp: int, wp: int) -> Tensor:
    """Zero-pad (B, C, H, W) to (Hp, Wp) and partition it like window_partition, for a symbolic H
    and W (an export taking several sizes), free of shape guards: window counts are split off with
    unflatten and each permuted tensor is reshaped once. A batch of 1 (Core ML) stays within rank
    5, Core ML's limit, and pads only rank-1 tensors, the one dynamic padding Core ML runs: the map
    is laid out row-major (H, W, C) to append bottom rows, then column-major to append right ones."""
    b, c, height, width = x.shape
    nh, nw = hp // window, wp // window
    if isinstance(b, int) and b == 1:
        x = _flat(x.reshape(c, height, width).permute(1, 2, 0))  # (H*W*C): rows are contiguous
        x = _flat(F.pad(x, (0, (hp - height) * width * c)).reshape(hp, width, c).permute(1, 0, 2))
        x = F.pad(x, (0, (wp - width) * hp * c)).reshape(wp, hp, c)  # (Wp, Hp, C)
        x = x.unflatten(1, (nh, window)).unflatten(0, (nw, window))  # (nW, w, nH, w, C)
        return x.permute(2, 0, 3, 1, 4).reshape(nh * nw, window * window, c)
    x = F.pad(x, (0, wp - width, 0, hp - height))
    x = x.unflatten(3, (nw, window)).unflatten(2, (nh, window))  # (B, C, nH, w, nW, w)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b * nh * nw, window * window, c)


def _flat(x: Tensor) -> Tensor:
    """A permuted tensor copied into its own order, flattened: no size-1 question asked of it."""
    return x.clone(memory_format=torch.contiguous_format).view(-1)


def _symbolic_reverse(windows: Tensor, window: int, hp: int, wp: int, batch: int) -> Tensor:
    """window_reverse for a symbolic Hp, Wp (see `_symbolic_pad_partition`)."""
    nh, nw = hp // window, wp // window
    c = windows.shape[-1]
    if isinstance(batch, int) and batch == 1:
        x = windows.unflatten(1, (window, window)).unflatten(0, (nh, nw))  # (nH, nW, w, w, C)
        return x.permute(4, 0, 2, 1, 3).reshape(1, c, hp, wp)
    x = windows.unflatten(1, (window, window)).unflatten(0, (-1, nh, nw))  # (B, nH, nW, w, w, C)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(-1, c, hp, wp)


class MambaVisionLayer(nn.Module):
    """One level: conv blocks (levels 0/1) or windowed hybrid blocks (levels 2/3), then downsample."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        conv: bool,
        downsample: bool,
        mlp_ratio: float,
        drop_path: list[float],
        layer_scale: float | None,
        layer_scale_conv: float | None,
        d_state: int,
        d_conv: int,
        scan_chunk_size: int | None,
    ) -> None:
        super().__init__()
        self.conv = conv
        self.window_size = window_size
        if conv:
            blocks = [ConvBlock(dim, drop_path[j], layer_scale_conv) for j in range(depth)]
        else:
            first_attention = math.ceil(depth / 2)  # Mamba for j < ceil(d/2), attention after
            blocks = [
                Block(
                    dim,
                    num_heads,
                    mlp_ratio,
                    j >= first_attention,
                    drop_path[j],
                    layer_scale,
                    d_state,
                    d_conv,
                    scan_chunk_size,
                )
                for j in range(depth)
            ]
        self.blocks = nn.ModuleList(blocks)
        self.downsample = Downsample(dim) if downsample else None

    def forward(self, x: Tensor, stage: bool = False, downsample: bool = True) -> Tensor | tuple[Tensor, Tensor]:
        """The level's blocks, then its downsample unless told not to; with `stage`, (stage map,
        downsampled map). Stage maps are taken through this call, not `forward_blocks`, so every
        submodule runs inside it: export tools name ops after the call stack, and --exclude finds
        blocks by those names."""
        x = self.forward_blocks(x)
        stage_map = x
        if downsample and self.downsample is not None:
            x = self.downsample(x)
        return (stage_map, x) if stage else x

    def forward_blocks(self, x: Tensor) -> Tensor:
        """The level's blocks without its downsample: the stage map (B, C, H, W) a backbone outputs."""
        if self.conv:
            for block in self.blocks:
                x = block(x)
        else:
            _, _, height, width = x.shape
            w = self.window_size
            hp, wp = (height + w - 1) // w * w, (width + w - 1) // w * w  # up to whole windows (no negative floor division: ONNX truncates)
            symbolic = _is_symbolic(height, width)
            padded = symbolic or hp != height or wp != width  # a symbolic size pads always: no guard on it
            if symbolic:
                tokens = _symbolic_pad_partition(x, w, hp, wp)
            else:
                if padded:  # right/bottom zero padding, not masked (official behaviour)
                    x = F.pad(x, (0, wp - width, 0, hp - height))
                tokens = window_partition(x, w)
            if is_eager():  # eager: one copy into token-major memory, instead of one per block op that needs it
                tokens = tokens.contiguous()
            for block in self.blocks:
                tokens = block(tokens)
            x = _symbolic_reverse(tokens, w, hp, wp, x.shape[0]) if symbolic else window_reverse(tokens, w, hp, wp)
            if padded:
                x = x[:, :, :height, :width]
                if not symbolic:  # (a symbolic crop's contiguity would be a guard on the padding)
                    x = x.contiguous()
        return x


class MambaVision(nn.Module):
    """MambaVision backbone and classifier. `forward_features` gives the pooled (B, 8*dim) vector
    after the final BatchNorm; `forward_head` applies the linear head (identity without classes)."""

    def __init__(self, **options: Any) -> None:
        super().__init__()
        cfg = resolve_config(**options)
        if cfg.get("out_indices") and not isinstance(self, MambaVisionBackbone):
            raise BadInput("out_indices makes a backbone: build it with mvedge.build(..., out_indices=...) or MambaVisionBackbone")
        self.config = cfg
        dim = cfg["dim"]
        depths = cfg["depths"]
        self.num_features = 8 * dim
        self.num_classes = cfg["num_classes"]
        self.patch_embed = PatchEmbed(cfg["in_channels"], cfg["in_dim"], dim)
        total = sum(depths)  # linspace(0, rate, total) in Python: works on the meta device too
        rates = [cfg["dropout"] * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        levels = []
        for i in range(4):
            start = sum(depths[:i])
            levels.append(
                MambaVisionLayer(
                    dim * 2**i,
                    depths[i],
                    cfg["num_heads"][i],
                    cfg["window_size"][i],
                    conv=i < 2,
                    downsample=i < 3,
                    mlp_ratio=cfg["mlp_ratio"],
                    drop_path=rates[start : start + depths[i]],
                    layer_scale=cfg["layer_scale"],
                    layer_scale_conv=cfg["layer_scale_conv"],
                    d_state=cfg["d_state"],
                    d_conv=cfg["d_conv"],
                    scan_chunk_size=cfg["scan_chunk_size"],
                )
            )
        self.levels = nn.ModuleList(levels)
        self.norm = nn.BatchNorm2d(self.num_features, eps=1e-5)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.head: nn.Module = nn.Linear(self.num_features, self.num_classes) if self.num_classes else nn.Identity()
        self.apply(_init_weights)

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, in_channels, H, W) -> pooled features (B, 8*dim)."""
        x = self.patch_embed(x)
        for level in self.levels:
            x = level(x)
        x = self.norm(x)
        return torch.flatten(self.avgpool(x), 1)

    def forward_intermediates(self, x: Tensor, indices: list[int] | tuple[int, ...] | None = None) -> list[Tensor]:
        """(B, in_channels, H, W) -> the stage maps of the levels in `indices` (default: all four), in
        level order: level i gives (B, dim*2**i, ceil(H/2**(i+2)), ceil(W/2**(i+2))), its blocks'
        output before the downsample, passed through `stage_norm(i)`. Levels past the last asked
        for are not run."""
        wanted = sorted(set(range(4) if indices is None else (int(i) for i in indices)))
        if not wanted or wanted[0] < 0 or wanted[-1] > 3:
            raise ValueError(f"stage indices must be a non-empty subset of 0..3, got {indices!r}")
        x = self.patch_embed(x)
        outs = []
        for i, level in enumerate(self.levels[: wanted[-1] + 1]):
            stage_map, x = level(x, stage=True, downsample=i < wanted[-1])
            if i in wanted:
                outs.append(self.stage_norm(i)(stage_map))
        return outs

    def stage_norm(self, index: int) -> nn.Module:
        """The norm applied to stage `index`'s map by `forward_intermediates`: none for a classifier
        (its maps are the raw level outputs; its final BatchNorm belongs to the pooled features)."""
        return nn.Identity()

    def forward_head(self, features: Tensor) -> Tensor:
        """Pooled features -> logits (or the features themselves when the model has no classes)."""
        return self.head(features)

    def forward(self, x: Tensor) -> Tensor:
        """x: (batch, in_channels, H, W) float, normalised as `mvedge.preprocessing(name)` says (any H,
        W; windows are zero-padded). Returns logits (batch, num_classes), or the pooled
        (batch, 8*dim) features when the model has no head. The build options (see `build`) are in
        `self.config`; this call takes no options."""
        return self.forward_head(self.forward_features(x))


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of each pixel of a (B, C, H, W) map (eps 1e-5)."""

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class MambaVisionBackbone(MambaVision):
    """The detection/segmentation form of MambaVision (NVlabs' mmdet/mmseg backbone): no final norm,
    no pooling, no head; a norm `outnorm<i>` (LayerNorm2d or BatchNorm2d, the `out_norm` option)
    on the stage map of each level in `out_indices`. Its state-dict keys are the official ones."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.config.get("out_indices"):
            raise BadInput("a backbone needs out_indices (the levels whose stage maps it outputs, e.g. (0, 1, 2, 3))")
        del self.norm, self.avgpool, self.head
        self.out_indices = tuple(self.config["out_indices"])
        norm = LayerNorm2d if self.config["out_norm"] == "ln2d" else nn.BatchNorm2d
        for i in self.out_indices:
            self.add_module(f"outnorm{i}", norm(self.config["dim"] * 2**i))

    def stage_norm(self, index: int) -> nn.Module:
        """The official `outnorm<index>` (only levels in `out_indices` have one)."""
        if index not in self.out_indices:
            raise ValueError(f"the backbone outputs levels {list(self.out_indices)}, not {index}; build it with that level in out_indices")
        return getattr(self, f"outnorm{index}")

    def forward_intermediates(self, x: Tensor, indices: list[int] | tuple[int, ...] | None = None) -> list[Tensor]:
        """The normalised stage maps of `indices` (default: `out_indices`), in level order."""
        return super().forward_intermediates(x, self.out_indices if indices is None else indices)

    def forward_features(self, x: Tensor) -> Tensor:
        raise TypeError("a backbone has no pooled features; use forward_intermediates(x) for its stage maps")

    def forward_head(self, features: Tensor) -> Tensor:
        raise TypeError("a backbone has no classifier head; use forward_intermediates(x) for its stage maps")

    def forward(self, x: Tensor) -> list[Tensor]:  # type: ignore[override]
        """x: (batch, in_channels, H, W) -> the stage maps of `out_indices` (`forward_intermediates`)."""
        return self.forward_intermediates(x)


def _init_weights(module: nn.Module) -> None:
    """Official training init: trunc-normal(0.02) linears with zero bias, unit norms."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def build(variant_or_config: str | dict[str, Any] | None = None, /, **options: Any) -> MambaVision:
    """Build a MambaVision from build options; each has a default (MambaVision-T's architecture,
    `mvedge.model.configs.DEFAULTS`). `variant_or_config`: an official variant's name ("T", its
    options from `mvedge.config(name)`) or a dict of options; keyword options override it.
    With `out_indices` the result is the detection/segmentation backbone (MambaVisionBackbone).

    Options:
        image_size (224): the side the model is meant for (any H, W runs; recorded for converters).
        in_channels (3): input channels.
        dim (80): channels after the stem; level i has dim * 2**i, the features 8 * dim.
        in_dim (32): channels inside the stem.
        depths ([1, 3, 8, 4]): blocks per level (levels 0/1 conv, 2/3 Mamba + attention).
        num_heads ([2, 4, 8, 16]): attention heads per level.
        window_size ([8, 8, 14, 7]): window side per level (levels 2/3 attend within windows).
        mlp_ratio (4.0): MLP hidden width / block width.
        dropout (0.0): stochastic-depth (drop-path) rate of the last block, linear from 0.
        d_state (8): state size of the selective scan.
        d_conv (3): kernel of the mixer's depthwise conv.
        num_classes (None): logits of the linear head; None (or absent) returns the pooled
            (batch, 8*dim) features. Official variants' configs carry 1000.
        layer_scale (None): layer-scale init of the hybrid blocks (None: off).
        layer_scale_conv (None): layer-scale init of the conv blocks (None: off).
        scan_chunk_size (None): tokens per chunk of the chunked selective scan, at most 16; None picks
            them by sequence length (14 for 14x14 windows, 7 for 7x7: measured fastest).
        out_indices (None): levels (0..3) whose stage maps a backbone outputs; the head is dropped.
        out_norm ("ln2d"): a backbone's norm per stage map, "ln2d" (LayerNorm2d) or "bn" (BatchNorm2d).

    Invalid options raise mvedge.errors.BadInput (a ValueError) naming the option."""
    if isinstance(variant_or_config, str):
        options = {**config(variant_or_config), **options}
    elif variant_or_config is not None:
        options = {**variant_or_config, **options}
    if options.get("out_indices") is not None:
        return MambaVisionBackbone(**options)
    return MambaVision(**options)
