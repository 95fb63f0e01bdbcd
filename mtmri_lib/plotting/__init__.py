"""Every picture of the book, drawn one way.

`base` holds the one figure convention: figures that pyplot never owns (so a cell's last
value shows them once, and nothing leaks between cells), the `image_panel`,
`kspace_panel` and `difference_panel` helpers and the one k-space display. One module per
chapter draws on it: `data`, `artefacts`, `model` (the network and the loss), `training`,
`evaluation`, `results` (Figures 1 and 2, residual maps) and `widgets` (the explorers).
What the figures show is computed below (`mtmri_lib.report` and the core); these modules
only draw.
"""
