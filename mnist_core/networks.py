"""The built-in MNIST classifiers as PyTorch modules.

The layers are fixed (the README's model table: users compare *these* architectures); every
model takes a normalised ``(B, 1, 28, 28)`` batch and returns ``(B, 10)`` logits, and names the
values its output layer reads ``hidden_features`` (what the nearest-training-images view
compares). Their names, colours, recipes and descriptions live in :mod:`mnist_core.models`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fused import relu_maxpool_dropout_flatten, relu_maxpool_flatten


class MLP(nn.Module):
    """784 → 784 → 10 with one ReLU: the tutorial's multilayer perceptron."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(28 * 28, 28 * 28)
        self.output = nn.Linear(28 * 28, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden_features(x))

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's values ``(B, 784)``: what the output layer reads."""
        return torch.relu(self.hidden(self.flatten(x)))


class SimpleCNN(nn.Module):
    """One 5x5 convolution, a stride-1 max-pool and two linear layers."""

    def __init__(self, fused_cpu_training: bool = True) -> None:
        """``fused_cpu_training``: train on the CPU through :mod:`mnist_core.fused` (same results,
        faster); False runs the stock layers throughout, as the tutorials did."""
        super().__init__()
        self.conv = nn.Conv2d(1, 10, kernel_size=5, stride=1, padding=2)
        # Stride 1 (not 2) is the tutorial's choice: 28x28 → 27x27, hence 10*27*27 = 7290 features.
        self.pool = nn.MaxPool2d(kernel_size=2, stride=1)
        self.dropout = nn.Dropout(0.2)
        self.hidden = nn.Linear(10 * 27 * 27, 128)
        self.output = nn.Linear(128, 10)
        self.fused_cpu_training = fused_cpu_training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden_features(x))

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's values ``(B, 128)``: what the output layer reads."""
        x = self.conv(x)
        if self.fused_cpu_training and x.device.type == "cpu":
            if self.training:
                x = relu_maxpool_dropout_flatten(x, self.dropout.p)  # (B, 7290)
            else:
                x = relu_maxpool_flatten(x)  # dropout is the identity in eval mode
        else:
            x = torch.flatten(self.dropout(self.pool(torch.relu(x))), 1)  # (B, 10, 27, 27) → (B, 7290)
        return torch.relu(self.hidden(x))


class LeNet5(nn.Module):
    """LeCun et al. (1998): tanh activations and average pooling.

    The layers of both LeNet-5s; :class:`LeNet5ReLU` changes only the class attributes below."""

    activation = staticmethod(torch.tanh)  # after each layer but the output
    pooling = nn.AvgPool2d  # after conv1 and conv2, 2x2 with stride 2
    resize_to: int | None = None  # resize the digit to this side first (None: conv1 pads the 28x28 digit by 2)

    def __init__(self, conv3_as_linear: bool = True) -> None:
        """``conv3_as_linear``: compute conv3 as the linear layer it is (same weights, same results
        up to rounding, faster); False runs the stock convolution, as the tutorials did."""
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=0 if self.resize_to else 2)
        self.pool1 = self.pooling(kernel_size=2, stride=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool2 = self.pooling(kernel_size=2, stride=2)
        self.conv3 = nn.Conv2d(16, 120, kernel_size=5)
        self.fc = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)
        self.conv3_as_linear = conv3_as_linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden_features(x))

    def hidden_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's values ``(B, 84)``: what the output layer reads."""
        if self.resize_to:
            side = (self.resize_to, self.resize_to)
            x = F.interpolate(x, size=side, mode="bilinear", align_corners=False)  # (B, 1, 32, 32)
        x = self.pool1(self.activation(self.conv1(x)))  # (B, 6, 14, 14)
        x = self.pool2(self.activation(self.conv2(x)))  # (B, 16, 5, 5)
        if self.conv3_as_linear:
            # conv3's 5x5 kernels cover its whole 5x5 input: one output pixel, a 400 → 120 linear
            # layer. As a matrix product, a LeNet-5 training epoch is 5 % faster than through
            # oneDNN's convolution (docs/PERFORMANCE.md).
            x = F.linear(x.flatten(1), self.conv3.weight.flatten(1), self.conv3.bias)  # (B, 120)
        else:
            x = self.conv3(x).flatten(1)
        return self.activation(self.fc(self.activation(x)))


class LeNet5ReLU(LeNet5):
    """The tutorials' modified LeNet-5: ReLU and max-pooling, the digit resized to 32x32 (so the
    first convolution needs no padding); 61,706 parameters."""

    activation = staticmethod(torch.relu)
    pooling = nn.MaxPool2d
    # The tutorial resized the 28x28 image to 32x32 (bilinear) before normalising it; bilinear
    # resizing is linear, so resizing the normalised digit in the network gives the same input.
    resize_to = 32


def preferred_memory_format(model: nn.Module, device: torch.device | str = "cpu") -> torch.memory_format:
    """Channels-last for the convolutional models of this module on the CPU, the default elsewhere.

    Channels-last is oneDNN's preferred layout: training and evaluation are clearly faster in
    it on the CPU (docs/PERFORMANCE.md). A network of the user's own keeps the default layout:
    common code such as ``x.view(len(x), -1)`` fails on channels-last tensors."""
    ours = type(model).__module__ == __name__
    has_conv = any(isinstance(module, nn.Conv2d) for module in model.modules())
    return torch.channels_last if ours and has_conv and torch.device(device).type == "cpu" else torch.contiguous_format
