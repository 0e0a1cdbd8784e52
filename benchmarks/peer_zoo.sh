#!/usr/bin/env bash
# rampart against the newest PyTorch on a residual network of the zoo (default PreActResNet-18,
# PGD-10, batch 32, CIFAR-shaped real images): benchmarks/peer_compare.sh with MODEL set.
#   benchmarks/peer_zoo.sh [BUILD_DIR] [ROUNDS] [STEPS]     (env as peer_compare.sh)
set -euo pipefail
MODEL=${MODEL:-preact-resnet18} exec "$(dirname "$0")/peer_compare.sh" "$@"
