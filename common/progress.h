// progress.h: a progress bar with rate and ETA on stderr. On a terminal it
// redraws one line in place (at most 10 times a second); when stderr is not
// a terminal (CI, logs, pipes) it prints a plain line every few seconds
// (REASONER_PROGRESS_SECS, default 10) and a final one. Thread-safe: workers
// may call progress_add from several threads.
#pragma once

typedef struct Progress Progress;

// total <= 0 means unknown (no bar, no ETA). unit names what is counted
// ("docs", "tok", "steps"). label is copied.
Progress *progress_new(const char *label, double total, const char *unit);
// Set the amount done so far; extra (may be NULL) is shown after the bar,
// e.g. "loss 3.21". Copied.
void progress_set(Progress *p, double done, const char *extra);
void progress_add(Progress *p, double delta);
// Change the total when the plan changes (a time budget re-estimating steps).
void progress_set_total(Progress *p, double total);
// Add a second counter's rate to the line, e.g. bytes as MB/s.
void progress_set_aux(Progress *p, double aux_done, const char *aux_unit, double aux_scale);
// Print the final line (elapsed, mean rate) and free p. NULL is fine.
void progress_finish(Progress *p);

// Format seconds as "1:02:03" or "2:03"; out must hold 16 bytes.
void progress_fmt_duration(double secs, char *out);
