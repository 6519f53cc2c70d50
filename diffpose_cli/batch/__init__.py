"""`diffpose batch`: every video of a folder through the pipeline, on local worker processes
(run.py, with worker.py in each process) or on a Ray cluster (ray_engine.py); plan.py decides
what runs and where its outputs go, progress.py shows it. Here: the report's name and the exit codes."""

REPORT_NAME = "batch_report.json"
REPORT_SCHEMA = "diffpose-batch-report/1"

# exit codes of `diffpose batch` (documented in docs/batch.md)
EXIT_OK = 0            # every file done or skipped
EXIT_ERROR = 1         # the batch could not start or had to stop (bad INPUT_DIR, unwritable OUTPUT_DIR, no models)
EXIT_USAGE = 2         # bad command line (reported by the option parser)
EXIT_FILES_FAILED = 3  # the batch ran to the end, one or more files failed or were truncated
EXIT_SIGINT = 130      # interrupted by Ctrl-C (SIGINT)
EXIT_SIGTERM = 143     # stopped by SIGTERM
