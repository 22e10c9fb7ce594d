"""Transfer: probes trained on one stimulus set, tested on another with the same target."""

from __future__ import annotations

import streamlit as st

from core.present import plots
from core.present import transfer as views
from core.present.plots import METRIC_LABELS
from ui import figure, state
from ui.page import guarded, need_components, results_page

selection, index = results_page(
    "Transfer between sets",
    "A probe trained on one set and tested on another that has the same target (e.g. "
    "'related' from pairs to buried), against each set's own curve; and, for one "
    "component, every train layer × test layer.",
)
model, pooling = selection.model, selection.pooling

stored = guarded(views.transfer_pairs, None, model=model, pooling=pooling)
if stored.empty:
    st.info(
        f"No transfer stored for {model} with pooling {pooling}. Compute one with "
        f"`python -m core transfer --model {model} --train pairs --test buried "
        f"--pooling {pooling}` (the sets' activations are reused from the cache)."
    )
    st.stop()
combos = [tuple(r) for r in stored.itertuples(index=False)]
saved = state.page_param("transfer", "")
options = [" · ".join((f"{a} → {b}", t)) for a, b, t in combos]
choice = st.selectbox(
    "Transfer",
    options,
    index=options.index(saved) if saved in options else 0,
    help="train set → test set · target",
)
state.set_page_param("transfer", choice)
train_set, test_set, target = combos[options.index(choice)]
components = list(state.components(key="transfer_comp"))
need_components(components)
x = st.radio(
    "x axis",
    ["layer", "relative_depth"],
    format_func=plots.AXIS_LABELS.get,
    horizontal=True,
    key="transfer_x",
)

# the transfer shown: its curves and its train layer × test layer matrix
transfer = views.Transfer(model, train_set, test_set, pooling, target)
data = guarded(views.transfer_curves, None, transfer, components=components)
metric = data["metric"].iloc[0]
fig = plots.transfer_curves(
    data,
    x=x,
    metric=metric,
    title=f"{model} · pooling {pooling}: {target}, {train_set} → {test_set}",
    caption=f"{train_set} → {test_set}: trained on {train_set}, tested on {test_set} at the "
    "same layer; a test stimulus whose group (word pair) is in the training set is predicted "
    "by the fold model that held that group out. Within: each set's own grouped CV. Mean "
    f"over 6 folds ± SE; dotted: chance. {METRIC_LABELS.get(metric, metric)}.",
    presentation=selection.presentation,
)
figure.show(fig, data, name=f"{model}-{train_set}-to-{test_set}-{target}", key="transfer")

matrix, component = guarded(views.transfer_matrix, None, transfer)
if component is None:
    st.info("No train layer × test layer matrix stored for this transfer.")
else:
    chance = float(data["chance"].dropna().median()) if data["chance"].notna().any() else 0.0
    fig = plots.heatmap(
        matrix,
        title=f"{model} · {component}: {target}, trained on {train_set} (rows) → tested on "
        f"{test_set} (columns)",
        caption="Each cell: a probe trained at the row's layer of the training set, tested "
        "at the column's layer of the test set (mean over folds). A bright cell below the "
        "diagonal: the signal read at one layer of the training set is found later in the "
        "test set.",
        zmin=chance,
        zmax=1.0,
        colorscale="Viridis",
        x_label=f"test layer ({test_set})",
        y_label=f"train layer ({train_set})",
        colorbar_title=METRIC_LABELS.get(metric, metric),
        presentation=selection.presentation,
    )
    long = matrix.stack().rename("score").reset_index()
    figure.show(fig, long, name=f"{model}-{train_set}-to-{test_set}-{target}-matrix", key="tmatrix")
