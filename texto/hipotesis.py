"""What a recogniser heard, as more than one guess: the n-best list that engines return and the dialogue fuses.

Torch-free so that the dialogue (and its tests) can build lists by hand. Engines fill it in modelo/motores.py.
"""

from __future__ import annotations

from dataclasses import dataclass

# What the dialogue asked, passed to the engine so that it can decode for it (the dialogue's slot names).
PLATE, STAY, COVERED, CONFIRM = "plate", "stay_minutes", "covered", "confirm"
QUESTIONS = (PLATE, STAY, COVERED, CONFIRM)


@dataclass(frozen=True)
class Hypothesis:
    """One transcript and how sure the model was of it."""

    text: str
    score: float  # mean log-probability per token (openai's avg_logprob; CTranslate2's score / length): <= 0


def best_text(hypotheses: list[Hypothesis]) -> str:
    """The first hypothesis' text, or "" for an empty list (nothing heard)."""
    return hypotheses[0].text if hypotheses else ""
