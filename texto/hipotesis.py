"""What a recogniser heard, as more than one guess: the n-best list that engines return and the dialogue fuses.

Torch-free so that the dialogue (and its tests) can build lists by hand. Engines fill it in modelo/motores.py.
"""

from __future__ import annotations

from dataclasses import dataclass

# What the dialogue asked, passed to the engine so that it can decode for it (the dialogue's slot names).
PLATE, STAY, COVERED, CONFIRM = "plate", "stay_minutes", "covered", "confirm"
# A confirmation asked again with "Decí sí o no": the driver was told to say only one of BARE_ANSWERS, so the
# engine also scores those two teacher-forced (Hypothesis.forced) for the dialogue to choose from when the
# decoded text reads as neither (a slow "Sí." in a voice the model hears badly came out "P." every time).
YES_NO = "yes_no"
QUESTIONS = (PLATE, STAY, COVERED, CONFIRM, YES_NO)
BARE_ANSWERS = ("Sí.", "No.")


@dataclass(frozen=True)
class Hypothesis:
    """One transcript and how sure the model was of it."""

    text: str
    score: float  # mean log-probability per token (openai's avg_logprob; CTranslate2's score / length): <= 0
    forced: bool = False  # not decoded: one of the answers the question allows, scored teacher-forced


def decoded(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """What the engine heard, without the answers it only scored (forced), best first."""
    return [h for h in hypotheses if not h.forced]


def best_text(hypotheses: list[Hypothesis]) -> str:
    """The best decoded hypothesis' text, or "" when nothing was heard."""
    heard = decoded(hypotheses)
    return heard[0].text if heard else ""
