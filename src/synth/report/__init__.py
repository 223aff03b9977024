"""Reports: evidence maps, PRISMA flow, and the papermill review run."""
