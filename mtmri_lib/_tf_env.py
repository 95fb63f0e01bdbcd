"""Imported before Keras and TensorFlow by the model modules.

TensorFlow's C++ start-up messages (CPU features, absl, XLA service) are informational and
would otherwise land in every notebook's output. A level the user has set wins. It imports
neither Keras nor TensorFlow: on the JAX and PyTorch backends (no TensorFlow installed) it
only sets a variable that nothing reads.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
