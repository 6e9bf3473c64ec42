"""Ablations: the run's ``curate ablate`` outputs; launch, watch, stop and resume one; the held-out
fit, the cost, and the scale-up check (``--verify``: the proposal against three baselines), which the
page can start on a finished ablation.

Process management is :mod:`dashboards.jobs` (files in the output folder, not page state), so a job
keeps running, and stays visible, across reruns, browser tabs and dashboard restarts.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from curation import rundir
from curation.query import confine
from dashboards import ablation_outputs as ao
from dashboards import data, jobs

NEW = "➕ New ablation"

st.title("Ablations")
run = data.require_run_dir()
outputs = ao.list_ablations(run)
names = {str(p.relative_to(run)): p for p in outputs}
if st.session_state.get("abl_select_next") in names:  # a just-launched job: show it
    st.session_state["abl_pick"] = st.session_state.pop("abl_select_next")
pick = st.selectbox("Ablation", [*names, NEW], key="abl_pick")


def new_ablation() -> None:
    st.subheader("Configure a new ablation")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = st.text_input("Output folder (inside the run)", f"ablations/{stamp}", key="abl_new_name")
    text = st.text_area("Config (YAML, as for `curate ablate --config`)", ao.default_config(run), height=320,
                        key="abl_new_config")
    st.caption("Prefilled from demo/ablate-demo.yaml" + (", `mixture:` set to this run's mix folder."
                                                           if (run / "mix" / rundir.MANIFEST).is_file() else
                                                           "; this run has no mix folder: set `mixture:` or `sources:`."))
    if st.button("Launch", type="primary", key="abl_launch"):
        out = (run / name).resolve()
        if not out.is_relative_to(run.resolve()):
            st.error("The output folder must be inside the run directory.")
            return
        if out.exists() and any(out.iterdir()) and not (out / jobs.JOB_FILE).exists():
            st.error(f"{out} exists and is not empty: choose another folder.")
            return
        error = ao.check_config(text, out)
        if error:
            st.error(f"Config refused: {error}")
            return
        try:
            status = jobs.launch(out, text)
        except jobs.JobError as exc:
            st.error(f"Not launched: {exc}")
            return
        st.session_state["abl_select_next"] = str(out.relative_to(run.resolve()))
        st.toast(f"Launched pid {status.pid}")
        st.rerun()


def controls(out: Path, status: jobs.JobStatus) -> None:
    c1, c2, c3 = st.columns([2, 1, 1])
    code = f", exit code {status.exit_code}" if status.exit_code is not None else ""
    c1.markdown(f"**Status:** {status.state}{code}" + (f" (pid {status.pid})" if status.pid else ""))
    if status.running:
        if c2.button("Stop", key="abl_stop", type="primary"):
            jobs.stop(out)
            st.rerun()
    elif status.state in (jobs.STOPPED, jobs.INTERRUPTED, jobs.FAILED) or (
            status.state == jobs.NOT_STARTED and (out / jobs.CONFIG_FILE).is_file()):
        if c2.button("Resume", key="abl_resume", type="primary",
                     help="Launches the same command again: finished proxies are kept, the others continue "
                          "from their last checkpoint."):
            try:
                jobs.resume(out)
            except jobs.JobError as exc:
                st.error(f"Not resumed: {exc}")
                return
            st.rerun()
    c3.button("Refresh", key="abl_refresh")


def watch(out: Path, was_running: bool) -> None:
    """Progress, loss curves and the log; re-drawn every few seconds while the job runs."""
    status = jobs.status(out)
    if was_running and not status.running:
        st.rerun()  # the job just ended: redraw the whole page (controls, results)
    finished, planned, _ = ao.progress(out)
    if planned:
        st.progress(finished / planned, text=f"{finished} of {planned} proxies finished")
    curves = ao.loss_curves(out)
    if curves.empty:
        st.caption("No training step logged yet (the job prepares token streams first).")
    else:
        st.markdown("**Training loss per proxy**")
        st.line_chart(curves, x_label="step", y_label="loss")
    scale_up = ao.verify_progress(out)
    if not scale_up.empty:
        st.markdown("**Scale-up check runs** (`--verify`)")
        st.dataframe(scale_up, hide_index=True, width="stretch", key="abl_verify_progress")
    vals = ao.val_losses(out)
    if not vals.empty:
        st.markdown("**Validation loss at the last eval**")
        st.dataframe(vals, hide_index=True, width="stretch", key="abl_val")
    if (out / jobs.LOG_FILE).exists():
        with st.expander("Log", expanded=status.state == jobs.FAILED):
            st.code(jobs.log_tail(out) or "(empty)", language="text")


def results(out: Path) -> None:
    report = ao.regression(out)
    if report is None:
        return
    st.subheader("Regression fit")
    rho, cv = report.get("held_out_spearman"), report.get("cross_validated_spearman")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Held-out rank correlation", _num(rho, 3), help="Spearman of predicted vs actual metric on the "
              "proxies kept out of the fit")
    c2.metric("Cross-validated rank correlation", _num(cv, 3), help="every proxy predicted by a fit without it")
    c3.metric("Predicted metric of the proposal", _num(report.get("best_predicted_metric"), 4))
    best_proxy = report.get("best_proxy", {})
    c4.metric("Best trained proxy", _num(best_proxy.get("metric"), 4), f"proxy {best_proxy.get('proxy')}",
              delta_color="off")
    cost = report.get("cost")
    if isinstance(cost, dict):
        from curation.ablations.runner import cost_line

        st.caption(f"Repetition: {report.get('repetition', 'none')}; " + cost_line(cost))
    held = ao.held_out_table(report)
    if len(held):
        st.markdown(f"**Held-out proxies: predicted vs actual** ({len(held)} kept out of the fit)")
        left, right = st.columns(2)
        left.dataframe(held, hide_index=True, key="abl_heldout")
        right.scatter_chart(held, x="predicted", y="actual")
    runs_file = out / "runs.parquet"
    if runs_file.is_file() and confine.Confinement.under(out).allows(runs_file):
        with st.expander("All proxies (runs.parquet)"):
            st.dataframe(pd.read_parquet(runs_file), hide_index=True, width="stretch")
    st.subheader("Proposed mixture")
    weights = report.get("best_weights", {})
    st.dataframe(pd.DataFrame({"source": list(weights), "share": list(weights.values())}), hide_index=True,
                 key="abl_best_weights")
    text = ao.best_mixture(out)
    if text:
        st.code(text, language="yaml")
        st.download_button("Download best_mixture.yaml", text, file_name="best_mixture.yaml", mime="application/x-yaml",
                           key="abl_download")
    scale_up_check(out)


def _num(value, digits: int) -> str:
    return "n/a" if not isinstance(value, (int, float)) or value != value else f"{value:.{digits}f}"


def scale_up_check(out: Path) -> None:
    """verify.json: the proposal and the baselines at a larger scale; or a button that starts it."""
    st.subheader("Scale-up check: the proposal against the baselines")
    report = ao.verify_report(out)
    if report is None:
        st.caption("Not run yet. It trains the proposal, a uniform, a token-proportional and the phi-4 preset "
                   "mixture at >= 4x the proxy's parameters and steps (same seed) and compares their target metric.")
        text = ao.verify_config(out)
        if st.button("Run the scale-up check", key="abl_verify", disabled=text is None,
                     help="`curate ablate --verify` on this folder: finished proxies are reused, only the "
                          "scale-up runs train."):
            try:
                jobs.launch(out, text, verify=True)
            except jobs.JobError as exc:
                st.error(f"Not launched: {exc}")
                return
            st.rerun()
        return
    verdict = str(report.get("verdict", ""))
    (st.success if report.get("proposal_wins") else st.warning)(verdict or "no verdict recorded")
    c1, c2, c3 = st.columns(3)
    c1.metric("Parameters vs proxy", f"{report.get('param_ratio', float('nan')):.1f}x", f"{report.get('n_params', 0):,}",
              delta_color="off")
    c2.metric("Steps vs proxy", f"{report.get('step_ratio', float('nan')):.1f}x", f"{report.get('steps', 0):,}",
              delta_color="off")
    share = report.get("ablation_share_of_one_run")
    c3.metric("Ablation cost / one scale-up run", _num(share, 2) + ("x" if isinstance(share, (int, float)) else ""))
    st.dataframe(ao.verify_table(report), hide_index=True, width="stretch", key="abl_verify_table")


if pick == NEW or pick is None:
    new_ablation()
else:
    out = names[pick]
    status = jobs.status(out)
    controls(out, status)
    # While the job runs, only this fragment re-runs (every 3 s): the rest of the page stays put.
    st.fragment(watch, run_every=3 if status.running else None)(out, status.running)
    if not status.running:
        results(out)
