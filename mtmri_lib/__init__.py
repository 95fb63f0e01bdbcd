"""mtmri: the executable companion of Simko et al. (2023), BMC Medical Imaging 23:148.

The core (``fourier``, ``artefacts``) needs only numpy, scipy, gstools and finufft; the
model, training, baselines and book parts come with the package's extras.
"""

from __future__ import annotations

__version__ = "0.1.0"
