"""Patient: who scored them, calibrated survival with intervals, risk group, genomics, slide and attention, PDF report."""

from functools import partial

import streamlit as st

import _cache
import _state
import _widgets
from memamba_core.app import calibration_stamp, parse_horizons, run_dir_of, survival_matrix
from memamba_core.app.text import md, md_join
from memamba_core.errors import InputError
from memamba_core.slides import attention_keys, to_numpy
from memamba_core.train.predict import skipped_note
from memamba_core.viz import (COLORMAPS, contributions_figure, expert_weights_figure, heatmap_figure, read_patch, read_patches,
                              selected_patch, survival_curve_figure, thumbnail_scale, top_k)
from memamba_core.viz.prediction import prediction_figure

st.title("Patient")
ctx = _state.require(complete=True)
if note := skipped_note(ctx.preds):
    st.warning(note, icon="⚠️")
preds = ctx.preds.set_index("case_id")
case_id = _state.patient_picker(list(preds.index), help="Patients the model can score (sorted as in the cohort).")
try:
    out, bag = _state.patient_prediction(case_id)
except InputError as err:
    _state.show_error(err)
    st.stop()
p = ctx.cohort.patient(case_id)
st.caption(f"Patient {md(case_id)} · " + md_join(f"{k} {v}" for k, v in p.clinical.items() if v is not None))

cohort_path, cohort_stamp = _state.cohort_path(), _state.selection().cohort_stamp
run_dir = str(run_dir_of(_state.model_path()))
cal_stamp = calibration_stamp(run_dir)
maps, no_cal = _cache.calibration(run_dir, cal_stamp)
clin = None
if maps is None:
    st.warning(f"No calibrated survival probabilities: {no_cal}", icon="⚠️")
    if st.button("Calibrate this run now (fits each fold's map on its training patients; about a minute)", key="calibrate_run"):
        from memamba_core.train.scoring import calibrate_and_store

        try:
            with st.spinner("Calibrating the run's fold models…"):
                calibrate_and_store(run_dir, ctx.cohort)
        except InputError as err:
            _state.show_error(err)
        else:
            st.rerun()
else:
    text = st.text_input("Horizons (months)", "", key="clin_horizons",
                         placeholder="automatic (1, 3, 5 years, or yearly inside the follow-up); e.g. 6, 12, 24", help="Survival horizons in months, separated by commas; empty: 1, 3 and 5 years where the "
                         "calibration's follow-up allows, else yearly horizons inside it.")
    try:
        horizons = parse_horizons(text)
        clin = _cache.patient_clinical(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id, horizons)
    except InputError as err:
        _state.show_error(err)
        if text.strip():
            st.info("Showing the automatic horizons instead.")
            try:
                clin = _cache.patient_clinical(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id, None)
            except InputError as err2:
                _state.show_error(err2)

if clin is not None:
    pred = clin.prediction
    st.markdown(f"**{clin.headline}.**")
    first_h = min(pred.horizons)
    iv = pred.horizons[first_h]
    m = st.columns(4)
    m[0].metric("Risk group", pred.risk_group, help="Low / intermediate / high: the patient's percentile among the training "
                "patients' honest scores, cut at the fixed tertiles 33⅓ and 66⅔ — never at the patients on screen.")
    m[1].metric("Percentile", f"{pred.percentile:.0f}th", help="Among the calibration patients (training patients of the "
                "scoring fold, each scored by a model that did not train on them); higher = higher risk.")
    m[2].metric(f"Survival at {first_h:g} months", f"{100 * iv.value:.0f} %",
                help=f"Interval {100 * iv.low:.0f}–{100 * iv.high:.0f} %: {pred.interval_kind}.")
    m[3].metric("Median survival", clin.median_short(), help=f"Median with its interval: {clin.median_text()}.")
    if clin.missing:
        st.info(f"Missing modality: {', '.join(clin.missing)}. The same model scored the patient from what is present. "
                + (clin.missing_note or "The run has no ablation table to say how much accuracy that costs."))
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(prediction_figure(pred, _cache.cohort_km(cohort_path, cohort_stamp),
                                          title="Calibrated survival (monthly) against the cohort's Kaplan–Meier curve"),
                        key="clin_plot")
    with right:
        st.dataframe(clin.horizon_rows(), hide_index=True, key="horizons_table")
        st.caption(f"Median survival: {clin.median_text()}. Intervals and band: {pred.interval_kind}. "
                   f"Horizons up to {pred.follow_up:.0f} months, the follow-up the calibration supports"
                   + (f" ({', '.join(f'{h:g}' for h in pred.skipped_horizons)} months lie beyond it)." if pred.skipped_horizons else ".")
                   + f" Calibration: Cox/Breslow on the model's scale-free score, fitted on {clin.calibration}.")
        st.caption(f"Observed: {clin.observed[0]:.1f} months, {'event' if clin.observed[1] else 'censored'}.")

with st.expander("Details: raw model risk and the model's own step curve"):
    st.caption("Raw risk = −Σ S_k in model units (higher = earlier event): comparable within one fold model only, "
               "not a probability.")
    if clin is not None:
        st.dataframe(clin.risk_rows(), hide_index=True, key="risk_table")
        if clin.n_models > 1:
            st.caption(f"Spread across the {clin.n_models} fold models: raw risk {clin.spread[0]:.3f} to {clin.spread[1]:.3f}.")
    else:
        st.metric("Raw risk (chosen checkpoint)", f"{preds.loc[case_id, 'risk']:.3f}")
    t_end = float(preds["survival_months"].max())
    st.plotly_chart(survival_curve_figure(ctx.loaded.cuts, to_numpy(out.survival), survival_matrix(preds), t_end),
                    key="surv_plot")

if out.expert_weights or attention_keys(out.attention, "genomics/"):
    left, right = st.columns(2)
    with left:
        if out.expert_weights:
            st.plotly_chart(expert_weights_figure(out.expert_weights), key="expert_plot")
    with right:
        gkeys = attention_keys(out.attention, "genomics/")
        if gkeys and ctx.loaded.groups is not None:
            gk = st.selectbox("Genomic attention", gkeys, key="gen_key")
            a = to_numpy(out.attention[gk])
            share = a / a.sum() if a.sum() > 0 else a
            st.plotly_chart(contributions_figure(ctx.loaded.groups.names, share, value_label="share of attention"),
                            key="contrib_plot")
else:
    st.info("No genomic attention: this model or patient has no genomics.")

# -- Slide and attention: the deep-zoom workspace (memamba_core.viewer), QuPath exchange, the static heatmap -------
from components.slide_viewer import slide_viewer, tile_server, viewer_layer  # noqa: E402 (this section's own)
from memamba_core.viewer import (PatchLayout, annotation_report, ask_patch, slide_geojson,  # noqa: E402
                                 slide_notes, workspace_layers)

st.subheader("Slide and attention")
notes, heat_img, heat_caption, gallery = [], None, "", []
pkeys = attention_keys(out.attention)
slide_path, sp = None, None
if bag is None or bag.coords is None or not pkeys:
    why = ("this cohort has no patch features for the patient (genomics only)" if bag is None else
           "the patch features have no coordinates (.pt without .h5)" if bag.coords is None else
           "this model does not use pathology")
    notes.append(f"No heatmap: {why}.")
    st.info(notes[-1] + " The risk above comes from the modalities that are present.")
else:
    pos, slide_path, sl, sp, note = _widgets.slide_choice(bag, ctx.cohort, key="slide_pos")
    notes.extend([note] if note else sp.notes)
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
    fig, heat_img = heatmap_figure(thumb, sp.coords, scores, sp.patch_size0, scale, opacity=opacity, colormap=cmap,
                                   scaling=scaling, title=f"{sp.slide_id} — {key} ({scaling})")
    heat_caption = f"{sp.slide_id}: {key}, {scaling} scaling, {cmap}"
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

st.subheader("Report")
if maps is None or clin is None:
    st.caption("The PDF report needs the run's calibration and a patient the run can score (see above).")
else:
    st.download_button("Download the patient report (PDF, one page, research use only)",
                       partial(_cache.patient_pdf, cohort_path, cohort_stamp, run_dir, cal_stamp, case_id),
                       f"report_{case_id}.pdf", "application/pdf", key="dl_report",
                       help="Written when you click (a few seconds): identification, calibrated survival with its band, "
                       "horizons, risk group, the slide with attention, top patches, leading gene groups and genes, run and model.")
