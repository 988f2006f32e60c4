"""Patient: risk and percentile, predicted survival, attention heatmap, patches, genomics, report."""

from functools import partial

import streamlit as st

import _cache
import _state
import _widgets
from memamba_core.app import percentile_of, survival_matrix
from memamba_core.app.text import md, md_join
from memamba_core.errors import InputError
from memamba_core.slides import attention_keys, slide_patches, to_numpy
from memamba_core.train.predict import skipped_note
from memamba_core.viz import (COLORMAPS, PatientReport, contributions_figure, expert_weights_figure, heatmap_figure,
                              read_patch, read_patches, report_html, selected_patch, survival_curve_figure,
                              thumbnail_scale, top_k)

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
row = preds.loc[case_id]
pct = percentile_of(row["risk"], preds["risk"])
p = ctx.cohort.patient(case_id)
st.caption(f"Patient {md(case_id)} · " + md_join(f"{k} {v}" for k, v in p.clinical.items() if v is not None))

m = st.columns(4)
m[0].metric("Predicted risk", f"{row['risk']:.3f}", help="−Σ survival over the time bins; higher = earlier event")
m[1].metric("Percentile in cohort", f"{pct:.0f}th", help=f"among the {len(preds)} patients the model scored")
m[2].metric("Observed", f"{p.survival_months:.1f} mo, {'event' if p.event else 'censored'}")
m[3].metric("Used to train this model", "yes" if row["in_training"] else "no")

left, right = st.columns([3, 2])
t_end = float(preds["survival_months"].max())
with left:
    st.plotly_chart(survival_curve_figure(ctx.loaded.cuts, to_numpy(out.survival), survival_matrix(preds), t_end),
                    key="surv_plot")
with right:
    if out.expert_weights:
        st.plotly_chart(expert_weights_figure(out.expert_weights), key="expert_plot")
    gkeys = attention_keys(out.attention, "genomics/")
    contributions = {}
    if gkeys and ctx.loaded.groups is not None:
        gk = st.selectbox("Genomic attention", gkeys, key="gen_key")
        a = to_numpy(out.attention[gk])
        share = a / a.sum() if a.sum() > 0 else a
        contributions = dict(zip(ctx.loaded.groups.names, share.tolist()))
        st.plotly_chart(contributions_figure(ctx.loaded.groups.names, share, value_label="share of attention"),
                        key="contrib_plot")
    elif not gkeys:
        st.info("No genomic attention: this model or patient has no genomics.")

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
    c = st.columns(5)
    key = c[0].selectbox("Expert / branch", pkeys, key="att_key")
    cmap = c[1].selectbox("Colour map", list(COLORMAPS), key="att_cmap")
    scaling = c[2].radio("Scaling", ["percentile", "raw"], horizontal=True, key="att_scaling")
    opacity = c[3].slider("Opacity", 0.0, 1.0, 0.5, 0.05, key="att_opacity")
    k = c[4].slider("Top-k patches", 1, 24, 8, key="att_topk")
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

clinical = {k: v for k, v in p.clinical.items() if v is not None}
report = PatientReport(case_id=case_id, cohort=ctx.cohort.name, model=str(ctx.loaded.path), risk=float(row["risk"]),
                       percentile=pct, survival=to_numpy(out.survival), cuts=ctx.loaded.cuts,
                       cohort_mean_survival=survival_matrix(preds).mean(0), clinical=clinical,
                       expert_weights=dict(out.expert_weights), contributions=contributions, heatmap=heat_img,
                       heatmap_caption=heat_caption, patches=gallery, notes=notes)
st.download_button("Download one-page report (HTML, print to PDF)", partial(report_html, report),
                   f"report_{case_id}.html", "text/html", key="dl_report")
