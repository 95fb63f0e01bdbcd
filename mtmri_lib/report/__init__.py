"""What only the book needs, as data: the notebooks show these objects, they compute nothing
themselves.

- `runner`: executes the notebooks with papermill and builds the book (``mtmri book``).
- `provenance`: the record every executed notebook shows and keeps.
- `overview`: the profiles side by side.
- `tables`: the article's Tables 2-7 as `TableSpec` and `ResultTable`.
- `claims`: the article's 21 claims and the check of each on the built tables.
- `paper_vs_code`: what the differences between the text and the released code change.
- `figures`: the data of Figures 1 and 2 and their captions.
- `images`: smaller PNG pictures for the static pages.
- `views`: the smaller tables of the chapters (data, artefacts, losses, search, training).
"""
