"""Process isolation, below everything that runs a rubric: `pool` (worker processes with deadlines
and memory caps, for heavy built-ins) and `sandbox` (a fresh, confined interpreter per run of
untrusted code). Neither imports anything from rubricc, so built-ins and the runtime both sit
above them."""
