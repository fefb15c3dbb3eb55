"""A hand-fused training path for the CNN's ReLU → max-pool 2x2 stride 1 → dropout → flatten.

Why: on a 2-core CPU these four stock layers took more than half of the CNN's training step.
The channels-last convolution output had to be copied to the flatten's channel-first order
and back (four 3 MB transposing copies a step), the stride-1 max-pool kernels are slow in
that layout, and anything that mixes a boolean mask with floats makes PyTorch copy the mask
first. Here the same computation is written with a handful of fast elementwise operations:

- the pool is a maximum of shifted views (columns, then rows), and two 0/1 float masks
  remember which neighbour won, so the backward routes each gradient exactly where PyTorch's
  max-pool does (the first maximum in row-major order wins a tie);
- ReLU is applied after the pool (``max(relu(x)) == relu(max(x))``), on 7 % fewer values;
- dropout draws four 16-bit numbers from each 64-bit random word, and a value is dropped
  when its draw is below ``p * 2**16`` (``p`` rounds to a multiple of 2**-16: 0.2 becomes
  0.199997); the mask is made as floats directly;
- the one layout change (channels-last → the flatten's channel-first order) is a single copy.

docs/PERFORMANCE.md has the measurements. The results equal the stock layers'
(forward exactly, gradients to float rounding; ``tests/test_fused.py``).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def relu_maxpool_dropout_flatten(conv_output: torch.Tensor, p: float) -> torch.Tensor:
    """``flatten(dropout(max_pool2d(relu(x), 2, stride=1), p), 1)`` for a training batch on the CPU.

    ``conv_output`` is ``(B, C, H, W)``, best in channels-last memory (any layout works);
    returns ``(B, C * (H-1) * (W-1))`` in the usual channel-first flatten order.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    return _ReluMaxPoolDropoutFlatten.apply(conv_output, p)


def keep_mask(shape: tuple[int, ...], p: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A float tensor of 1.0 (kept, probability ``1 - p``) and 0.0 (dropped), seeded from torch's RNG."""
    count = math.prod(shape)
    # numpy's SFC64 makes random words about twice as fast as torch's Mersenne twister;
    # seeding it from torch's generator keeps torch.manual_seed reproducible.
    seed = int(torch.randint(0, 2**63 - 1, (), dtype=torch.int64))
    words = torch.from_numpy(np.random.SFC64(seed).random_raw((count + 3) // 4).view(np.int64))
    draws = words.view(torch.int16)[:count].view(shape)  # uniform over -32768 .. 32767
    # Comparing into a float output: a boolean mask would be copied to floats by every later use.
    return torch.ge(draws, round(p * 2**16) - 2**15, out=torch.empty(shape, dtype=dtype))


def relu_maxpool_flatten(conv_output: torch.Tensor) -> torch.Tensor:
    """``flatten(max_pool2d(relu(x), 2, stride=1), 1)`` for inference on the CPU: the forward
    above without dropout and without remembering the winners (equal to the stock layers, exactly).

    Evaluation and robustness sweeps spend most of the CNN's time in the stock stride-1
    max-pool; this takes a fifth of it.
    """
    pixels = conv_output.permute(0, 2, 3, 1)  # (B, H, W, C): a plain view of channels-last memory
    rows = torch.maximum(pixels[:, :, :-1], pixels[:, :, 1:])
    pooled = torch.maximum(rows[:, :-1], rows[:, 1:]).clamp_min_(0.0)
    return pooled.permute(0, 3, 1, 2).flatten(1)


class _ReluMaxPoolDropoutFlatten(torch.autograd.Function):
    @staticmethod
    def forward(ctx, conv_output: torch.Tensor, p: float) -> torch.Tensor:
        batch, channels, height, width = conv_output.shape
        pixels = conv_output.permute(0, 2, 3, 1)  # (B, H, W, C): a plain view of channels-last memory
        left, right = pixels[:, :, :-1], pixels[:, :, 1:]
        took_right = torch.gt(right, left, out=left.new_empty(left.shape))  # a tie goes left, as in PyTorch
        rows = torch.maximum(left, right)  # (B, H, W-1, C)
        top, bottom = rows[:, :-1], rows[:, 1:]
        took_bottom = torch.gt(bottom, top, out=top.new_empty(top.shape))
        pooled = torch.maximum(top, bottom).clamp_min_(0.0)  # (B, H-1, W-1, C), after ReLU
        scale = 1.0 / (1.0 - p)
        if p > 0:
            pooled.mul_(keep_mask(pooled.shape, p, pooled.dtype)).mul_(scale)
        output = pooled.permute(0, 3, 1, 2).contiguous()  # the flatten's channel-first order
        ctx.save_for_backward(took_right, took_bottom, output)
        ctx.scale = scale
        return output.view(batch, -1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        took_right, took_bottom, output = ctx.saved_tensors
        batch, channels, pooled_height, pooled_width = output.shape
        # Through dropout and ReLU: the gradient passes where the output is positive (sign: 0/1
        # floats). Written straight into (B, H-1, W-1, C) order: the layout copy comes free.
        channels_last = grad.new_empty((batch, pooled_height, pooled_width, channels))
        torch.mul(grad.reshape(output.shape), output.sign(), out=channels_last.permute(0, 3, 1, 2))
        grad = channels_last
        if ctx.scale != 1.0:
            grad.mul_(ctx.scale)
        # Undo the row maximum: each pooled gradient goes to the top or the bottom row.
        rows = grad.new_empty((batch, pooled_height + 1, pooled_width, channels))
        torch.addcmul(grad, grad, took_bottom, value=-1.0, out=rows[:, :-1])  # grad * (1 - took_bottom)
        rows[:, -1].zero_()
        rows[:, 1:].addcmul_(grad, took_bottom)
        # Undo the column maximum the same way.
        pixels = grad.new_empty((batch, pooled_height + 1, pooled_width + 1, channels))
        torch.addcmul(rows, rows, took_right, value=-1.0, out=pixels[:, :, :-1])
        pixels[:, :, -1].zero_()
        pixels[:, :, 1:].addcmul_(rows, took_right)
        return pixels.permute(0, 3, 1, 2), None  # channels-last, like the convolution's output
