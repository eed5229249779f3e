"""Schemes for the real-run checks of docs/verdicts.md (``--init`` references):

    initcore run --init he_normal aa_schemes:he_other_stream ...   (run from this folder)

* ``he_other_stream``: He normal, N(0, 2/fan_in), drawn from another random stream (each
  layer's generator seeded by one draw from the suite's): the same distribution as
  ``he_normal``, other numbers -- an A/A pair, whose verdict must never be better or worse.
* ``he_half``: He normal scaled by 0.5 (Var = 0.5/fan_in, n Var(W)/2 = 1/4 per layer): the
  signal of a 30-layer ReLU net shrinks by 4^29, so on ``deep-relu-short`` it must be worse.
"""

import torch

import initcore


@initcore.register("he_other_stream", "N(0, 2/fan_in), another random stream")
def he_other_stream(weight: torch.Tensor, generator: torch.Generator) -> None:
    seed = int(torch.randint(2**62, (1,), generator=generator))
    other = torch.Generator().manual_seed(seed)
    torch.nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=other)


@initcore.register("he_half", "0.5 x N(0, 2/fan_in)")
def he_half(weight: torch.Tensor, generator: torch.Generator) -> None:
    torch.nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
    weight.mul_(0.5)
