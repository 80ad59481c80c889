"""Chunked full-graph inference (issue 15): the same numbers as the whole-graph pass, bounded memory."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from facecluster.ada_nets.gcn import AdaNetsGCN, embed, embed_to_npy
from facecluster.collapse import CollapseError
from facecluster.data.io import NpyRowWriter, NpyRows
from facecluster.graph.ops import build_adjacency
from facecluster.methods.gcn_v import GCNV, infer_gcn_v


def _graph(n=230, d=16, k=7, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 12, n)
    x = rng.standard_normal((12, d))[y] + 0.8 * rng.standard_normal((n, d))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    s = x @ x.T
    nbrs = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return x, nbrs, np.take_along_axis(s, nbrs, 1)


@pytest.mark.parametrize("chunk", [1, 17, 64, 229])
def test_chunked_embed_equals_the_whole_graph_pass(tmp_path, chunk):
    x, nbrs, sims = _graph()
    adj = build_adjacency(nbrs, sims, nbrs.shape[1])
    torch.manual_seed(0)
    model = AdaNetsGCN(16, 8)
    whole = embed(model, x, adj, torch.device("cpu"))
    np.save(tmp_path / "features.npy", x)
    out = tmp_path / "embeddings.npy"
    embed_to_npy(model, NpyRows(tmp_path / "features.npy"), adj, torch.device("cpu"), str(out), chunk)
    chunked = np.load(out)
    assert chunked.shape == whole.shape and chunked.dtype == np.float32
    np.testing.assert_allclose(chunked, whole, atol=2e-6)
    # the chunked pass really ran in chunks: its second layer reads the layer-1 rows of each
    # chunk's neighbours, so a wrong neighbourhood would differ by far more than rounding
    assert sorted(os.listdir(tmp_path)) == ["embeddings.npy", "features.npy"]  # temporaries removed


def test_chunked_embed_uses_neighbours_outside_its_chunk(tmp_path):
    # node 0's neighbour lies in another chunk: flipping that neighbour's features must move node 0
    x, nbrs, sims = _graph(n=60)
    adj = build_adjacency(nbrs, sims, nbrs.shape[1])
    far = int(next(j for j in adj[0].indices if j >= 10))
    torch.manual_seed(0)
    model = AdaNetsGCN(16, 8)
    outs = []
    for feats in (x, np.where(np.arange(60)[:, None] == far, -x, x).astype(np.float32)):
        np.save(tmp_path / "f.npy", feats)
        embed_to_npy(model, NpyRows(tmp_path / "f.npy"), adj, torch.device("cpu"), str(tmp_path / "e.npy"), 10)
        outs.append(np.load(tmp_path / "e.npy"))
    assert np.abs(outs[0][0] - outs[1][0]).max() > 1e-4


def test_collapsed_chunked_embedding_writes_nothing(tmp_path):
    x, nbrs, sims = _graph(n=80)
    adj = build_adjacency(nbrs, sims, nbrs.shape[1])
    model = AdaNetsGCN(16, 8)
    with torch.no_grad():  # every output the bias of the head: all identical
        model.fc[0].weight.zero_()
        model.fc[0].bias.fill_(1.0)
    np.save(tmp_path / "f.npy", x)
    with pytest.raises(CollapseError):
        embed_to_npy(model, NpyRows(tmp_path / "f.npy"), adj, torch.device("cpu"), str(tmp_path / "e.npy"), 16)
    assert sorted(os.listdir(tmp_path)) == ["f.npy"]


@pytest.mark.parametrize("chunk", [1, 33, 500])
def test_chunked_gcn_v_inference_equals_the_whole_graph_pass(chunk):
    x, nbrs, sims = _graph()
    torch.manual_seed(0)
    model = GCNV(16, 12)
    conf, hidden = infer_gcn_v(model, x, nbrs, sims, 7, torch.device("cpu"))
    conf_c, hidden_c = infer_gcn_v(model, x, nbrs, sims, 7, torch.device("cpu"), chunk)
    np.testing.assert_allclose(conf_c, conf, atol=2e-6)
    np.testing.assert_allclose(hidden_c, hidden, atol=2e-6)


def test_row_writer_is_atomic_and_checks_shapes(tmp_path):
    path = tmp_path / "a.npy"
    with pytest.raises(ValueError, match="does not fit"):
        with NpyRowWriter(path, (4, 3)) as w:
            w.write(np.ones((2, 3)))
            w.write(np.ones((3, 3)))
    assert not any(tmp_path.iterdir())  # nothing left behind
    with NpyRowWriter(path, (4, 3)) as w:
        w.write(np.arange(6).reshape(2, 3))
        with pytest.raises(ValueError, match="2 of 4 rows"):
            w.commit()
        w.write(np.arange(6, 12).reshape(2, 3))
        w.commit()
    np.testing.assert_array_equal(np.load(path), np.arange(12, dtype=np.float32).reshape(4, 3))
    assert NpyRows(path).shape == (4, 3) and NpyRows(path)[[3, 0]].tolist() == [[9, 10, 11], [0, 1, 2]]


def test_the_rules_pattern_only_adjacency_gives_the_same_embeddings(tmp_path):
    # embed.py reads the adjacency's pattern (boolean CSR, no weights): the GCN's aggregation ignores weights
    from facecluster.data.io import load_sparse_pattern, save_sparse

    x, nbrs, sims = _graph()
    adj = build_adjacency(nbrs, sims, nbrs.shape[1])
    save_sparse(tmp_path / "adj.npz", adj)
    pattern = load_sparse_pattern(str(tmp_path / "adj.npz"))
    assert pattern.dtype == bool and (pattern != (adj != 0)).nnz == 0
    torch.manual_seed(0)
    model = AdaNetsGCN(16, 8)
    whole = embed(model, x, adj, torch.device("cpu"))
    np.save(tmp_path / "f.npy", x)
    for chunk in (None, 50):
        embed_to_npy(model, NpyRows(tmp_path / "f.npy"), pattern, torch.device("cpu"), str(tmp_path / "e.npy"), chunk)
        np.testing.assert_allclose(np.load(tmp_path / "e.npy"), whole, atol=2e-6)
