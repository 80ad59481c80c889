"""The comparison methods: classic baselines on the kNN graph (classic, cdp), the learned methods
(gcn_v, gcn_e, lgcn, lce; pivot_subgraph is the network L-GCN and GCN-E share), and the two
runners the workflow calls (graph_methods, learned). No method module imports another."""
