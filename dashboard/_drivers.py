"""The Patient page's "What drives this patient's risk" section (Streamlit; the attributions are memamba_core.explain's)."""

from __future__ import annotations

import streamlit as st

import _cache_clinical
import _state
from memamba_core.app.text import md
from memamba_core.errors import InputError
from memamba_core.viz import contributions_figure

N_GENES = 12
AXIS = "effect on risk (units: caption above)"  # short: the narrow half-width charts cut a long axis title


def show(cohort_path: str, cohort_stamp: tuple, run_dir: str, cal_stamp: tuple, case_id: str, headline: str) -> None:
    """Modalities, gene groups, genes inside a group and the top patches, each effect with its direction."""
    st.subheader("What drives this patient's risk")
    try:
        d = _cache_clinical.patient_drivers(cohort_path, cohort_stamp, run_dir, cal_stamp, case_id)
    except InputError as err:
        _state.show_error(err)
        return
    st.caption(f"{md(headline)}: the same model(s) as the prediction above. Effects in {md(d.units)}; positive = "
               "towards higher risk (red), negative = towards lower risk (blue). Modalities: the patient scored with "
               "each modality switched off through the same weights; genes: integrated gradients against the training "
               "patients' average genomics, the slide held fixed; patches: the risk change when the patch is left out.")
    st.dataframe(d.modality_rows(), hide_index=True, key="drivers_modalities")
    if d.groups:
        left, right = st.columns(2)
        with left:
            st.plotly_chart(contributions_figure([g.group for g in d.groups], [g.effect for g in d.groups],
                                                 title="Gene groups", value_label=AXIS),
                            key="drivers_groups")
        with right:
            genes = d.genes[:N_GENES]
            st.plotly_chart(contributions_figure([x.gene for x in genes], [x.effect for x in genes],
                                                 title=f"Leading genes (top {len(genes)})", value_label=AXIS),
                            key="drivers_genes")
        names = [g.group for g in d.groups]
        pick = st.selectbox("Genes inside a group", names, key="drivers_group",
                            help="groups ordered by the size of their effect; the genes of the chosen group below")
        inside = d.groups[names.index(pick)]
        st.dataframe(inside.gene_rows(N_GENES), hide_index=True, key="drivers_inside")
        share = d.ig_error_share
        st.caption(f"Integrated gradients add up to the risk change from the training average up to "
                   f"{abs(d.ig_delta):.3g} (the transport plan and the ranked order are not differentiated through)"
                   + ("." if share is None else f", {100 * share:.1f} % of the total attribution."))
    else:
        st.caption("No gene attributions: this model or patient has no genomics.")
    if d.patches:
        st.dataframe(d.patch_rows(), hide_index=True, key="drivers_patches")
