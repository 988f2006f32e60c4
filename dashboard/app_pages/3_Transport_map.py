"""Transport map: how patches send their mass to genomic groups (the Synergistic Expert's OT plan)."""

import numpy as np
import streamlit as st

import _cache
import _state
import _widgets
from components.slide_viewer import slide_viewer, tile_server, viewer_layer
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.slides import to_numpy
from memamba_core.viewer import PatchLayout, slide_notes, transport_layers
from memamba_core.viz import (dominant_group, group_colours, group_legend_figure, mass_figure, slide_points_figure,
                              thumbnail_scale, transport_matrix_figure)

st.title("Transport map")
st.caption("Each patch token sends its unit mass to the genomic group tokens it is most similar to (optimal transport); "
           "the aligned pathology token of a group is the mass-weighted mean of the patches sent to it.")
ctx = _state.require(complete=True)
case_id = _state.patient_picker(list(ctx.preds["case_id"]))
try:
    out, bag = _state.patient_prediction(case_id)
except InputError as err:
    _state.show_error(err)
    st.stop()
if out.transport_plan is None:
    cfg = ctx.loaded.config
    why = ("the model runs with OT off" if cfg.ot == "off" else
           f"the model ({cfg.model}, modalities {cfg.modalities}) has no synergistic expert" if cfg.modalities != "both"
           or cfg.model != "memamba" else "this patient lacks pathology or genomics")
    st.info(f"No transport plan for {md(case_id)}: {md(why)}. The plan needs both a slide's patches and genomic groups.")
    st.stop()

plan = to_numpy(out.transport_plan)
names = list(ctx.loaded.groups.names) if ctx.loaded.groups is not None else [f"group {j}" for j in range(plan.shape[1])]
g = st.selectbox("Highlight a genomic group", ["(all groups)"] + names, key="tm_group")
hi = None if g == "(all groups)" else names.index(g)
dom = dominant_group(plan)

left, right = st.columns([2, 3])
with left:
    st.plotly_chart(mass_figure(plan, names, hi), key="tm_mass")
    rows = st.slider("Matrix rows (patches are averaged above this)", 20, 400, 200, 20, key="tm_rows")
    st.plotly_chart(transport_matrix_figure(plan, names, rows, hi), key="tm_matrix")
with right:
    sp = None
    if bag is not None and bag.coords is not None:
        pos, path, sl, sp, note = _widgets.slide_choice(bag, ctx.cohort, key="tm_slide")
        if note:
            st.caption("The plan is shown as a matrix only.")
    else:
        st.info("No patch coordinates for this patient: the plan is shown as a matrix only.")
    if sp is not None:
        d = sp.values_of(dom).astype(int)
        colours = group_colours(len(names))[d]
        alpha = np.where(d == hi, 0.85, 0.08) if hi is not None else 0.6
        mass = sp.values_of(plan)[np.arange(len(sp)), d]
        text = [f"patch {i} → {names[j]} (mass {m:.2f})" for i, j, m in zip(sp.index, d, mass)]
        thumb = _cache.thumbnail(str(path))
        title = f"{sp.slide_id}: patches coloured by the group they send most mass to" + (f" — {g} highlighted" if hi is not None else "")
        st.plotly_chart(slide_points_figure(thumb, sp.coords, colours, sp.patch_size0, thumbnail_scale(thumb, sl.dimensions),
                                            alpha=alpha, text=text, title=title), key="tm_slide_map")
        st.plotly_chart(group_legend_figure(names, hi), key="tm_legend")
        if hi is not None:
            st.caption(f"{int((d == hi).sum())} of {len(d)} patches on this slide send most of their mass to {md(g)}.")

if sp is not None:
    st.subheader("The plan on the slide (deep zoom)")
    for n in slide_notes(sl):
        st.warning(md(n))
    srv = tile_server()
    try:
        tok = srv.service.register_cohort_slide(ctx.cohort, sp.slide_id)
        specs = transport_layers(PatchLayout.from_slide_patches(sp), plan, hi)
    except InputError as err:
        _state.show_error(err)
    else:
        slide_viewer(srv.slide_url(tok), [viewer_layer(srv, tok, s.layer, opacity=s.opacity, visible=s.visible,
                                                       name=s.name) for s in specs],
                     height=480, key=f"tm_viewer_{case_id}_{sp.slide_id}")
        st.caption("Patches coloured by the group they send most mass to" + (f" (only {md(g)})" if hi is not None else "")
                   + "; scroll to zoom down to full resolution, drag to pan.")
