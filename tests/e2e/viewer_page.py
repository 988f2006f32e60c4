"""A tiny standalone Streamlit page that mounts the slide viewer (for tests/e2e/test_viewer_browser.py).

It reads ``$VIEWER_SPEC`` (JSON: the slides of one patient, each with its path, bag rows, patch coordinates
and level-0 side, and the bag's attention) written by the test, shows the chosen slide with three overlays
and answers a click with :func:`ask_patch`.
"""

import json
import os

import numpy as np
import streamlit as st

from dashboard.components.slide_viewer import slide_viewer, tile_server, viewer_layer
from memamba_core.slides import open_slide
from memamba_core.viewer import PatchLayout, ask_patch, attention_layer, grid_layer, topk_layer

spec = json.loads(open(os.environ["VIEWER_SPEC"], encoding="utf-8").read())
slides = spec["slides"]                      # a multi-slide patient: each slide with its own patch geometry
scores = np.asarray(spec["scores"], dtype=np.float64)   # over the whole bag
choice = st.selectbox("Slide", [s["slide_id"] for s in slides])
one = next(s for s in slides if s["slide_id"] == choice)
layout = PatchLayout(one["slide_id"], np.asarray(one["rows"]), np.asarray(one["coords"]), float(one["side0"]))

srv = tile_server()
token = srv.service.register_slide(one["path"])
layers = [
    viewer_layer(srv, token, attention_layer(layout, scores), opacity=0.5, name="attention"),
    viewer_layer(srv, token, topk_layer(layout, scores, k=3), opacity=1.0, name="top-3"),
    viewer_layer(srv, token, grid_layer(layout), opacity=0.6, visible=False, name="patch grid"),
]
st.caption(f"tile server on 127.0.0.1:{srv.port}")
click = slide_viewer(srv.slide_url(token), layers, height=500, key="viewer")
if click:
    with open_slide(one["path"]) as slide:
        rep = ask_patch(layout, (click["x"], click["y"]), {"pathology/pool": scores}, None, (), slide)
    if rep is None:
        st.write("no patch here")
    else:
        best = rep.scores[0]
        st.write(f"{rep.slide_id}: patch {rep.bag_row} at level 0 ({rep.xy0[0]}, {rep.xy0[1]}), "
                 f"side {rep.side0:.0f}, rank {best.rank} of {best.of}")
        st.image(rep.image, caption="the patch at full resolution")
