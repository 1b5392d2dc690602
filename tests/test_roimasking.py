"""RoIMasking weights on hand-computed boxes (stride 8, alpha 1/3, 40x40 map)."""
import numpy as np
import torch

from model.s4net import roi_masking_weights


def weights(box, ternary=True, size=40):
    return roi_masking_weights(torch.tensor([box], dtype=torch.float32), size, size, 8, 1 / 3, ternary)[0, 0].numpy()


def test_inside_band_outside():
    # x: cells floor(80/8)=10 .. floor(167/8)+1=21 -> w = 11; band alpha*w = 11/3 -> cells 7..24
    # y: cells 12 .. floor(143/8)+1=18 -> h = 6; band 2 -> cells 10..19
    m = weights([80, 96, 167, 143])
    assert m.shape == (40, 40)
    assert (m[12:18, 10:21] == 1).all()
    expected = np.zeros((40, 40))
    expected[10:20, 7:25] = -1
    expected[12:18, 10:21] = 1
    np.testing.assert_array_equal(m, expected)
    assert set(np.unique(m)) == {-1.0, 0.0, 1.0}


def test_band_clamped_at_border():
    # box touching the top-left corner: the band survives on the right and bottom only
    m = weights([0, 0, 63, 63])  # cells 0..8, w=h=8, band 8/3 -> up to cell 10 (exclusive 10.67)
    assert (m[0:8, 0:8] == 1).all()
    assert (m[0:11, 8:11] == -1).all() and (m[8:11, 0:11] == -1).all()
    assert (m[11:, :] == 0).all() and (m[:, 11:] == 0).all()
    # bottom-right corner: the band is kept above and to the left, cut by the map edge
    m = weights([256, 256, 319, 319])  # cells 32..40 (x1' = 40 after +1)
    assert (m[32:, 32:] == 1).all()
    assert (m[30:32, 30:] == -1).all() and (m[30:, 30:32] == -1).all()
    assert (m[:30] == 0).all()


def test_binary_variant_and_many_boxes():
    boxes = torch.tensor([[80, 96, 167, 143], [0, 0, 63, 63], [8, 8, 9, 9]], dtype=torch.float32)
    m = roi_masking_weights(boxes, 40, 40, 8, 1 / 3, ternary=False)
    assert m.shape == (3, 1, 40, 40)
    assert set(np.unique(m.numpy())) == {0.0, 1.0}
    assert m[2, 0].sum() == 1  # a tiny box still covers its cell
    assert len(roi_masking_weights(torch.zeros(0, 4), 40, 40, 8, 1 / 3)) == 0
