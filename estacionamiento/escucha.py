"""How the front ends hear one answer: the engine's n-best list decoded for what the dialogue asks, or,
from an engine that predates n-best, its one transcript as a list of one (texto/hipotesis.py's contract).

No torch here: the engine is any object with `transcribe`, and the dialogue's tests use stand-ins.
"""

from __future__ import annotations

import inspect

from texto.hipotesis import Hypothesis

N_BEST = 5  # hypotheses asked per answer: enough for a second candidate, few enough to decode fast on a CPU


def takes_n_best(engine) -> bool:
    """Whether `engine.transcribe` accepts `n_best` and `question` (the contract), read from its signature
    once per answer, so an engine without them is never called with arguments it would refuse."""
    try:
        params = inspect.signature(engine.transcribe).parameters.values()
    except (TypeError, ValueError):  # a builtin or C extension without a signature
        return False
    names = {p.name for p in params}
    return {"n_best", "question"} <= names or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def hear(engine, audio, question: str | None, n_best: int = N_BEST) -> list[Hypothesis]:
    """One answer (16 kHz mono samples) -> its hypotheses, best first; [] when the engine heard nothing."""
    if n_best > 1 or question is not None:
        if takes_n_best(engine):
            [heard] = engine.transcribe([audio], n_best=n_best, question=question)
            if isinstance(heard, str):  # the one-text answer of n_best=1 without a question
                return [Hypothesis(heard, 0.0)]
            return [h if isinstance(h, Hypothesis) else Hypothesis(str(h), 0.0) for h in heard]
    [text] = engine.transcribe([audio])
    return [Hypothesis(text, 0.0)]  # one transcript: as sure as the dialogue's text answers (weight 1)
