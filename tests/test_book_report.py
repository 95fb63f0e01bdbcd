"""The book's report helpers: folded provenance, the claims overview, Table 2 for the
column, the architecture diagram, and one copy of each page script."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mtmri_lib.report.claims import (
    CLAIMS,
    NOT_RESOLVED,
    Verdict,
    claims_overview_html,
    table_anchor,
    verdict_counts,
)
from mtmri_lib.report.provenance import provenance_html
from mtmri_lib.report.sphinx_ext import unique_scripts


def test_provenance_is_a_folded_html_table_with_escaped_values():
    record = {
        "profile": "cpu",
        "seed": 0,
        "commit": "0123456789abcdef",
        "data_dir": "<none> & more",
        "machine": {"cpus": 2},
        "packages": {"numpy": "2.0"},
    }
    html = provenance_html(record)
    assert html.startswith('<details class="mtmri-provenance"><summary>Provenance of this page')
    assert "profile cpu, seed 0, commit 0123456789ab</summary>" in html
    assert "<tr><th>machine: cpus</th><td><code>2</code></td></tr>" in html
    assert "<tr><th>package: numpy</th>" in html
    assert "&lt;none&gt; &amp; more" in html and "<none>" not in html
    assert "|---|" not in html


def test_the_claims_overview_counts_links_and_folds_the_reasons():
    checked = [(claim, Verdict(NOT_RESOLVED, f"reason <{claim.id}>")) for claim in CLAIMS[:3]]
    html = claims_overview_html(checked, page="results.html")
    assert f"{len(checked)} claims of the article checked on this run" in html
    assert f"<strong>{len(checked)}</strong> not resolved" in html
    assert verdict_counts(checked) == {"held": 0, "not held": 0, "not resolved": 3}
    assert html.count("<tr class=") == 3
    assert html.count('<details class="mtmri-claim">') == 3
    first = CLAIMS[0]
    for table in first.tables:
        assert f'href="results.html#{table_anchor(table)}">Table {table}</a>' in html
    assert f"reason &lt;{first.id}&gt;" in html
    # The count comes before the rows.
    assert html.index("mtmri-verdict-count") < html.index("<tbody>")
    with pytest.raises(ValueError, match="no claims"):
        claims_overview_html([])


def test_table2_compact_has_one_column_per_model_and_an_html_caption():
    from mtmri_lib.report.views import table2_compact

    columns = pd.MultiIndex.from_tuples(
        [("MT", "article"), ("MT", "this run"), ("Bias", "article"), ("Bias", "this run")],
        names=["model", "source"],
    )
    table = pd.DataFrame(
        [["RMSprop", "RMSprop", "RMSprop", "not searched"], ["unknown", "1e-3", "*", "*"]],
        index=["optimizer", "learning rate"],
        columns=columns,
    )
    table.attrs["caption"] = "Table 2. '*': not optimised (no L_C)."
    styled = table2_compact(table)
    assert list(styled.data.columns) == ["MT", "Bias"]
    assert styled.data.loc["optimizer", "Bias"] == "RMSprop | –"
    assert styled.data.loc["learning rate", "MT"] == "? | 1e-3"
    html = styled.to_html()
    assert re.search(r"<caption>Table 2\. &#x27;\*&#x27;: not optimised", html)


def test_page_scripts_are_kept_once_whatever_their_empty_name():
    from sphinx.builders.html._assets import _JavaScript

    thebe = "const THEBE_JS_URL = 1"
    scripts = [
        _JavaScript(None, body=thebe),
        "a.js",
        _JavaScript("", body=thebe),
        _JavaScript("", body="other"),
        "a.js",
    ]
    kept = unique_scripts(scripts)
    assert len(kept) == 3
    assert kept[0] is scripts[0] and kept[1] == "a.js" and kept[2] is scripts[3]


def test_the_architecture_is_drawn_from_the_built_model():
    from mtmri_lib.models import build_model, count_parameters
    from mtmri_lib.plotting.model import architecture_parts, plot_architecture

    model = build_model("smoke", seed=0)
    parts = architecture_parts(model)
    assert {row["branch"] for row in parts} == {"image", "kspace"}
    assert sum(row["trainable"] for row in parts) == count_parameters("smoke").trainable
    stem = next(r for r in parts if r["branch"] == "image" and r["part"] == "stem")
    size = model.input_shape[1]
    assert stem["height"] == size
    deepest = min(r["height"] for r in parts)
    assert deepest < size
    fig = plot_architecture(model)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "image branch, on u" in texts and "k-space branch, on fft2c(u)" in texts
    assert fig.get_size_inches()[0] <= 7.8
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 9
    assert np.isfinite(fig.get_size_inches()).all()
    with pytest.raises(ValueError, match="not a build_model network"):
        import keras

        inputs = keras.Input((8, 8, 1))
        plot_architecture(keras.Model(inputs, keras.layers.Conv2D(1, 3, name="plain")(inputs)))


def test_figure_sizes_are_scaled_down_to_the_column_together():
    from mtmri_lib.plotting.layout import COLUMN_INCHES, column_size

    assert column_size(2 * COLUMN_INCHES, 6.0) == pytest.approx((COLUMN_INCHES, 3.0))
    assert column_size(5.0, 4.0) == (5.0, 4.0)
    with pytest.raises(ValueError, match="must be positive"):
        column_size(0, 3)
