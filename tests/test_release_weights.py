"""The release-weight importers (facecluster.training.release_weights) against the releases' own networks.

Each release network below is a minimal transcription of the release's forward pass, written from
its source (the file and commit are cited at each class). A release-shaped checkpoint is saved from
it, imported with ``write_imported_checkpoint``, loaded with ``load_model`` and run through this
project's inference code; the outputs must equal the release's on the same inputs (atol 1e-5).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn import init

from facecluster.graph.knn import exact_knn
from facecluster.methods import gcn_d, gcn_e, gcn_v, lce, pivot_subgraph
from facecluster.methods.learned import load_dependencies
from facecluster.methods.proposals import Proposals
from facecluster.training.checkpoints import load_model, save_model
from facecluster.training.release_weights import (RELEASE_IMPORTERS, ReleaseWeightsError, import_release_weights,
                                                  file_md5, main, read_release_state_dict,
                                                  write_imported_checkpoint)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ATOL = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors: one thread is much faster than several on a shared CPU (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# =================================================================================================
# Transcriptions of the releases' networks
# =================================================================================================

# --- learn-to-cluster @ 3b834589923baf72523e288cc462e0df591b99c1, vegcn/models/utils.py ----------

class MeanAggregator(nn.Module):
    def forward(self, features, A):
        if features.dim() == 2:
            return torch.spmm(A, features)
        if features.dim() == 3:
            return torch.bmm(A, features)
        raise RuntimeError("the dimension of features should be 2 or 3")


class VeGraphConv(nn.Module):
    def __init__(self, in_dim, out_dim, agg, dropout=0):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = nn.Parameter(torch.FloatTensor(in_dim * 2, out_dim))
        self.bias = nn.Parameter(torch.FloatTensor(out_dim))
        init.xavier_uniform_(self.weight)
        init.constant_(self.bias, 0)
        self.agg = agg()
        self.dropout = dropout

    def forward(self, features, A):
        assert features.shape[-1] == self.in_dim
        agg_feats = self.agg(features, A)
        cat_feats = torch.cat([features, agg_feats], dim=-1)
        op = "nd,df->nf" if features.dim() == 2 else "bnd,df->bnf"
        out = torch.einsum(op, (cat_feats, self.weight))
        out = F.relu(out + self.bias)
        if self.dropout > 0:
            out = F.dropout(out, self.dropout, training=self.training)
        return out


# --- learn-to-cluster @ 3b83458, vegcn/models/gcn_v.py -------------------------------------------

class GCN_V(nn.Module):
    def __init__(self, feature_dim, nhid, nclass, dropout=0):
        super().__init__()
        self.conv1 = VeGraphConv(feature_dim, nhid, MeanAggregator, dropout)
        self.nclass = nclass
        self.classifier = nn.Sequential(nn.Linear(nhid, nhid), nn.PReLU(nhid), nn.Linear(nhid, self.nclass))

    def forward(self, data, output_feat=False):
        x, adj = data[0], data[1]
        x = self.conv1(x, adj)
        pred = self.classifier(x).view(-1)
        if output_feat:
            return pred, x
        return pred


# --- learn-to-cluster @ 3b83458, vegcn/models/gcn_e.py -------------------------------------------

class GCN_E(nn.Module):
    def __init__(self, feature_dim, nhid, nclass, dropout=0):
        super().__init__()
        nhid_half = int(nhid / 2)
        self.conv1 = VeGraphConv(feature_dim, nhid, MeanAggregator, dropout)
        self.conv2 = VeGraphConv(nhid, nhid, MeanAggregator, dropout)
        self.conv3 = VeGraphConv(nhid, nhid_half, MeanAggregator, dropout)
        self.conv4 = VeGraphConv(nhid_half, nhid_half, MeanAggregator, dropout)
        self.nclass = nclass
        self.classifier = nn.Sequential(nn.Linear(nhid_half, nhid_half), nn.PReLU(nhid_half),
                                        nn.Linear(nhid_half, self.nclass))

    def forward(self, data):
        x, adj = data[0], data[1]
        x = self.conv1(x, adj)
        x = self.conv2(x, adj)
        x = self.conv3(x, adj)
        x = self.conv4(x, adj)
        x = x.view(-1, x.shape[-1])
        pred = self.classifier(x)
        return F.log_softmax(pred, dim=-1)


# --- learn-to-cluster @ 3b83458, lgcn/models/lgcn.py (its own MeanAggregator/GraphConv: bmm only) --

class LgcnGraphConv(nn.Module):
    def __init__(self, in_dim, out_dim, agg):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = nn.Parameter(torch.FloatTensor(in_dim * 2, out_dim))
        self.bias = nn.Parameter(torch.FloatTensor(out_dim))
        init.xavier_uniform_(self.weight)
        init.constant_(self.bias, 0)
        self.agg = agg()

    def forward(self, features, A):
        b, n, d = features.shape
        assert d == self.in_dim
        agg_feats = self.agg(features, A)
        cat_feats = torch.cat([features, agg_feats], dim=2)
        out = torch.einsum("bnd,df->bnf", (cat_feats, self.weight))
        return F.relu(out + self.bias)


class LGCN(nn.Module):
    def __init__(self, feature_dim):
        super().__init__()
        self.bn0 = nn.BatchNorm1d(feature_dim, affine=False)
        self.conv1 = LgcnGraphConv(feature_dim, 512, MeanAggregator)
        self.conv2 = LgcnGraphConv(512, 512, MeanAggregator)
        self.conv3 = LgcnGraphConv(512, 256, MeanAggregator)
        self.conv4 = LgcnGraphConv(256, 256, MeanAggregator)
        self.classifier = nn.Sequential(nn.Linear(256, 256), nn.PReLU(256), nn.Linear(256, 2))

    def extract(self, x, A, one_hop_idxs):
        B, N, D = x.shape
        x = x.view(-1, D)
        x = self.bn0(x)
        x = x.view(B, N, D)
        x = self.conv1(x, A)
        x = self.conv2(x, A)
        x = self.conv3(x, A)
        x = self.conv4(x, A)
        k1 = one_hop_idxs.size(-1)
        dout = x.size(-1)
        edge_feat = torch.zeros(B, k1, dout)  # the release: .cuda(); the only change
        for b in range(B):
            edge_feat[b, :, :] = x[b, one_hop_idxs[b]]
        edge_feat = edge_feat.view(-1, dout)
        return self.classifier(edge_feat)  # (B * k1, 2)


# --- learn-to-cluster @ 3b83458, dsgcn/models/dsgcn.py (GCN; SGC and featureless not used) -------

class DsGraphConv(nn.Module):
    def __init__(self, in_features, out_features, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.FloatTensor(in_features, out_features))
        if bias:
            self.bias = nn.Parameter(torch.FloatTensor(out_features))
        else:
            self.register_parameter("bias", None)
        stdv = 1.0 / math.sqrt(self.weight.size(1))
        self.weight.data.uniform_(-stdv, stdv)

    def forward(self, x, adj, D=None):
        xw = torch.matmul(x, self.weight)
        output = torch.bmm(adj, xw)
        if D is not None:
            output = output * 1.0 / D
        return output


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, dropout=0.0):
        super().__init__()
        self.gc = DsGraphConv(inplanes, planes)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout2d(p=dropout) if dropout > 0 else None

    def forward(self, x, adj, D=None):
        x = self.relu(self.gc(x, adj, D))
        if self.dropout is not None:
            x = self.dropout(x)
        return x


class DsGCN(nn.Module):
    """GNN + GCN of dsgcn.py with ``planes=hidden_dims``."""

    def __init__(self, planes, feature_dim, num_classes=1, dropout=0.5, reduce_method="max", stage="det",
                 use_random_seed=False):
        super().__init__()
        self.inplanes = feature_dim
        self.num_classes = num_classes
        self.reduce_method = reduce_method
        self.stage = stage
        if stage == "seg":
            self.num_classes = 2
            if use_random_seed:
                self.inplanes += 1
        layers = nn.ModuleList([])
        for plane in planes:
            layers.append(BasicBlock(self.inplanes, plane, dropout))
            self.inplanes = plane
        self.layers = layers
        self.classifier = nn.Linear(self.inplanes, self.num_classes)

    def pool(self, x):
        if self.reduce_method == "max":
            return torch.max(x, dim=1)[0]
        if self.reduce_method == "no_pool":
            return x
        raise KeyError(self.reduce_method)

    def forward(self, data):
        x, adj = data[0], data[1]
        bs = x.size(0)
        D = adj.sum(dim=2, keepdim=True)
        for layer in self.layers:
            x = layer(x, adj, D)
        x = self.pool(x)
        x = x.view(-1, self.inplanes)
        x = self.classifier(x)
        if self.reduce_method == "no_pool":
            if self.num_classes > 1:
                x = x.view(bs, -1, self.num_classes)
                x = torch.transpose(x, 1, 2).contiguous()
                x = F.log_softmax(x, dim=1)
            else:
                x = x.view(bs, -1)
        return x


# --- LCE-PCENet @ ec29e69d0fea60c53317357acaa293ccea43e7cb, models.py ----------------------------

class ReleasePCENet(nn.Module):
    def __init__(self, feature_dim, k, nhid, nclass, num_layers=3, nhead=8, dropout=0.1):
        super().__init__()
        self.k = k
        self.feature_dim = feature_dim
        encoder_layer = nn.TransformerEncoderLayer(d_model=self.feature_dim + 2 * self.k, nhead=nhead,
                                                   dim_feedforward=nhid, batch_first=True, norm_first=True,
                                                   dropout=dropout)
        self.encoder = nn.TransformerEncoder(encoder_layer, num_layers=num_layers)
        self.adjust_dim = nn.Sequential(nn.Linear(self.feature_dim + 2 * self.k, self.feature_dim), nn.PReLU(),
                                        nn.Linear(self.feature_dim, self.feature_dim))
        self.classifier = nn.Sequential(nn.Linear(self.feature_dim * 4, 2048), nn.PReLU(), nn.Linear(2048, 2048),
                                        nn.PReLU(), nn.Linear(2048, nclass))

    def forward(self, data):
        features, adj_mat = data[0], data[1]
        x = torch.cat([features, adj_mat], dim=-1)
        B, N, D = x.shape
        x = self.encoder(x)
        x = torch.cat([x[:, 0:1, :], x[:, self.k:self.k + 1, :]], dim=1)
        x = x.view(-1, D)
        x = self.adjust_dim(x)
        x = x.view((B, 2, self.feature_dim))
        pred = torch.cat([features[:, 0], x[:, 0], features[:, self.k], x[:, 1]], dim=-1)
        return self.classifier(pred)


class ReleaseLCENet(nn.Module):
    def __init__(self, feature_dim, dim_feedforward, k, num_layers=3, nhead=8, dropout=0.1):
        super().__init__()
        self.k = k
        encoder_layer = nn.TransformerEncoderLayer(d_model=feature_dim + self.k, nhead=nhead,
                                                   dim_feedforward=dim_feedforward, batch_first=True, norm_first=True,
                                                   dropout=dropout)
        self.encoder = nn.TransformerEncoder(encoder_layer, num_layers=num_layers)
        self.classifier = nn.Sequential(nn.Linear((feature_dim + self.k) * 2, feature_dim), nn.PReLU(),
                                        nn.Linear(feature_dim, 2))

    def forward(self, data):
        x, A = data
        x = torch.cat([x, A], dim=-1)
        B, N, D = x.shape
        x = self.encoder(x)
        x = torch.cat([x[:, 0, :].unsqueeze(1).repeat(1, self.k, 1), x], dim=-1)
        x = x.view(-1, 2 * D)
        x = self.classifier(x)
        return x.view((B, N, 2))


# =================================================================================================
# Helpers
# =================================================================================================

def _randomise(model: nn.Module, seed: int) -> nn.Module:
    """Every 1-D parameter and float buffer perturbed at random (biases, PReLU slopes, LayerNorm and
    BatchNorm statistics included, which their inits leave constant), so a key mapped to the wrong
    place shows; the weight matrices keep their release init (random already, of a sane scale)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point() or t.dim() != 1:
                continue
            r = torch.randn(t.shape, generator=g)
            if name.endswith("running_var"):
                t.copy_(0.3 + r.abs())
            elif name.endswith("running_mean"):
                t.copy_(0.2 * r)
            else:
                t.add_(0.1 * r)
    return model.eval()


def _mmcv(model: nn.Module, path, module_prefix: bool = False) -> str:
    """mmcv's save_checkpoint layout: {"meta", "state_dict"} (optionally DataParallel's module. prefix)."""
    sd = {("module." if module_prefix else "") + k: v for k, v in model.state_dict().items()}
    torch.save({"meta": {"mmcv_version": "0.2.16", "time": "Sat Aug  8 01:47:31 2020", "epoch": 1}, "state_dict": sd},
               path)
    return str(path)


def _knn(n: int, d: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 6, 2), d))
    x = centres[rng.integers(len(centres), size=n)] + 0.6 * rng.standard_normal((n, d))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    nbrs, sims = exact_knn(x, k, backend="torch")
    return x, nbrs, sims


def _differs(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


# =================================================================================================
# GCN-V
# =================================================================================================

def _gcn_v_release(tmp_path, d=8, nhid=16, seed=0):
    torch.manual_seed(seed)
    net = _randomise(GCN_V(feature_dim=d, nhid=nhid, nclass=1), seed)
    return net, _mmcv(net, tmp_path / "pretrained_gcn_v_ms1m.pth")


def _gcn_v_release_outputs(net, x, nbrs, sims, k):
    adj = gcn_v.knn_operator(nbrs, sims, k).to_sparse_coo()
    with torch.no_grad():
        pred, feat = net((torch.nn.functional.normalize(torch.from_numpy(x), dim=1), adj), output_feat=True)
    return pred.numpy(), torch.nn.functional.normalize(feat, dim=1).numpy()


def test_gcn_v_import_equals_the_release_forward_pass_in_our_inference(tmp_path):
    net, path = _gcn_v_release(tmp_path)
    out = tmp_path / "gcn_v.pt"
    extra = write_imported_checkpoint("gcn_v", [path], out, {"hidden": 16, "k": 5}, feature_dim=8)
    model, ckpt = load_model(str(out))
    assert ckpt["kind"] == "gcn_v" and ckpt["arch"] == {"dim": 8, "hidden": 16, "dropout": 0.0}
    assert ckpt["imported_from"] == [path] == extra["imported_from"] and "learn-to-cluster" in ckpt["release"]
    assert ckpt["imported_md5"] == [file_md5(path)]
    assert ckpt["loss_curve"] == [] and ckpt["config"]["k"] == 5 and ckpt["config"]["tau"] == 0.8  # schema default
    x, nbrs, sims = _knn(40, 8, 6, seed=1)
    want_conf, want_hidden = _gcn_v_release_outputs(net, x, nbrs, sims, 5)
    for chunk in (None, 7):  # the whole graph and the chunked path of infer_gcn_v
        conf, hidden = gcn_v.infer_gcn_v(model, x, nbrs, sims, 5, torch.device("cpu"), chunk)
        np.testing.assert_allclose(conf, want_conf, atol=ATOL)
        np.testing.assert_allclose(hidden, want_hidden, atol=ATOL)


def test_a_naive_graphconv_import_gives_other_outputs(tmp_path):
    """The test above can fail: the GraphConv weight with its two halves swapped (neighbour mean
    first), or reshaped instead of transposed, loads without complaint and gives other outputs."""
    net, path = _gcn_v_release(tmp_path)
    x, nbrs, sims = _knn(40, 8, 6, seed=1)
    want_conf, _ = _gcn_v_release_outputs(net, x, nbrs, sims, 5)
    w = net.conv1.weight.detach()  # (2d, nhid)
    naive = {"swapped halves": torch.cat([w[8:], w[:8]]).t(), "reshaped, not transposed": w.reshape(16, 16)}
    for what, weight in naive.items():
        model = gcn_v.GCNV(8, 16)
        sd = {"conv.weight": weight, "conv.bias": net.conv1.bias.detach(),
              **{f"head.{k[len('classifier.'):]}": v for k, v in net.state_dict().items() if k.startswith("classifier.")}}
        model.load_state_dict(sd, strict=True)
        conf, _ = gcn_v.infer_gcn_v(model, x, nbrs, sims, 5, torch.device("cpu"))
        assert _differs(conf, want_conf) > 1e-2, what
    model, _, _, _ = import_release_weights("gcn_v", [path], {"hidden": 16})
    np.testing.assert_allclose(gcn_v.infer_gcn_v(model, x, nbrs, sims, 5, torch.device("cpu"))[0], want_conf, atol=ATOL)


# =================================================================================================
# GCN-E (gcn_ve's checkpoint) and L-GCN
# =================================================================================================

def test_gcn_e_import_equals_the_release_forward_pass_on_every_candidate_subgraph(tmp_path):
    torch.manual_seed(0)
    net = _randomise(GCN_E(feature_dim=16, nhid=16, nclass=2), 2)
    path = _mmcv(net, tmp_path / "pretrained_gcn_e_ms1m.pth")
    out = tmp_path / "gcn_ve.pt"
    write_imported_checkpoint("gcn_ve", [path], out, {"hidden": 16, "k": 6})
    model, ckpt = load_model(str(out))
    assert ckpt["kind"] == "pivot_subgraph_gcn" and ckpt["arch"] == {"dim": 16, "hidden": 16, "input_norm": False}
    # GCN-V-like hidden features, confidences; our batched, padded candidate subgraphs vs the release,
    # which feeds one subgraph at a time (batch_size_per_gpu 1)
    h, nbrs, sims = _knn(60, 16, 7, seed=3)
    conf = np.random.default_rng(4).random(60).astype(np.float32)
    prob = gcn_e.candidate_probabilities(model, h, nbrs, sims, conf, 6, 0.0, torch.device("cpu"), batch_size=8)
    roots = np.flatnonzero(~np.isnan(prob).all(axis=1))
    assert roots.size > 10
    ids, hs, adjs = gcn_e.candidate_subgraphs(h, nbrs, sims, conf, 6, roots)
    checked = 0
    for b, root in enumerate(roots):
        m = int((ids[b] >= 0).sum())
        with torch.no_grad():
            want = net((torch.from_numpy(hs[b:b + 1, :m]), torch.from_numpy(adjs[b:b + 1, :m, :m]))).exp()[:, 1]
        cols = [int(np.flatnonzero(nbrs[root, 1:7] == j)[0]) for j in ids[b, :m]]
        np.testing.assert_allclose(prob[root, cols], want.numpy(), atol=ATOL)
        checked += m
    assert checked > 30


def _lgcn_release(tmp_path, d=8, seed=5, module_prefix=False):
    torch.manual_seed(seed)
    net = _randomise(LGCN(feature_dim=d), seed)
    return net, _mmcv(net, tmp_path / "pretrained_lgcn_ms1m.pth", module_prefix)


@pytest.mark.parametrize("module_prefix", [False, True])
def test_lgcn_import_equals_the_release_forward_pass_on_pivot_subgraphs(tmp_path, module_prefix):
    net, path = _lgcn_release(tmp_path, module_prefix=module_prefix)
    out = tmp_path / "lgcn.pt"
    write_imported_checkpoint("lgcn", [path], out, {"hidden": 512}, feature_dim=8)
    model, ckpt = load_model(str(out))
    assert ckpt["arch"] == {"dim": 8, "hidden": 512, "input_norm": True}
    assert torch.equal(model.input_norm.running_mean, net.bn0.running_mean)
    x, nbrs, _ = _knn(30, 8, 6, seed=6)
    k1, k2, active = 4, 2, 2
    got = pivot_subgraph.one_hop_probabilities(model, x, nbrs, k1, k2, active, torch.device("cpu"), batch_size=7)
    pivots = np.arange(30)
    nodes, adj, _, one_hop = pivot_subgraph.pivot_subgraphs(nbrs, pivots, k1, k2, active)
    feats = x[np.where(nodes >= 0, nodes, 0)] - x[pivots][:, None, :]
    feats = feats * (nodes >= 0)[..., None]
    with torch.no_grad():
        logits = net.extract(torch.from_numpy(feats.astype(np.float32)), torch.from_numpy(adj),
                             torch.from_numpy(one_hop))
    want = torch.softmax(logits, dim=1)[:, 1].reshape(30, k1).numpy()
    np.testing.assert_allclose(got, want, atol=ATOL)
    # naive: BatchNorm statistics left out (a fresh BN), or its mean and variance swapped
    for what, (mean, var) in {"fresh BN": (torch.zeros(8), torch.ones(8)),
                              "mean/var swapped": (net.bn0.running_var, net.bn0.running_mean.abs() + 0.1)}.items():
        naive, _ = load_model(str(out))
        naive.input_norm.running_mean.copy_(mean)
        naive.input_norm.running_var.copy_(var)
        p = pivot_subgraph.one_hop_probabilities(naive, x, nbrs, k1, k2, active, torch.device("cpu"))
        assert _differs(p, want) > 1e-3, what


def test_lgcn_without_num_batches_tracked_imports(tmp_path):
    """PyTorch < 0.4.1 saved no num_batches_tracked (mmcv's load_checkpoint ignores it): not refused."""
    net, _ = _lgcn_release(tmp_path)
    sd = {k: v for k, v in net.state_dict().items() if k != "bn0.num_batches_tracked"}
    torch.save({"meta": {}, "state_dict": sd}, tmp_path / "old.pth")
    model, _, _, _ = import_release_weights("lgcn", [tmp_path / "old.pth"], {})
    assert torch.equal(model.input_norm.running_var, net.bn0.running_var)


def test_a_meta_the_weights_only_unpickler_refuses_still_imports(tmp_path):
    """Old mmcv metas may hold objects torch's weights-only unpickler refuses: loaded in full then."""
    import datetime

    net, _ = _gcn_v_release(tmp_path)
    torch.save({"meta": {"time": datetime.datetime(2020, 8, 8)}, "state_dict": net.state_dict()}, tmp_path / "m.pth")
    assert read_release_state_dict(tmp_path / "m.pth").keys() == net.state_dict().keys()


# =================================================================================================
# GCN-D and GCN-D + GCN-S
# =================================================================================================

def _proposals(n: int, seed: int) -> Proposals:
    rng = np.random.default_rng(seed)
    members = [np.sort(rng.choice(n, size=s, replace=False)) for s in (3, 7, 5, 12, 4, 9, 6)]
    indptr = np.r_[0, np.cumsum([m.size for m in members])].astype(np.int64)
    return Proposals(indptr, np.concatenate(members).astype(np.int64), np.zeros(len(members), np.int64),
                     np.zeros(len(members), np.int64), [{"k": 5, "th": 0.6}])


def _dsgcn_release(d, stage, seed):
    torch.manual_seed(seed)
    if stage == "det":
        net = DsGCN([16, 8], d, reduce_method="max", stage="det")
    else:
        net = DsGCN([16, 8], d, reduce_method="no_pool", stage="seg", use_random_seed=True)
    return _randomise(net, seed)


@pytest.mark.parametrize("module_prefix", [False, True])
def test_gcn_d_import_equals_the_release_forward_pass_on_proposals(tmp_path, module_prefix):
    net = _dsgcn_release(6, "det", 7)
    path = _mmcv(net, tmp_path / "pretrained_gcn_d_ms1m.pth", module_prefix)
    out = tmp_path / "gcn_d.pt"
    write_imported_checkpoint("gcn_d", [path], out, {"hidden": [16, 8]}, feature_dim=6)
    model, ckpt = load_model(str(out))
    assert ckpt["kind"] == "dsgcn" and ckpt["arch"] == {"dim": 6, "hidden": [16, 8], "dropout": 0.5, "stage": "det"}
    x, nbrs, sims = _knn(40, 6, 5, seed=8)
    props = _proposals(40, 9)
    got = gcn_d.predict_gcn_d(model, x, nbrs, sims, props, torch.device("cpu"), batch_size=3)
    for p in range(len(props)):  # the release one proposal at a time (no padding)
        xb, adj, _ = gcn_d.proposal_batch(x, nbrs, sims, props, np.array([p]))
        with torch.no_grad():
            np.testing.assert_allclose(got[p], net((xb, adj)).view(-1).numpy()[0], atol=ATOL)


def test_gcn_ds_import_equals_the_release_gcn_s_and_iop_gcn_d(tmp_path):
    seg = _dsgcn_release(6, "seg", 10)
    iop = _dsgcn_release(6, "det", 11)
    seg_path = _mmcv(seg, tmp_path / "pretrained_gcn_s_ms1m.pth")
    iop_path = _mmcv(iop, tmp_path / "pretrained_gcn_d_iop_ms1m.pth")
    out = tmp_path / "gcn_ds.pt"
    write_imported_checkpoint("gcn_ds", [seg_path, iop_path], out, {"hidden": [16, 8]}, feature_dim=6)
    model, ckpt = load_model(str(out))
    assert ckpt["kind"] == "gcn_ds" and ckpt["imported_from"] == [seg_path, iop_path]
    x, nbrs, sims = _knn(40, 6, 5, seed=12)
    props = _proposals(40, 13)
    ids = np.arange(len(props))
    iop_scores = gcn_d.predict_gcn_d(model.iop, x, nbrs, sims, props, torch.device("cpu"))
    inlier = gcn_d.predict_gcn_s(model.seg, x, nbrs, sims, props, ids, torch.device("cpu"), seed=3, batch_size=3)
    seeds = gcn_d.seed_positions(props, ids, 3)
    for p in ids:
        xb, adj, _ = gcn_d.proposal_batch(x, nbrs, sims, props, np.array([p]))
        xs, adjs, _ = gcn_d.proposal_batch(x, nbrs, sims, props, np.array([p]), seeds=seeds[p:p + 1])
        with torch.no_grad():
            np.testing.assert_allclose(iop_scores[p], iop((xb, adj)).view(-1).numpy()[0], atol=ATOL)
            np.testing.assert_allclose(inlier[p], seg((xs, adjs)).exp()[0, 1].numpy(), atol=ATOL)


def test_imported_checkpoints_feed_load_dependencies(tmp_path):
    """gcn_ve reads gcn_v.pt's config["k"], gcn_ds reads gcn_d.pt's with_weight and inference_batch:
    an imported checkpoint carries the method's settings (schema defaults filled)."""
    _, path = _gcn_v_release(tmp_path)
    write_imported_checkpoint("gcn_v", [path], tmp_path / "gcn_v.pt", {"hidden": 16, "k": 7})
    models = load_dependencies("gcn_ve", {"gcn_v": str(tmp_path / "gcn_v.pt")})
    assert isinstance(models["gcn_v"], gcn_v.GCNV) and models["gcn_v_settings"]["k"] == 7
    det = _mmcv(_dsgcn_release(6, "det", 1), tmp_path / "d.pth")
    write_imported_checkpoint("gcn_d", [det], tmp_path / "gcn_d.pt", {"hidden": [16, 8]})
    models = load_dependencies("gcn_ds", {"gcn_d": str(tmp_path / "gcn_d.pt")})
    assert models["gcn_d_settings"]["with_weight"] is True and models["gcn_d_settings"]["inference_batch"] == 256


# =================================================================================================
# LCE (LCENet + PCENet)
# =================================================================================================

LCE_DIM, LCE_K, LCE_HEADS, LCE_FF = 8, 4, 4, 16


def _lce_release(tmp_path, seed=14, wrap=None):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lcenet = _randomise(ReleaseLCENet(LCE_DIM, LCE_FF, LCE_K, num_layers=2, nhead=LCE_HEADS), seed)
        pcenet = _randomise(ReleasePCENet(LCE_DIM, LCE_K, LCE_FF, 2, num_layers=2, nhead=LCE_HEADS), seed + 1)
    paths = []
    for net, name in ((lcenet, "LCENet_MS1M.pth"), (pcenet, "PCENet_MS1M.pth")):
        sd = net.state_dict()  # inference.py: model.load_state_dict(torch.load(path)) -> a plain state dict
        torch.save(wrap(sd) if wrap else sd, tmp_path / name)
        paths.append(str(tmp_path / name))
    return lcenet, pcenet, paths


LCE_SETTINGS = {"k": LCE_K, "layers": 2, "heads": LCE_HEADS, "feedforward": LCE_FF}


@pytest.mark.parametrize("wrap", [None, lambda sd: {"state_dict": {"module." + k: v for k, v in sd.items()}}])
def test_lce_import_equals_the_release_lcenet_and_pcenet(tmp_path, wrap):
    lcenet, pcenet, paths = _lce_release(tmp_path, wrap=wrap)
    out = tmp_path / "lce.pt"
    write_imported_checkpoint("lce", paths, out, LCE_SETTINGS, feature_dim=LCE_DIM)
    model, ckpt = load_model(str(out))
    assert ckpt["kind"] == "lce" and "LCE-PCENet" in ckpt["release"]
    assert ckpt["arch"] == {"dim": LCE_DIM, "k": LCE_K, "layers": 2, "heads": LCE_HEADS, "feedforward": LCE_FF,
                            "dropout": 0.1, "pce_hidden": 2048}
    x, nbrs, sims = _knn(30, LCE_DIM, LCE_K, seed=15)
    scores = lce.lce_scores(model, x, nbrs, sims, "cpu", batch_nodes=8)
    xt, nb = torch.from_numpy(x), torch.from_numpy(nbrs.astype(np.int64))
    with torch.no_grad():
        t, a = lce.lcenet_tokens(xt, nb, torch.arange(30))  # datasets.py LCENetDataset: features, features @ features.T
        want = torch.softmax(lcenet((t, a)), dim=-1)[..., 1].numpy()
    np.testing.assert_allclose(scores, want, atol=ATOL)
    src, dst = np.arange(0, 20), nbrs[np.arange(0, 20), 1]
    got = lce.pce_probabilities(model, x, nbrs, src, dst, "cpu", batch_pairs=6)
    with torch.no_grad():
        t, a = lce.pcenet_tokens(xt, nb, torch.from_numpy(src), torch.from_numpy(dst.astype(np.int64)))
        want = torch.softmax(pcenet((t, a)), dim=1)[:, 1].numpy()  # inference.py: softmax(output, dim=1)[:, 1]
    np.testing.assert_allclose(got, want, atol=ATOL)


def test_lce_refuses_swapped_files_and_widths_the_release_cannot_have(tmp_path):
    _, _, paths = _lce_release(tmp_path)
    with pytest.raises(ReleaseWeightsError, match=r"\[LCENet, PCENet\] in this order"):
        import_release_weights("lce", paths[::-1], LCE_SETTINGS)
    with pytest.raises(ReleaseWeightsError, match="not divisible by heads = 5"):
        import_release_weights("lce", paths, {**LCE_SETTINGS, "heads": 5})
    with pytest.raises(ReleaseWeightsError, match=r"LCENet_MS1M.pth \(LCENet\): encoder.layers.0.norm1.weight \(12\): its "
                                                  r"tokens are 12 wide = feature dim 8 \+ k with k = 4; methods.lce.k is 8"):
        import_release_weights("lce", paths, {**LCE_SETTINGS, "k": 8})
    with pytest.raises(ReleaseWeightsError, match=r"(?s)PCENet_MS1M.pth \(PCENet\):.*linear1.weight \(16, 16\) does not "
                                                  r"fit our pcenet.encoder.layers.0.linear1.weight \(32, 16\).*feedforward = 32"):
        import_release_weights("lce", paths, {**LCE_SETTINGS, "feedforward": 32})
    with pytest.raises(ReleaseWeightsError, match=r"(?s)missing release key encoder.layers.2.*layers = 3"):
        import_release_weights("lce", paths, {**LCE_SETTINGS, "layers": 3})
    with pytest.raises(ReleaseWeightsError, match="lce takes two release files"):
        import_release_weights("lce", paths[:1], LCE_SETTINGS)


# =================================================================================================
# Errors: never a partial load
# =================================================================================================

def _gcn_v_sd(tmp_path, **changes):
    net, _ = _gcn_v_release(tmp_path)
    sd = dict(net.state_dict())
    for key, value in changes.items():
        if value is None:
            del sd[key]
        else:
            sd[key] = value
    path = tmp_path / "edited.pth"
    torch.save({"meta": {}, "state_dict": sd}, path)
    return str(path)


def test_missing_and_unmapped_keys_are_refused_with_file_and_keys(tmp_path):
    path = _gcn_v_sd(tmp_path, **{"classifier.2.bias": None, "conv2.weight": torch.zeros(32, 16)})
    out = tmp_path / "gcn_v.pt"
    with pytest.raises(ReleaseWeightsError) as err:
        write_imported_checkpoint("gcn_v", [path], out, {"hidden": 16})
    msg = str(err.value)
    assert path in msg and "(GCN-V)" in msg and "nothing was loaded" in msg
    assert "missing release key classifier.2.bias (for our head.2.bias (1))" in msg
    assert "unmapped release key conv2.weight (32, 16)" in msg
    assert not out.exists()


def test_shapes_other_than_the_settings_are_refused_with_key_and_shapes(tmp_path):
    _, path = _gcn_v_release(tmp_path)  # feature dim 8, nhid 16
    with pytest.raises(ReleaseWeightsError) as err:
        import_release_weights("gcn_v", [path], {"hidden": 512})  # the MS1M default
    msg = str(err.value)
    assert "conv1.weight (16, 16) transposed does not fit our conv.weight (512, 16)" in msg
    assert "classifier.1.weight (16) does not fit our head.1.weight (512)" in msg
    assert "methods.gcn_v.hidden = 512 (release: nhid 512)" in msg
    with pytest.raises(ReleaseWeightsError, match=r"pretrained_gcn_v_ms1m.pth \(GCN-V\): conv1.weight \(16, 16\) is for "
                                                  r"features of dimension 8, the dataset's feature_dim is 256"):
        import_release_weights("gcn_v", [path], {"hidden": 16}, feature_dim=256)
    with pytest.raises(ReleaseWeightsError, match="the dataset's feature_dim is 256"):  # as the workflow passes it
        import_release_weights("gcn_v", [path], {"hidden": 16, "feature_dim": 256})


def test_a_regressor_gcn_e_is_refused_with_the_reason(tmp_path):
    net = GCN_E(feature_dim=16, nhid=16, nclass=1)  # the release's regressor=True config
    path = _mmcv(net, tmp_path / "gcn_e_reg.pth")
    with pytest.raises(ReleaseWeightsError, match=r"(?s)classifier.2.weight \(1, 8\) does not fit our head.2.weight "
                                                  r"\(2, 8\).*regressor GCN-E \(nclass 1\) has no counterpart"):
        import_release_weights("gcn_ve", [path], {"hidden": 16})


def test_files_that_are_not_release_checkpoints_are_refused(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("this is not a checkpoint\n")
    with pytest.raises(ReleaseWeightsError, match=rf"{text}: not a torch checkpoint \("):
        import_release_weights("gcn_v", [text], {})
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ReleaseWeightsError, match="list.pth: not a torch checkpoint of a state dict"):
        read_release_state_dict(tmp_path / "list.pth")
    with pytest.raises(ReleaseWeightsError, match="absent.pth: no such file"):
        import_release_weights("gcn_v", [tmp_path / "absent.pth"], {})
    ours = tmp_path / "ours.pt"
    save_model(str(ours), gcn_v.GCNV(8, 16), "gcn_v", {"dim": 8, "hidden": 16}, {}, [])
    with pytest.raises(ReleaseWeightsError, match="already a facecluster checkpoint"):
        import_release_weights("gcn_v", [ours], {})
    with pytest.raises(ReleaseWeightsError, match="no release importer for 'knn_cc'"):
        import_release_weights("knn_cc", [ours], {})


def test_wrong_files_for_a_method_are_refused(tmp_path):
    seg = _mmcv(_dsgcn_release(6, "seg", 1), tmp_path / "s.pth")
    det = _mmcv(_dsgcn_release(6, "det", 2), tmp_path / "d.pth")
    with pytest.raises(ReleaseWeightsError, match="a GCN-S file"):
        import_release_weights("gcn_d", [seg], {"hidden": [16, 8]})
    with pytest.raises(ReleaseWeightsError, match=r"\[GCN-S, GCN-D \(IoP\)\] in this order"):
        import_release_weights("gcn_ds", [det, seg], {"hidden": [16, 8]})
    with pytest.raises(ReleaseWeightsError, match="gcn_ds takes two release files"):
        import_release_weights("gcn_ds", [seg], {"hidden": [16, 8]})
    with pytest.raises(ReleaseWeightsError, match="gcn_d takes one release file"):
        import_release_weights("gcn_d", [det, det], {"hidden": [16, 8]})
    # a GCN-D file given as GCN-V: every key unmapped, none of ours filled
    with pytest.raises(ReleaseWeightsError, match=r"(?s)missing release key conv1.weight.*layers.0.gc.weight \(6, 16\)"):
        import_release_weights("gcn_v", [det], {"hidden": 16})
    # hidden widths other than the file's layers
    with pytest.raises(ReleaseWeightsError, match=r"(?s)unmapped release key layers.1.gc.weight.*hidden = \[16\]"):
        import_release_weights("gcn_d", [det], {"hidden": [16]})


def test_every_method_with_trained_weights_has_an_importer():
    assert set(RELEASE_IMPORTERS) == {"gcn_v", "gcn_ve", "lgcn", "gcn_d", "gcn_ds", "lce"}


def test_command_line(tmp_path, capsys):
    _, path = _gcn_v_release(tmp_path)
    out = tmp_path / "cli.pt"
    assert main(["gcn_v", str(out), path, "--feature-dim", "8"]) == 2  # hidden: the schema's 512, the file's 16
    assert "does not fit our conv.weight (512, 16)" in capsys.readouterr().err and not out.exists()
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("name: mine\nformat: npy\nfeature_dim: 8\nsplits: {test: {features: f.npy}}\n"
                   "methods: {gcn_v: {hidden: 16, k: 9}}\n")
    assert main(["gcn_v", str(out), path, "--dataset", str(cfg)]) == 0
    model, ckpt = load_model(str(out))
    assert ckpt["config"]["k"] == 9 and ckpt["arch"]["hidden"] == 16 and ckpt["imported_from"] == [path]
