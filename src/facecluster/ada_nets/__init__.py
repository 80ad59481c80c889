"""Ada-NETS (ICLR 2022), stages 2-6: structure space, max-Q indices, the adaptive filter, the
adaptive adjacency, the GCN, and the diagnostics of its neighbourhoods (stage 7, threshold linkage
of the embeddings, is graph.ops.threshold_clusters with evaluation.search)."""
