"""The MI coder: a multi-task encoder trained on AnnoMI, rules for the codes AnnoMI lacks, MITI summary."""

from simtrainer.feedback.mi.coder import MICoder, load_mi_coder

__all__ = ["MICoder", "load_mi_coder"]
