"""glassbox: train small dense networks on MNIST and look inside them."""

import os

# TensorFlow prints several lines of C++ start-up notes (oneDNN, CUDA not found) on
# import; hide them unless the user asked for a log level.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
