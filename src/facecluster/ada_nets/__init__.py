"""Ada-NETS (ICLR 2022), stages 2-7: structure space, max-Q indices, the adaptive filter, the
adaptive adjacency, the GCN, and the diagnostics of its neighbourhoods."""
