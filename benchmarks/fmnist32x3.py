#!/usr/bin/python3
# CIFAR-shaped real images for the zoo-network benchmarks: the first N Fashion-MNIST training
# images (data/train.h5) zero-padded to 32x32 and repeated to 3 channels, written as a rampart
# dataset (HDF5 /images uint8 [N,3,32,32], /labels, attribute classes).
#   benchmarks/fmnist32x3.py OUT.h5 N
import sys

import h5py
import numpy as np

out, n = sys.argv[1], int(sys.argv[2])
with h5py.File("data/train.h5", "r") as f:
    x, y = f["images"][:n], f["labels"][:n]
x = np.repeat(np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))), 3, axis=1)
with h5py.File(out, "w") as f:
    f["images"], f["labels"] = x, y
    f.attrs["classes"], f.attrs["source"] = np.int64(10), "Fashion-MNIST padded to 32x32, 3 channels"
