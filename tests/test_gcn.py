"""GCN pieces: the "gcn" aggregator, neighbour sampling, the allmax loss, training plumbing."""

import numpy as np
import scipy.sparse as sp
import torch

from facecluster.adjacency import build_adjacency
from facecluster.gcn import AdaNetsGCN, NeighbourSampler, allmax_loss, embed, mean_operator, strip_self_loops, train_gcn
from facecluster.training import SGDSchedule, cosine_lr


def _ring(n=30, k=5):
    nbrs = (np.arange(n)[:, None] + np.arange(k)[None, :]) % n
    return build_adjacency(nbrs, np.ones((n, k), dtype=np.float32), k)


def test_mean_operator_is_uniform_mean_over_neighbours_and_self():
    adj = _ring()
    op = mean_operator(adj).to_dense().numpy()
    pattern = adj.toarray() > 0
    expected = pattern / pattern.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(op, expected, rtol=1e-6)


def test_sage_layer_equals_linear_of_neighbourhood_mean():
    torch.manual_seed(0)
    adj = _ring()
    x = torch.randn(30, 8)
    model = AdaNetsGCN(8, 4)
    op = mean_operator(adj)
    got = model.sage1((x, None), op)
    ref = model.sage1.lin_l(torch.from_numpy((adj.toarray() > 0) / (adj.toarray() > 0).sum(1, keepdims=True)).float() @ x)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_sampler_blocks():
    adj = _ring(40, 12)
    graph = strip_self_loops(adj)
    sampler = NeighbourSampler(graph, fanout=4, rng=np.random.default_rng(0))
    targets = np.array([5, 17, 3])
    sources, op = sampler.block(targets)
    dense = op.to_dense().numpy()
    assert np.array_equal(sources[:3], targets) and len(set(sources)) == len(sources)
    np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=1e-6)
    for r, t in enumerate(targets):
        cols = np.flatnonzero(dense[r])
        chosen = set(sources[cols]) - {t}
        assert dense[r, r] > 0                       # itself
        assert len(chosen) == 4                      # fanout distinct neighbours
        assert chosen <= set(graph[t].indices)       # real neighbours only
    # a node with fewer neighbours than the fanout keeps all of them
    small = NeighbourSampler(graph, fanout=100, rng=np.random.default_rng(0))
    src, op = small.block(np.array([0]))
    assert set(src) == set(graph[0].indices) | {0}
    assert sampler._pos.max() == -1  # scratch space reset


def test_allmax_loss():
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1])
    s = emb @ emb.T
    expected = torch.relu(0.9 - s[0, 1]) + torch.relu(1 + max(s[0, 2], s[1, 2]))
    torch.testing.assert_close(allmax_loss(emb, labels), expected)
    # no positive pairs / no negatives: the missing term is 0, never NaN
    assert torch.isfinite(allmax_loss(emb, torch.tensor([0, 1, 2])))
    torch.testing.assert_close(allmax_loss(emb[:2], labels[:2]), torch.relu(0.9 - s[0, 1]))


def test_cosine_lr_schedule():
    assert cosine_lr(5, 0.1, 10, 100) == 0.05
    assert cosine_lr(10, 0.1, 10, 100) == 0.1
    assert abs(cosine_lr(100, 0.1, 10, 100)) < 1e-12


def test_train_and_embed_tiny():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 16))
    y = np.repeat(np.arange(4), 25)
    x = centres[y] + 0.3 * rng.standard_normal((100, 16))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    sims = x @ x.T
    nbrs = np.argsort(-sims, axis=1, kind="stable")[:, :20]
    adj = build_adjacency(nbrs, np.take_along_axis(sims, nbrs, 1), 20)
    torch.manual_seed(0)
    model, curve = train_gcn(x, y, nbrs, adj, SGDSchedule(steps=3, lr=0.01, log_every=1e9), 8, 20, 10, 5, {}, torch.device("cpu"), rng)
    assert len(curve) == 3 and all(np.isfinite(c[1]) for c in curve)
    e = embed(model, x, adj, torch.device("cpu"))
    assert e.shape == (100, 8) and np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
