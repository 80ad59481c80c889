"""Data in: the release formats of every dataset (features, labels, kNN files), checks, I/O of the
artifacts, and the embedded synthetic benchmark."""
