"""Graph construction and operations shared by every stage and method: exact kNN search and the
one home of components, thresholded edges, adjacency building, propagation, symmetrisation."""
