"""Argument types of the ``bach2`` commands: each parses one option value or says, in one line, why not."""
import argparse

from bach2.common import CorpusError


def positive(text):
    """An integer > 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'must be a positive integer, not {text}')
    return value


def count(text):
    """An integer ≥ 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f'must be 0 or more, not {text}')
    return value


def rate(text):
    """A positive finite float (learning rate, temperature, tempo)."""
    value = float(text)
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(f'must be a positive finite number, not {text}')
    return value


def fraction(text):
    """A float in [0, 1)."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 0 and below 1, not {text}')
    return value


def decay(text):
    """A float in (0, 1]: a factor that may shrink a value but never grow it or zero it."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f'must be above 0 and at most 1, not {text}')
    return value


def transpositions(text):
    """'all' or '0,5,7' → tuple of k in sh<k>; CorpusError on anything else."""
    if text == 'all':
        return tuple(range(12))
    try:
        shifts = tuple(int(k) for k in text.split(','))
    except ValueError:
        raise CorpusError(f"--transpositions: expected 'all' or numbers 0-11 separated by commas, not {text!r}") \
            from None
    if not all(0 <= k < 12 for k in shifts):
        raise CorpusError(f'--transpositions: {text!r} has a number outside 0-11')
    return shifts
