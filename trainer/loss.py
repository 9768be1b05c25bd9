"""The GRPO objective: per-token log-probs, and the clipped policy loss with its variants.

Definitions match TRL's GRPOTrainer. With ratio r = exp(logp - old_logp), advantage A of the
token's completion, and mask m (completion tokens of rows kept in the loss):

    l_t   = -min(r A, clip(r, 1 - epsilon, 1 + epsilon_high) A) + beta * kl_t
    kl_t  = exp(ref - logp) - (ref - logp) - 1                       (k3 estimator)
    grpo    : sum_i [ sum_t m l / max(1, sum_t m) ] / sequences      (mean per sequence)
    dr_grpo : sum_i sum_t m l / (sequences * max_new_tokens)
    dapo    : sum_i sum_t m l / tokens                               (mean per token)

`sequences` and `tokens` are the batch's (all micro-batches of this process; for dapo, completion
tokens over all processes divided by their number), so summing the micro-batch losses gives the
loss of the whole batch, and DDP's gradient average gives that of the global batch.
"""

from __future__ import annotations

import torch

LOSSES = ("grpo", "dr_grpo", "dapo")


def token_logps(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion: int,
                temperature: float, entropy: bool = False):
    """([B, C] log-prob of each of the last `completion` tokens, [B, C] entropy or None).

    Logits are divided by the sampling temperature, so the log-probs are those of the sampling
    distribution. Positions follow the attention mask, as in `generate` with left padding.
    """
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)  # [B, T]
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   logits_to_keep=completion + 1, use_cache=False).logits  # [B, C + 1, V]
    logits = logits[:, :-1].float() / temperature  # [B, C, V]: position t predicts token t + 1
    targets = input_ids[:, -completion:]  # [B, C]
    log_z = logits.logsumexp(-1)  # [B, C]
    logps = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - log_z  # [B, C]
    if not entropy:
        return logps, None
    with torch.no_grad():
        probs = (logits - log_z.unsqueeze(-1)).exp()  # [B, C, V]
        return logps, log_z - (probs * logits).sum(-1)  # [B, C]


def policy_loss(*, logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor,
                mask: torch.Tensor, loss_type: str = "dapo", epsilon: float = 0.2,
                epsilon_high: float | None = None, beta: float = 0.0,
                ref_logps: torch.Tensor | None = None, max_new_tokens: int | None = None,
                sequences: float | None = None, tokens: float | None = None):
    """(scalar loss, token sums for metrics) of one micro-batch; every argument by name.

    logps, old_logps, ref_logps, mask: [B, C]; advantages: [B]. `sequences` defaults to B and
    `tokens` to mask.sum(): the normalisers when this micro-batch is the whole batch. The sums
    are "tokens", "clip_low", "clip_high", "ratio" and, when beta is not 0, "kl".
    """
    if loss_type == "dr_grpo" and max_new_tokens is None:
        raise ValueError('loss_type "dr_grpo" divides by max_new_tokens: pass max_new_tokens')
    high = epsilon if epsilon_high is None else epsilon_high
    mask = mask.to(logps.dtype)
    adv = advantages.unsqueeze(1)  # [B, 1]
    ratio = torch.exp(logps - old_logps)  # [B, C]
    per_token = -torch.min(ratio * adv, ratio.clamp(1 - epsilon, 1 + high) * adv)  # [B, C]
    kl = None
    if beta != 0.0:
        delta = ref_logps - logps  # [B, C]
        kl = torch.exp(delta) - delta - 1
        per_token = per_token + beta * kl
    sequences = logps.size(0) if sequences is None else sequences
    if loss_type == "grpo":
        loss = ((per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).sum() / sequences
    elif loss_type == "dr_grpo":
        loss = (per_token * mask).sum() / (sequences * max_new_tokens)
    elif loss_type == "dapo":
        loss = (per_token * mask).sum() / (mask.sum().clamp(min=1.0) if tokens is None else tokens)
    else:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss_type!r}")
    with torch.no_grad():
        low_clip = (ratio < 1 - epsilon) & (adv < 0)  # clipping bites only on these sides
        high_clip = (ratio > 1 + high) & (adv > 0)
        sums = {"tokens": mask.sum(), "clip_low": (low_clip * mask).sum(),
                "clip_high": (high_clip * mask).sum(), "ratio": (ratio * mask).sum()}
        if kl is not None:
            sums["kl"] = (kl * mask).sum()
    return loss, sums
