"""Full texts: reading PDFs (:mod:`synth.fulltext.pdf`) for every later stage to use."""

from synth.fulltext.pdf import PdfDocument, PdfError, Section, iter_pdfs, read_pdf

__all__ = ["PdfDocument", "PdfError", "Section", "iter_pdfs", "read_pdf"]
