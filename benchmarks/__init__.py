"""Speed measurements: ratios against hand-written numpy (and PyTorch when installed)."""
