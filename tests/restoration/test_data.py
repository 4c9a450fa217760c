import numpy as np
import pytest

from restoration import data
from restoration.errors import ImageReadError


def test_embedded_split_is_fixed_and_disjoint():
    train = data.embedded_images("train")
    held = data.embedded_images("heldout")
    assert {n for n, _ in train}.isdisjoint({n for n, _ in held})
    assert len(train) >= 5 and len(held) >= 2
    for _, img in train + held:
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[-1] == 3
    with pytest.raises(ValueError, match="split must be"):
        data.embedded_images("test")


def test_random_crops_are_seeded_and_in_range():
    imgs = data.embedded_images("train")
    a = data.random_crops(imgs, 32, 6, rng=np.random.default_rng(1), scale=(0.5, 1.0))
    b = data.random_crops(imgs, 32, 6, rng=np.random.default_rng(1), scale=(0.5, 1.0))
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert 0 <= a.min() and a.max() <= 255
    batch = next(data.batches(imgs, 4, 16, seed=3))
    assert batch.shape == (4, 16, 16, 3)


def test_fixed_crops_tile_the_centre():
    img = np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)
    crops = data.fixed_crops([("x", img)], 32, per_image=4)
    assert [n for n, _ in crops] == ["x#0", "x#1", "x#2", "x#3"]
    np.testing.assert_array_equal(crops[3][1], img[32:, 32:].astype(np.float32))
    with pytest.raises(ValueError, match="square number"):
        data.fixed_crops([("x", img)], 32, per_image=3)


def test_folder_loader_and_unreadable_file(tmp_path):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    iio.imwrite(tmp_path / "a.png", rng.integers(0, 255, (40, 60, 3), dtype=np.uint8))
    iio.imwrite(tmp_path / "b.png", rng.integers(0, 255, (50, 50), dtype=np.uint8))  # grey -> RGB
    imgs = data.folder_images(tmp_path, size=32)
    assert [n for n, _ in imgs] == ["a", "b"] and all(i.shape == (32, 32, 3) for _, i in imgs)
    (tmp_path / "c.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ImageReadError, match="c.jpg"):
        data.folder_images(tmp_path)
    with pytest.warns(UserWarning, match="c.jpg"):
        assert len(data.folder_images(tmp_path, skip_unreadable=True)) == 2
    with pytest.raises(ImageReadError, match="not found"):
        data.load_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="folder not found"):
        data.folder_images(tmp_path / "nope")


def test_split_named_is_deterministic():
    imgs = [(str(i), np.zeros((4, 4, 3), np.uint8)) for i in range(20)]
    tr, he = data.split_named(imgs, 0.2, seed=1)
    tr2, he2 = data.split_named(imgs, 0.2, seed=1)
    assert [n for n, _ in he] == [n for n, _ in he2] and len(he) == 4 and len(tr) == 16


def test_16_bit_images_are_scaled_not_clipped(tmp_path):
    import imageio.v3 as iio

    img16 = np.array([[65535, 32768], [257, 0]], np.uint16)  # a 16-bit grey PNG
    iio.imwrite(tmp_path / "deep.png", img16)
    assert iio.imread(tmp_path / "deep.png").dtype == np.uint16
    img = data.load_image(tmp_path / "deep.png")
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    np.testing.assert_array_equal(img[..., 0], [[255, 128], [1, 0]])
