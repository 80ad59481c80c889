"""GCN pieces: the "gcn" aggregator, neighbour sampling, the allmax loss, training plumbing."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from facecluster.graph.ops import build_adjacency
from facecluster.ada_nets.gcn import (AdaNetsGCN, NeighbourSampler, batch_nodes, cluster_loss, embed, gcn_operator, order_graph,
                                      train_gcn, with_self_loops)
from facecluster.training.loop import SGDSchedule, cosine_lr


def _ring(n=30, k=5):
    nbrs = (np.arange(n)[:, None] + np.arange(k)[None, :]) % n
    return build_adjacency(nbrs, np.ones((n, k), dtype=np.float32), k)


def test_gcn_operator_counts_the_node_twice_as_dgl_gcn_aggregator_on_a_self_looped_graph():
    # The release: adjacency + I, then DGL's "gcn" aggregator (sum over in-neighbours + self) / (in-degree + 1).
    # A node with d other neighbours: self 2/(d + 2), each neighbour 1/(d + 2) -- a uniform mean would give 1/(d + 1).
    adj = _ring()
    op = gcn_operator(adj).to_dense().numpy()
    pattern = (adj.toarray() > 0).astype(float)
    np.fill_diagonal(pattern, 1.0)
    d = pattern.sum(axis=1) - 1  # other neighbours
    expected = (pattern + np.eye(30)) / (d + 2)[:, None]
    np.testing.assert_allclose(op, expected, rtol=1e-6)
    assert np.allclose(np.diag(op), 2 / (d + 2)) and not np.allclose(np.diag(op), 1 / (d + 1))


def test_sage_layer_equals_linear_of_gcn_aggregation():
    torch.manual_seed(0)
    adj = _ring()
    x = torch.randn(30, 8)
    model = AdaNetsGCN(8, 4)
    got = model.sage1((x, None), gcn_operator(adj))
    ref = model.sage1.lin_l(gcn_operator(adj).to_dense() @ x)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_release_init_is_dgl_xavier_with_relu_gain():
    torch.manual_seed(0)
    rel, pyg = AdaNetsGCN(256, 512, init="release"), AdaNetsGCN(256, 512, init="pyg")
    # xavier_uniform(gain sqrt 2): U(-a, a), a = sqrt(2) * sqrt(6 / (fan_in + fan_out)); std = a / sqrt 3
    a = np.sqrt(2.0) * np.sqrt(6.0 / (256 + 512))
    w = rel.sage1.lin_l.weight.detach().numpy()
    assert abs(w.std() - a / np.sqrt(3)) < 0.02 * a and np.abs(w).max() <= a
    ratio = w.std() / pyg.sage1.lin_l.weight.detach().numpy().std()
    assert 1.9 < ratio < 2.6  # PyG's kaiming(a = sqrt 5) is 2-2.4x smaller (2.0 at 256 -> 512)
    # biases keep torch's default init (same distribution under both)
    b_bound = 1 / np.sqrt(256)
    assert np.abs(rel.sage1.lin_l.bias.detach().numpy()).max() <= b_bound


def test_sampler_blocks_follow_dgl_sample_neighbors_plus_gcn_aggregator():
    adj = _ring(40, 12)
    graph = with_self_loops(adj)
    sampler = NeighbourSampler(graph, fanout=4, rng=np.random.default_rng(0))
    targets = np.array([5, 17, 3])
    for _ in range(20):
        sources, op = sampler.block(targets)
        dense = op.to_dense().numpy()
        assert np.array_equal(sources[:3], targets) and len(set(sources)) == len(sources)
        np.testing.assert_allclose(dense.sum(axis=1), 1.0, rtol=1e-6)
        for r, t in enumerate(targets):
            cols = np.flatnonzero(dense[r])
            assert set(sources[cols]) <= set(graph[t].indices)  # real neighbours (self included) only
            # 4 sampled entries + the node itself: weights 1/5, the node 2/5 when its self-loop was drawn
            assert np.isclose(dense[r, r], 1 / 5) or np.isclose(dense[r, r], 2 / 5)
            assert len(cols) in (4, 5)
    # over many draws the self-loop is drawn like any other entry (4 of 23 entries: p = 0.17)
    drawn = [np.isclose(NeighbourSampler(graph, 4, np.random.default_rng(s)).block(np.array([0]))[1].to_dense()[0, 0], 0.4)
             for s in range(300)]
    assert 0.1 < np.mean(drawn) < 0.26
    # a node with fewer entries than the fanout keeps all of them
    small = NeighbourSampler(graph, fanout=100, rng=np.random.default_rng(0))
    src, op = small.block(np.array([0]))
    assert set(src) == set(graph[0].indices)
    assert np.isclose(op.to_dense()[0, 0].item(), 2 / 24)  # 22 others + self-loop + self
    assert sampler._pos.max() == -1  # scratch space reset


def test_cluster_loss_positive_term_averages_over_the_same_label_matrix_with_its_diagonal():
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.8], [0.0, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1])
    s = emb @ emb.T
    # release (ClusterLoss, allmax): same-label matrix incl. its diagonal = 5 entries, 2 of them off-diagonal
    pos = 2 * torch.relu(0.9 - s[0, 1]) / 5
    neg = torch.relu(1 + max(s[0, 2], s[1, 2]))
    loss, terms = cluster_loss(emb, labels)
    torch.testing.assert_close(loss, pos + neg)
    assert not torch.isclose(loss, torch.relu(0.9 - s[0, 1]) + neg)  # the naive off-diagonal mean differs
    assert np.isclose(terms["pos"], float(pos)) and np.isclose(terms["neg"], float(neg))
    assert np.isclose(terms["max_neg_cos"], float(max(s[0, 2], s[1, 2])))
    # no positive pairs / no negatives: the missing term is 0, never NaN
    assert torch.isfinite(cluster_loss(emb, torch.tensor([0, 1, 2]))[0])
    torch.testing.assert_close(cluster_loss(emb[:2], labels[:2])[0], 2 * torch.relu(0.9 - s[0, 1]) / 4)


def test_order_graph_is_symmetric_with_self_loops():
    nbrs = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1], [3, 0, 1]])
    g = order_graph(nbrs, 2).toarray()
    assert (g == g.T).all() and (np.diag(g) == 1).all()
    assert g[3, 0] == 1 and g[0, 3] == 1 and g[0, 2] == 1  # reverse edges of the top-2 lists


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


def test_release_loss_types_average_the_hardest_pairs():
    emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.8], [0.0, 1.0], [0.3, 1.0]]), dim=1)
    labels = torch.tensor([0, 0, 1, 2])
    s = emb @ emb.T
    same = labels[:, None] == labels[None, :]
    negs = torch.sort(s[~same], descending=True)[0]  # 10 cross-label entries
    allmax = cluster_loss(emb, labels, type="allmax")[0]
    torch.testing.assert_close(allmax, 2 * torch.relu(0.9 - s[0, 1]) / 6 + torch.relu(1 + negs[0]))
    torch.testing.assert_close(cluster_loss(emb, labels, type="maxmax")[0], torch.relu(0.9 - s[0, 1]) + torch.relu(1 + negs[0]))
    torch.testing.assert_close(cluster_loss(emb, labels, type="allall")[0],
                               2 * torch.relu(0.9 - s[0, 1]) / 6 + torch.relu(1 + negs).mean())
    torch.testing.assert_close(cluster_loss(emb, labels, type="alltopk")[0],
                               2 * torch.relu(0.9 - s[0, 1]) / 6 + torch.relu(1 + negs[:4]).mean())
    with pytest.raises(ValueError, match="unknown GCN loss type"):
        cluster_loss(emb, labels, type="bogus")


def _noisy_clusters(n_ids=8, per=20, d=16, noise=0.9, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_ids, d))
    y = np.repeat(np.arange(n_ids), per)
    x = centres[y] + noise * rng.standard_normal((n_ids * per, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), y


def test_gcn_uses_its_graph_and_its_input():
    # an embedding must change when a neighbour's features change (the graph is used), not when a
    # node outside its two-hop neighbourhood changes, and must change with the node's own features
    x, y = _noisy_clusters()
    sims = x @ x.T
    nbrs = np.argsort(-sims, axis=1, kind="stable")[:, :6]
    adj = build_adjacency(nbrs, np.take_along_axis(sims, nbrs, 1), 6)
    torch.manual_seed(0)
    model = AdaNetsGCN(16, 8)
    base = embed(model, x, adj, torch.device("cpu"))
    two_hop = set((adj @ adj)[0].indices)
    neighbour = int(next(j for j in adj[0].indices if j != 0))
    far = int(next(j for j in range(len(x)) if j not in two_hop))
    for node, should_change in ((neighbour, True), (far, False), (0, True)):
        x2 = x.copy()
        x2[node] = -x2[node]
        e = embed(model, x2, adj, torch.device("cpu"))
        assert (np.abs(e[0] - base[0]).max() > 1e-4) == should_change, (node, should_change)


def test_gcn_loss_falls_on_a_small_noisy_clustered_set():
    x, y = _noisy_clusters()
    sims = x @ x.T
    nbrs = np.argsort(-sims, axis=1, kind="stable")[:, :40]
    adj = build_adjacency(nbrs[:, :10], np.take_along_axis(sims, nbrs[:, :10], 1), 10)
    torch.manual_seed(0)
    terms = {}
    _, curve = train_gcn(x, y, nbrs, adj, SGDSchedule(steps=150, lr=0.01, optimizer="adam", warmup=10, weight_decay=1e-5, log_every=1e9),
                         32, 40, 30, 10, {}, torch.device("cpu"), np.random.default_rng(0), terms_out=terms)
    loss = np.array([c[1] for c in curve])
    assert loss[-30:].mean() < loss[:30].mean() - 0.05
    assert len(terms["pos"]) == len(terms["neg"]) == 150


def test_precomputed_first_layer_equals_the_sampled_layer_on_full_neighbourhoods():
    # first_layer="precomputed": A·X once (gcn_operator of the self-looped training graph), rows
    # gathered per step, then the layer's linear map = the sampled block when the fanout keeps every edge
    adj = _ring(40, 12)
    graph = with_self_loops(adj)
    torch.manual_seed(0)
    x = torch.randn(40, 8)
    model = AdaNetsGCN(8, 6)
    ax = gcn_operator(graph) @ x
    sampler = NeighbourSampler(graph, fanout=1000, rng=np.random.default_rng(0))
    targets = np.array([5, 17, 3, 39])
    sources, op = sampler.block(targets)
    torch.testing.assert_close(op @ x[torch.from_numpy(sources)], ax[torch.from_numpy(targets)], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model.layer1_aggregated(ax[torch.from_numpy(targets)]),
                               model.layer1(x[torch.from_numpy(sources)], op), rtol=1e-5, atol=1e-6)


def test_multi_seed_batches_hold_the_seeds_and_their_order_graph_neighbours():
    n = 60
    rng = np.random.default_rng(0)
    nbrs = np.concatenate([np.arange(n)[:, None], rng.permuted(np.tile(np.arange(n), (n, 1)), axis=1)[:, :15]], axis=1)
    g = order_graph(nbrs, 10)
    order = NeighbourSampler(g, 4, np.random.default_rng(1))
    for _ in range(20):
        nodes = batch_nodes(order, n, 5, 4, rng)
        assert len(set(nodes.tolist())) == len(nodes)  # no node twice
        seeds = nodes[:5]
        assert len(set(seeds.tolist())) == 5
        allowed = set(seeds.tolist()).union(*(set(g[s].indices.tolist()) for s in seeds))
        assert set(nodes.tolist()) <= allowed  # only the seeds' order-graph neighbours
        assert 5 < len(nodes) <= 5 * 5  # each seed brings up to 4 draws (one may be itself or another seed)


def test_one_seed_batches_are_the_releases():
    # seeds_per_batch=1 draws exactly what the release's step drew from the same generator
    n = 60
    nbrs = np.argsort(np.random.default_rng(0).random((n, n)), axis=1)[:, :20]
    nbrs[:, 0] = np.arange(n)
    g = order_graph(nbrs, 20)
    a_rng, b_rng = np.random.default_rng(3), np.random.default_rng(3)
    a, b = NeighbourSampler(g, 8, a_rng), NeighbourSampler(g, 8, b_rng)
    for _ in range(10):
        seed = np.array([int(b_rng.integers(n))])
        _, picked = b.sample(seed, 8)
        release = np.concatenate([seed, picked[picked != seed[0]]])
        np.testing.assert_array_equal(batch_nodes(a, n, 1, 8, a_rng), release)


def test_train_with_the_recipe_knobs_and_reject_unknown_values():
    x, y = _noisy_clusters()
    sims = x @ x.T
    nbrs = np.argsort(-sims, axis=1, kind="stable")[:, :40]
    adj = build_adjacency(nbrs[:, :10], np.take_along_axis(sims, nbrs[:, :10], 1), 10)
    sched = SGDSchedule(steps=150, lr=0.01, optimizer="adam", warmup=10, weight_decay=1e-5, log_every=1e9)
    torch.manual_seed(0)
    _, curve = train_gcn(x, y, nbrs, adj, sched, 32, 40, 30, 10, {"type": "allall"}, torch.device("cpu"),
                         np.random.default_rng(0), seeds_per_batch=3, first_layer="precomputed")
    loss = np.array([c[1] for c in curve])
    assert loss[-30:].mean() < loss[:30].mean() - 0.05
    with pytest.raises(ValueError, match="first_layer"):
        train_gcn(x, y, nbrs, adj, sched, 8, 40, 30, 10, {}, torch.device("cpu"), np.random.default_rng(0), first_layer="full")
    with pytest.raises(ValueError, match="seeds_per_batch"):
        train_gcn(x, y, nbrs, adj, sched, 8, 40, 30, 10, {}, torch.device("cpu"), np.random.default_rng(0), seeds_per_batch=0)
