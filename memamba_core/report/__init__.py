"""The patient report: a one-page-per-patient PDF (matplotlib), for one patient or a whole cohort."""

from .cohort import patient_page, slide_images, write_cohort_report
from .pdf import RESEARCH_ONLY, ReportPage, render_page, report_pdf, write_report_pdf

__all__ = ["RESEARCH_ONLY", "ReportPage", "patient_page", "render_page", "report_pdf", "slide_images", "write_cohort_report",
           "write_report_pdf"]
