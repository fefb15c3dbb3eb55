import pytest
import torch

from mnist_core.models import (
    MODEL_KEYS,
    MODELS,
    build_model,
    count_parameters,
    default_model_keys,
    get_spec,
    recipe_config,
)

EXPECTED_PARAMETERS = {"mlp": 623_290, "cnn": 934_798, "lenet5": 61_706, "lenet5_relu": 61_706}


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_parameter_counts_match_models_md(key):
    assert count_parameters(build_model(key)) == EXPECTED_PARAMETERS[key]


@pytest.mark.parametrize("key", MODEL_KEYS)
def test_output_is_ten_logits_per_image(key):
    model = build_model(key).eval()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_lenet5_shapes_follow_the_paper():
    model = build_model("lenet5")
    x = torch.zeros(1, 1, 28, 28)
    x = model.pool1(torch.tanh(model.conv1(x)))
    assert x.shape == (1, 6, 14, 14)
    x = model.pool2(torch.tanh(model.conv2(x)))
    assert x.shape == (1, 16, 5, 5)
    assert model.conv3(x).shape == (1, 120, 1, 1)


def test_cnn_pools_with_stride_one():
    model = build_model("cnn")
    assert model.pool(model.conv(torch.zeros(1, 1, 28, 28))).shape == (1, 10, 27, 27)
    assert model.dropout.p == 0.2


def test_registry_names_colours_and_descriptions():
    assert [MODELS[k].name for k in MODEL_KEYS] == ["MLP", "CNN", "LeNet-5", "LeNet-5 (ReLU)"]
    assert default_model_keys() == ["mlp", "cnn", "lenet5"]  # the fourth shows once a person chooses it
    colours = [spec.color for spec in MODELS.values()]
    assert len(set(colours)) == 4 and all(c.startswith("#") and len(c) == 7 for c in colours)
    assert all(spec.description for spec in MODELS.values())


def test_lenet5_relu_follows_the_tutorial():
    """Resized to 32x32, no padding, ReLU and max-pooling: 32 → 28 → 14 → 10 → 5 → 1."""
    model = build_model("lenet5_relu")
    x = torch.nn.functional.interpolate(torch.zeros(1, 1, 28, 28), size=(32, 32), mode="bilinear")
    x = model.pool1(torch.relu(model.conv1(x)))
    assert x.shape == (1, 6, 14, 14) and isinstance(model.pool1, torch.nn.MaxPool2d)
    x = model.pool2(torch.relu(model.conv2(x)))
    assert x.shape == (1, 16, 5, 5) and model.conv3(x).shape == (1, 120, 1, 1)
    stock = build_model("lenet5_relu", conv3_as_linear=False)
    stock.load_state_dict(model.state_dict())
    digits = torch.randn(4, 1, 28, 28)
    torch.testing.assert_close(model(digits), stock(digits))
    assert recipe_config("lenet5_relu", "tutorial").batch_size == 64


def test_unknown_model_says_which_exist():
    with pytest.raises(ValueError, match="mlp, cnn, lenet5, lenet5_relu"):
        get_spec("resnet")


@pytest.mark.slow
def test_the_light_modules_do_not_import_torch():
    """The app's first paint and `python -m mnist_core --help` must not wait for PyTorch (~3 s)."""
    import subprocess
    import sys

    code = ("import sys; import mnist_core.models, mnist_core.data, mnist_core.runs, mnist_core.preprocess, "
            "mnist_core.predict, mnist_core.charts, mnist_core.cli, mnist_core.recipes, mnist_core.paths, "
            "mnist_core.bench; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_recipes_and_the_registry_import_one_way():
    """models imports recipes (its entries hold TrainConfigs); recipes imports nothing of the library."""
    import subprocess
    import sys

    code = "import sys, mnist_core.recipes; print(sorted(m for m in sys.modules if m.startswith('mnist_core.')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "['mnist_core.recipes']", done.stderr


def test_the_library_is_only_a_library():
    """mnist_core never drives a browser, starts the app or imports Streamlit: that is the app's and the tools' job."""
    import re
    from pathlib import Path

    import mnist_core

    for module in Path(mnist_core.__file__).parent.glob("*.py"):
        text = module.read_text()
        assert not re.search(r"^\s*(import|from) streamlit", text, flags=re.MULTILINE), module.name
        for word in ("playwright", "chromium", "subprocess"):
            assert word not in text.lower(), f"{module.name} mentions {word}"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
@pytest.mark.slow
def test_lenet5_conv3_as_linear_matches_the_stock_convolution(memory_format):
    torch.manual_seed(0)
    fast, stock = build_model("lenet5"), build_model("lenet5", conv3_as_linear=False)
    stock.load_state_dict(fast.state_dict())
    x = torch.randn(8, 1, 28, 28).contiguous(memory_format=memory_format)
    outputs = []
    for model in (fast, stock):
        model = model.to(memory_format=memory_format)
        output = model(x)
        output.square().sum().backward()
        outputs.append((output, model.conv3.weight.grad, model.conv1.weight.grad))
    for computed, expected in zip(*outputs):
        torch.testing.assert_close(computed, expected, rtol=1e-5, atol=1e-6)


def test_no_module_outside_the_registry_names_a_model_key():
    """A fifth architecture touches its registry entry and its network, nothing else."""
    import re

    from tests.support import PROJECT_ROOT

    allowed = {PROJECT_ROOT / "mnist_core" / "models.py", PROJECT_ROOT / "mnist_core" / "networks.py"}
    files = [*(PROJECT_ROOT / "mnist_core").glob("*.py"), *(PROJECT_ROOT / "pages").glob("*.py"),
             *(PROJECT_ROOT / "dashboard").glob("*.py"), *(PROJECT_ROOT / "join").glob("*.py"),
             *(PROJECT_ROOT / "tools").glob("*.py"), PROJECT_ROOT / "app.py"]
    pattern = re.compile(r"""["'](%s)["']""" % "|".join(MODEL_KEYS))
    naming = [f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}" for path in files if path not in allowed
              for number, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert len(files) > 40 and naming == []
