"""Reporting: what people look at after training.

Tables with intervals and paired claims (:mod:`.report`, :mod:`.claims`), validation curves
(:mod:`.curves`), the paper-tables plan (:mod:`.paper`) and example separations
(:mod:`.examples`). The training engine (system, training, evaluation, callbacks) never
imports it.
"""
