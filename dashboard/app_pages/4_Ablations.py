"""Ablations: switch components off at inference on the loaded model; the cross-validated ablation table beside."""

import streamlit as st

import _cache
import _state
from memamba_core.app import apply_filters, held_out_default
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.models.registry import choices
from memamba_core.viz import format_p, km_figure

st.title("Ablations")
st.caption("Switches apply at inference to the loaded weights (no retraining): they show what the trained model relies "
           "on. Retrained ablations, under the same cross-validation, are in the table on the right when the run has one.")
ctx = _state.require(complete=True)
cfg = ctx.loaded.config

OT, MODALITIES = list(choices("ot")), list(choices("modalities"))
left, right = st.columns([1, 2])
with left:
    st.subheader("Components")
    sw = {
        "scan_forward": st.toggle("Standard scan", cfg.scan_forward, key="ab_fwd"),
        "scan_reverse": st.toggle("Reverse scan", cfg.scan_reverse, key="ab_rev"),
        "scan_ranked": st.toggle("Attention-ranked scan", cfg.scan_ranked, key="ab_ranked"),
        "ot": st.radio("Optimal transport", OT, OT.index(cfg.ot),
                       horizontal=True, key="ab_ot"),
        "interleave": st.toggle("Interleave aligned pathology and genomic tokens", cfg.interleave, key="ab_inter"),
        "mmd_weight": cfg.mmd_weight if st.toggle("MMD", cfg.mmd_weight > 0, key="ab_mmd",
                                                  help="MMD is a training loss term: at inference it changes no "
                                                       "prediction; its effect shows in the retrained table.") else 0.0,
        "modalities": st.radio("Modalities", MODALITIES, MODALITIES.index(cfg.modalities), horizontal=True,
                               key="ab_mod"),
    }
    changes = {k: v for k, v in sw.items() if v != getattr(cfg, k)}
    held = st.toggle("Held-out patients only", value=held_out_default(ctx.preds), key="ab_held")

try:
    preds = _state.predictions(changes)
except InputError as err:
    right.error(md(err))
    st.stop()
base = apply_filters(ctx.preds, held_out_only=held)
now = apply_filters(preds, held_out_only=held)
if len(now) < 4 or now["event"].sum() == 0:
    right.warning("Too few patients or events for survival statistics with this selection.")
    st.stop()
try:
    ci0 = _cache.c_index(base["survival_months"].to_numpy(float), base["event"].to_numpy(int), base["risk"].to_numpy(float))
    args = (now["survival_months"].to_numpy(float), now["event"].to_numpy(int), now["risk"].to_numpy(float))
    ci = _cache.c_index(*args)
    res = _cache.km(*args, "median", None)
except InputError as err:
    right.error(md(err))
    st.stop()
with right:
    m = st.columns(3)
    m[0].metric("C-index (switched)", f"{ci.value:.3f}", f"{ci.value - ci0.value:+.3f} vs full model",
                help=f"95 % CI {ci.low:.3f}–{ci.high:.3f}")
    m[1].metric("C-index (full model)", f"{ci0.value:.3f}")
    m[2].metric("Log-rank (median split)", format_p(res.logrank_p))
    st.caption("Changed: " + (", ".join(f"{k} → {v}" for k, v in changes.items()) or "nothing (full model)")
               + f" · {len(now)} patients")
    st.plotly_chart(km_figure(res, title="KM by predicted risk (switched model)"), key="ab_km")

st.subheader("Cross-validated ablation runs")
try:
    table = _state.run_file("ablation_table")
except InputError as err:
    _state.show_error(err)
    st.stop()
if table is not None:
    st.dataframe(table, key="ab_table", width="stretch", hide_index=True)
    st.caption("Each row: the model retrained under the same cross-validation with one component changed.")
else:
    st.info("The loaded run has no cross-validated ablation table. Create one with `memamba ablate` on a cohort, "
            "then choose one of its variant run folders on Home.")
