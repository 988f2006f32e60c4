"""The Patient page's slide workspace: deep-zoom viewer with overlays, QuPath exchange, static heatmap, top patches.

Streamlit only; the layers, tiles, GeoJSON and patch questions are :mod:`memamba_core.viewer`'s.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

import _cache
import _state
import _widgets
from components.slide_viewer import slide_viewer, tile_server, viewer_layer
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.slides import attention_keys
from memamba_core.viewer import PatchLayout, annotation_report, ask_patch, slide_geojson, slide_notes, workspace_layers
from memamba_core.viz import COLORMAPS, heatmap_figure, read_patch, read_patches, selected_patch, thumbnail_scale, top_k


def show(ctx, out, bag, case_id: str) -> None:
    """The section for ``case_id``: ``out`` its model output (attention, transport plan), ``bag`` its patches (or None)."""
    st.subheader("Slide and attention")
    pkeys = attention_keys(out.attention)
    slide_path, sp = None, None
    if bag is None or bag.coords is None or not pkeys:
        why = ("this cohort has no patch features for the patient (genomics only)" if bag is None else
               "the patch features have no coordinates (.pt without .h5)" if bag.coords is None else
               "this model does not use pathology")
        st.info(f"No heatmap: {why}. The risk above comes from the modalities that are present.")
    else:
        _, slide_path, sl, sp, _ = _widgets.slide_choice(bag, ctx.cohort, key="slide_pos")
    if sp is not None:
        for n in slide_notes(sl):
            st.warning(md(n))
        group_names = list(ctx.loaded.groups.names) if ctx.loaded.groups is not None else []
        plan = out.transport_plan
        c = st.columns(6 if plan is not None else 5)
        key = c[0].selectbox("Expert / branch", pkeys, key="att_key")
        cmap = c[1].selectbox("Colour map", list(COLORMAPS), key="att_cmap")
        scaling = c[2].radio("Scaling", ["percentile", "raw"], horizontal=True, key="att_scaling")
        opacity = c[3].slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="att_opacity")
        k = c[4].slider("Top-k patches", 1, 24, 8, key="att_topk")
        group = None
        if plan is not None:
            names = group_names or [f"group {j}" for j in range(plan.shape[1])]
            g = c[5].selectbox("OT group", ["(all groups)"] + names, key="att_ot_group",
                               help="the OT layer colours each patch by the genomic group it sends most mass to")
            group = None if g == "(all groups)" else names.index(g)
        layout = PatchLayout.from_slide_patches(sp)
        viewer_box = st.container()
        d1, d2 = st.columns(2)
        d1.download_button(f"Download {md(sp.slide_id)} as QuPath GeoJSON",
                           partial(slide_geojson, layout, out.attention, key, plan, group_names, k),
                           f"{sp.slide_id}.geojson", "application/geo+json", key="dl_geojson",
                           help="attention per patch (detections), top-k and OT groups (annotations), level-0 pixels; "
                                "in QuPath: File → Import objects on this slide")
        upload = d2.file_uploader("Import QuPath annotations (GeoJSON) of this slide", type=["geojson", "json"],
                                  key=f"ann_{case_id}_{sp.slide_id}",
                                  help="e.g. a tumour region drawn in QuPath (File → Export objects as GeoJSON)")
        ann = None
        if upload is not None:
            try:
                ann = annotation_report(layout, out.attention[key], upload.getvalue(), upload.name, sl.dimensions)
            except InputError as err:
                d2.error(md(err), icon="⚠️")
        with viewer_box:
            srv = tile_server()
            try:
                tok = srv.service.register_cohort_slide(ctx.cohort, sp.slide_id)
                specs = workspace_layers(layout, out.attention, key, scaling=scaling, cmap=cmap, k=k, opacity=opacity,
                                         plan=plan, group=group, annotations=ann.layer if ann else None)
            except InputError as err:
                _state.show_error(err)
                tok = None
            if tok is not None:
                left, right = st.columns([3, 1])
                with left:
                    click = slide_viewer(srv.slide_url(tok), [viewer_layer(srv, tok, s.layer, opacity=s.opacity,
                                                                           visible=s.visible, name=s.name) for s in specs],
                                         height=560, key=f"viewer_{case_id}_{sp.slide_id}")
                    st.caption("Scroll to zoom down to full resolution, drag to pan; the panel switches each layer and "
                               "sets its opacity. Click a patch to ask what the model says about it.")
                with right:
                    try:
                        rep = None if not click else ask_patch(layout, (click["x"], click["y"]), out.attention, plan,
                                                               group_names, sl)
                    except InputError as err:
                        _state.show_error(err)
                        rep = click = None
                    if rep is None:
                        st.caption("Click a patch on the slide for its attention in every branch, its rank, its OT group "
                                   "and the patch at full resolution." if not click else "No patch under that point.")
                    else:
                        st.markdown(f"**{md(rep.slide_id)}: patch {rep.bag_row}**")
                        st.caption(f"at level 0 ({rep.xy0[0]}, {rep.xy0[1]}), side {rep.side0:.0f} px")
                        st.dataframe(rep.rows(), hide_index=True, key="ask_scores")
                        if rep.group is not None:
                            st.caption(f"sends most mass to {md(rep.group)} ({rep.group_mass:.2f})")
                        st.image(rep.image, caption="the patch at full resolution", width="stretch")
        if ann is not None:
            st.caption(f"{md(ann.source)}: {ann.n_annotations} annotations; attention ({md(key)}) inside each "
                       f"annotated class "
                       f"(AUROC: attention finds the region, 0.5 = chance)")
            for n in ann.skipped:
                st.caption(md(n))
            st.dataframe(ann.table, hide_index=True, key="ann_stats")

        st.subheader("Static heatmap (the report's image)")
        scores = sp.values_of(out.attention[key])
        thumb = _cache.thumbnail(str(slide_path))
        scale = thumbnail_scale(thumb, sl.dimensions)
        fig, _ = heatmap_figure(thumb, sp.coords, scores, sp.patch_size0, scale, opacity=opacity, colormap=cmap,
                                       scaling=scaling, title=f"{sp.slide_id} — {key} ({scaling})")
        left, right = st.columns([3, 1])
        with left:
            ev = st.plotly_chart(fig, key="heatmap", on_select="rerun", selection_mode=("points", "box"))
        with right:
            i = selected_patch(ev, len(scores))
            if i is None:
                st.caption("Click a patch (or box-select) on the heatmap to read it from the slide at full resolution.")
            else:
                x, y = (int(v) for v in sp.coords[i])
                st.image(read_patch(sl, sp.coords[i], int(sp.patch_size0)), caption=f"patch {i} at level 0 (x={x}, y={y}), "
                         f"score {scores[i]:.4g}", width="stretch")
        st.subheader(f"Top {k} patches by {md(key)}")
        idx = top_k(scores, k)
        imgs = read_patches(sl, sp.coords, idx, int(sp.patch_size0))
        gallery = [(im, f"#{r + 1} · {scores[j]:.3g}") for r, (im, j) in enumerate(zip(imgs, idx))]
        cols = st.columns(min(k, 8))
        for n, (im, cap) in enumerate(gallery):
            cols[n % len(cols)].image(im, caption=cap, width="stretch")
