"""The CNN's fused training path must compute exactly what the stock layers compute."""

import pytest
import torch
from torch.nn import functional as F

from mnist_core.fused import keep_mask, relu_maxpool_dropout_flatten, relu_maxpool_flatten
from mnist_core.models import build_model


def conv_like_output(seed: int = 0) -> torch.Tensor:
    """Random activations in channels-last memory, with the ties a blank background produces."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 10, 28, 28, generator=generator)
    x[:, :, :6, :6] = 0.3  # a flat positive patch: every pool window is a four-way tie
    x[:, :, 20:, 20:] = -0.3  # a flat negative patch: ReLU zeroes it
    x[:, :, 10, 10:12] = 2.0  # a tie between two neighbours in a row
    x[:, :, 12:14, 5] = 2.0  # and in a column
    return x.contiguous(memory_format=torch.channels_last).requires_grad_(True)


def stock(x: torch.Tensor) -> torch.Tensor:
    return torch.flatten(F.max_pool2d(torch.relu(x), kernel_size=2, stride=1), 1)


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_without_dropout_forward_and_gradient_equal_the_stock_layers(layout):
    x = conv_like_output().detach().contiguous(memory_format=layout).requires_grad_(True)
    fused, reference = relu_maxpool_dropout_flatten(x, 0.0), stock(x)
    assert fused.shape == (6, 7290)
    assert torch.equal(fused, reference)
    for seed in range(3):  # more than once: scratch memory is then reused, not fresh zeroed pages
        upstream = torch.randn(reference.shape, generator=torch.Generator().manual_seed(seed))
        (fused_grad,) = torch.autograd.grad(fused, x, upstream, retain_graph=True)
        (reference_grad,) = torch.autograd.grad(reference, x, upstream, retain_graph=True)
        # Ties go to the same neighbour as PyTorch's max-pool; only the order of sums may differ.
        torch.testing.assert_close(fused_grad, reference_grad, rtol=0, atol=1e-6)


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_the_inference_path_equals_the_stock_layers_exactly(layout):
    x = conv_like_output().detach().contiguous(memory_format=layout)
    with torch.inference_mode():
        assert torch.equal(relu_maxpool_flatten(x), stock(x))


def test_dropout_drops_a_fraction_p_and_scales_the_rest():
    x = conv_like_output()
    torch.manual_seed(0)
    fused = relu_maxpool_dropout_flatten(x, 0.2)
    reference = stock(x)
    positive = reference > 0
    kept = fused[positive] != 0
    assert abs(kept.float().mean().item() - 0.8) < 0.01
    torch.testing.assert_close(fused[positive][kept], reference[positive][kept] / 0.8)
    assert torch.all(fused[~positive] == 0)

    # The gradient is the stock layers' gradient through the same mask.
    mask = (fused != 0).float() / 0.8
    upstream = torch.randn(reference.shape, generator=torch.Generator().manual_seed(2))
    (fused_grad,) = torch.autograd.grad(fused, x, upstream)
    (reference_grad,) = torch.autograd.grad(reference * mask, x, upstream)
    torch.testing.assert_close(fused_grad, reference_grad, rtol=0, atol=1e-6)


def test_the_same_seed_draws_the_same_dropout():
    x = conv_like_output()
    torch.manual_seed(3)
    first = relu_maxpool_dropout_flatten(x, 0.2)
    torch.manual_seed(3)
    assert torch.equal(first, relu_maxpool_dropout_flatten(x, 0.2))


def test_keep_mask_is_floats_at_the_rounded_rate():
    torch.manual_seed(0)
    mask = keep_mask((100, 1000), 0.2)
    assert mask.dtype == torch.float32 and set(mask.unique().tolist()) == {0.0, 1.0}
    assert abs(mask.mean().item() - 0.8) < 0.005


def test_bad_probability_is_refused():
    with pytest.raises(ValueError, match="dropout probability"):
        relu_maxpool_dropout_flatten(conv_like_output(), 1.0)


def test_the_cnn_gives_the_same_answers_through_the_fused_paths_and_the_stock_layers():
    torch.manual_seed(0)
    model = build_model("cnn").to(memory_format=torch.channels_last)
    stock = build_model("cnn", fused_cpu_training=False).to(memory_format=torch.channels_last)
    stock.load_state_dict(model.state_dict())
    x = torch.randn(4, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    model.dropout.p = stock.dropout.p = 0.0  # so that both paths are deterministic
    fused = model(x)
    torch.testing.assert_close(fused, stock(x))
    model.eval()
    stock.eval()
    torch.testing.assert_close(fused, model(x))
    assert torch.equal(model(x), stock(x))  # evaluation: the same values exactly


def test_gradient_passes_gradcheck_on_any_shape():
    """Numerical differentiation agrees, in double precision and on a non-square map."""
    x = torch.randn(2, 3, 6, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert torch.autograd.gradcheck(lambda t: relu_maxpool_dropout_flatten(t, 0.0), (x.requires_grad_(True),))
