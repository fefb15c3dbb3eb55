import numpy as np
import pytest
import torch

from mnist_core.data import (
    MNIST_MEAN,
    MNIST_STD,
    RAW_FILES,
    MnistDataError,
    data_available,
    load_mnist,
    normalize,
    raw_folder,
    read_test_split,
)
from mnist_core.paths import data_dir
from tests.support.mnist_files import write_idx_labels


def test_loads_both_splits_as_tensors(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    assert data.train_images.shape == (120, 28, 28) and data.train_images.dtype == torch.uint8
    assert data.test_images.shape == (40, 28, 28)
    assert data.train_labels.dtype == torch.int64 and len(data.test_labels) == 40
    assert int(data.train_labels.max()) <= 9


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "from-env"))
    assert data_dir(tmp_path / "explicit") == tmp_path / "explicit"
    assert data_dir() == tmp_path / "from-env"
    monkeypatch.delenv("MNIST_DATA_DIR")
    assert str(data_dir()) == "data"


def test_missing_files_name_all_four_and_the_folder(tmp_path):
    with pytest.raises(MnistDataError) as error:
        load_mnist(tmp_path, download=False)
    message = str(error.value)
    assert str(raw_folder(tmp_path)) in message
    assert all(name in message for name in RAW_FILES)
    assert not data_available(tmp_path)


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets

    def no_internet(self, *args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", no_internet)
    with pytest.raises(MnistDataError, match="Downloading it failed too"):
        load_mnist(tmp_path, download=True)


def test_truncated_image_file_is_a_clear_error(fake_mnist_root):
    path = raw_folder(fake_mnist_root) / RAW_FILES[0]
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MnistDataError, match="damaged"):
        load_mnist(fake_mnist_root, download=False)


def test_garbage_file_is_a_clear_error(fake_mnist_root):
    (raw_folder(fake_mnist_root) / RAW_FILES[2]).write_bytes(b"not an idx file at all")
    with pytest.raises(MnistDataError, match="damaged"):
        load_mnist(fake_mnist_root, download=False)


def test_labels_out_of_range_are_rejected(fake_mnist_root):
    write_idx_labels(raw_folder(fake_mnist_root) / RAW_FILES[1], np.full(120, 11))
    with pytest.raises(MnistDataError, match="labels range from"):
        load_mnist(fake_mnist_root, download=False)


def test_a_file_that_cannot_be_read_says_so(fake_mnist_root, monkeypatch):
    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(np, "fromfile", refused)  # as root, chmod 000 would not stop the read
    with pytest.raises(MnistDataError, match=r"cannot be read \(Permission denied\): check that this user may"):
        load_mnist(fake_mnist_root, download=False)


def test_label_count_must_match_images(fake_mnist_root):
    write_idx_labels(raw_folder(fake_mnist_root) / RAW_FILES[3], np.zeros(39))
    with pytest.raises(MnistDataError, match="damaged"):
        load_mnist(fake_mnist_root, download=False)


def test_training_subset_is_random_and_reproducible(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    first, again = data.training_subset(50, seed=3), data.training_subset(50, seed=3)
    assert len(first.train_labels) == 50 and torch.equal(first.train_labels, again.train_labels)
    assert not torch.equal(first.train_images, data.train_images[:50])
    assert len(first.test_labels) == 40  # the test split stays whole
    assert data.training_subset(None) is data


def test_validation_split_is_disjoint_from_training_and_always_the_same(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    remaining, held_out = data.validation_split(30)
    again_remaining, again_held_out = data.validation_split(30)
    assert len(held_out) == 30 and len(remaining.train_labels) == 90
    assert torch.equal(held_out.images, again_held_out.images) and torch.equal(remaining.train_images,
                                                                              again_remaining.train_images)
    kept = {bytes(image.numpy()) for image in remaining.train_images}
    assert not kept & {bytes(image.numpy()) for image in held_out.images}  # no image in both
    assert len(kept | {bytes(image.numpy()) for image in held_out.images}) == 120  # together: all of them
    assert torch.equal(remaining.test_images, data.test_images)  # the test split stays whole
    assert not torch.equal(data.validation_split(30, seed=1)[1].images, held_out.images)


def test_no_validation_split_keeps_every_training_image(fake_mnist_root):
    data = load_mnist(fake_mnist_root, download=False)
    remaining, held_out = data.validation_split(0)
    assert remaining is data and len(held_out) == 0


@pytest.mark.parametrize("size", [120, 500, -1])
def test_a_validation_split_too_large_is_refused_with_the_limit(fake_mnist_root, size):
    data = load_mnist(fake_mnist_root, download=False)
    with pytest.raises(ValueError, match="0 \\(none\\) to 119"):
        data.validation_split(size)


def test_normalize_applies_mnist_statistics_once():
    images = torch.zeros(1, 28, 28, dtype=torch.uint8)
    images[0, 0, 0] = 255
    out = normalize(images)
    assert out.shape == (1, 1, 28, 28)
    assert out.min().item() == pytest.approx(-MNIST_MEAN / MNIST_STD)
    assert out.max().item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD)


def test_real_mnist_has_the_published_sizes(real_mnist):
    assert real_mnist.train_images.shape == (60000, 28, 28)
    assert real_mnist.test_images.shape == (10000, 28, 28)
    assert torch.bincount(real_mnist.test_labels).tolist()[:2] == [980, 1135]


def test_the_test_split_read_without_torchvision_is_load_mnists(fake_mnist_root, tmp_path):
    images, labels = read_test_split(fake_mnist_root)
    data = load_mnist(fake_mnist_root, download=False)
    assert images.dtype == np.uint8 and np.array_equal(images, data.test_images.numpy())
    assert np.array_equal(labels, data.test_labels.numpy())
    with pytest.raises(MnistDataError, match="not found"):
        read_test_split(tmp_path / "nowhere")
    labels_file = raw_folder(fake_mnist_root) / RAW_FILES[3]
    write_idx_labels(labels_file, np.full(40, 12))
    with pytest.raises(MnistDataError, match="labels past 9"):
        read_test_split(fake_mnist_root)
    write_idx_labels(labels_file, np.zeros(39))  # one label short
    with pytest.raises(MnistDataError, match="damaged"):
        read_test_split(fake_mnist_root)
