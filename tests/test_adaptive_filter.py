"""The adaptive filter: shapes, the relative Huber loss, k̂ clipping, and that it can learn."""

import numpy as np
import torch

from facecluster.adaptive_filter import AdaptiveFilter, predict_k, relative_huber, train_filter
from facecluster.training import SGDSchedule


def test_relative_huber():
    pred = torch.tensor([1.0, 3.0, 0.5])
    target = torch.tensor([1.0, 1.0, 1.0])
    # r = 0, 2, -0.5 -> 0, 2 - 0.5, 0.125
    torch.testing.assert_close(relative_huber(pred, target), torch.tensor((0 + 1.5 + 0.125) / 3))


def test_forward_shape_and_prediction_range():
    torch.manual_seed(0)
    model = AdaptiveFilter(dim=8, hidden=4, mlp_hidden=16)
    assert model(torch.randn(5, 10, 8)).shape == (5,)
    x = np.random.default_rng(0).standard_normal((30, 8)).astype(np.float32)
    nbrs = np.random.default_rng(1).integers(0, 30, (30, 10))
    k = predict_k(model, x, nbrs, torch.device("cpu"), batch_size=7)
    assert k.dtype == np.int64 and k.min() >= 1 and k.max() <= 10


def test_learns_a_feature_dependent_target():
    # half the nodes have k* = 2, half k* = 8, told apart by the sign of feature 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 6)).astype(np.float32)
    x[:, 0] = np.where(np.arange(200) < 100, 1.0, -1.0)
    nbrs = np.repeat(np.arange(200)[:, None], 10, axis=1)  # each node sees only itself
    k_star = np.where(np.arange(200) < 100, 2, 8)
    torch.manual_seed(0)
    model, curve = train_filter(x, nbrs, k_star, SGDSchedule(steps=150, lr=0.01, optimizer="adam", log_every=1e9),
                                64, 8, 16, 0.0, torch.device("cpu"), torch.Generator().manual_seed(0))
    assert curve[-1][1] < curve[0][1]
    k_hat = predict_k(model, x, nbrs, torch.device("cpu"))
    assert np.abs(k_hat - k_star).mean() < 1.0
