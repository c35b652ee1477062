"""GenPO: flow policy with a doubled dummy action and an exact, Jacobian-free likelihood."""

from training.genpo.flow import FlowPolicy

__all__ = ["FlowPolicy"]
