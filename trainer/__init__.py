"""The GRPO trainer: rollouts, scoring with a compiled rubric, group-relative advantages, updates."""
