"""Persona cards: the simulated patient (or DEAR MAN counterpart) a trainee practises with."""

from simtrainer.scenarios.card import Card, Modality
from simtrainer.scenarios.loader import CardProblem, get_card, load_cards, scenario_dirs

__all__ = ["Card", "CardProblem", "Modality", "get_card", "load_cards", "scenario_dirs"]
