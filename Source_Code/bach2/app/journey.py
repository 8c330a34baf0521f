"""``bach2 journey``, the main job: every stage once on the built-in corpus, small and quick.

Stages 0–2 prepare the corpus (``bach2 prepare``); the shipped voice model continues two fugues it never
trained on (in their voices, reusing their figures) and writes a whole fugue (``bach2 fugue``) on the subject of
another; a small model of the journal (2 × 128 units) trains for a few
epochs (stage 3) and writes two pieces (stage 4); the gallery shows them all (stage 5).
"""
# Imports of heavy modules are inside the functions, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import argparse

from bach2.app.arguments import (add_data_arguments, add_matrix_arguments, add_out_argument, command_parser, count,
                                 positive, rate)
from bach2.app.data_commands import cmd_prepare
from bach2.app.output import refresh_gallery, renderer_or_say_so
from bach2.common import CheckpointError, CorpusError
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import SHIPPED_VOICE_MODELS, checkpoint_path, load_voice_checkpoint
from bach2.models.model_config import ModelConfig
from bach2.render.piece import Output

JOURNEY_FUGUE_BARS = 24         # about a minute of writing on this machine's two cores


def cmd_journey(args):
    """The whole journey on the built-in corpus: prepare → two pieces and a whole fugue of the shipped voice model
    → train a small model of the journal → its pieces → MIDI, PNG (and WAV) and the gallery."""
    model_config = ModelConfig(n_hidden=128, optimizer='adam', learning_rate=0.002)
    print('stages 0–2: prepare the training data')
    status = cmd_prepare(args, min_steps=model_config.sequence_length + 1)   # pieces that give a window
    from bach2.train import TrainConfig       # PyTensor: seconds to import
    train_config = TrainConfig(data_dir=args.out, out_dir=args.checkpoints, epochs=args.epochs,
                               max_batches=args.max_batches, max_valid_frames=4000)
    journey_after_prepare(model_config, train_config, args.fugues, args.temperature, args.fugue_bars)
    return status


def journey_after_prepare(model_config, train_config, fugues, temperature, fugue_bars=JOURNEY_FUGUE_BARS):
    """The journey on the prepared ``train_config.data_dir``: the shipped voice model's pieces and fugue (about
    ``fugue_bars`` bars), then
    ``model_config`` trained as ``train_config`` says and two of its pieces at ``temperature``; every piece and
    the gallery go to ``fugues``."""
    from bach2.train import train
    data_dir = train_config.data_dir
    audio = 'wav' if renderer_or_say_so() else ''
    print('stage 4 with the voice model shipped with Bach2.0 (trained on the built-in corpus): two fugues it never '
          'trained on, continued')
    shipped_pieces(fugues, audio)
    print('a whole fugue by the shipped voice model (bach2 fugue) on the subject of a fugue it never trained on')
    shipped_fugue(fugues, audio, fugue_bars)
    print('stage 3: train a small model of the journal (2 × 128 units)')
    train(model_config, train_config)
    print('stage 4: generate')
    sampler = None
    for seed in range(2):
        result = generate_a_fugue(GenerateConfig(checkpoint=str(checkpoint_path(train_config, model_config)),
                                                 data_dir=data_dir, out_dir=fugues, n_steps=256, seed=seed,
                                                 temperature=temperature, audio=audio), sampler=sampler)
        sampler = result['sampler']
        for path in result['files'].values():
            print(f'  {path}')
    refresh_gallery(fugues, data_dir)


def shipped_pieces(fugues, audio, n_pieces=2):
    """The journey's first pieces: the shipped voice model, the best model shipped (docs/motifs.md), continues the
    first two bars of the first ``n_pieces`` fugues it never trained on for 16 bars in their own voices, reusing
    their figures; skipped with a line that says why when it cannot."""
    from bach2.compose.voice_writing import continue_file, corpus_primer
    try:
        _, _, meta = load_voice_checkpoint(SHIPPED_VOICE_MODELS['voices'])
        primers = [name for name in meta.get('held_out', []) if '_fugue_' in name][:n_pieces]
        for k, primer in enumerate(primers):
            files, _ = continue_file(corpus_primer(primer), None, 256, sampling=Sampling(seed=k),
                                     output=Output(fugues, name=f'shipped_{k}_{primer}', audio=audio))
            for path in files.values():
                print(f'  {path}')
    except (CheckpointError, CorpusError, ValueError) as error:
        print(f'the shipped voice model is skipped: {error}')


def shipped_fugue(fugues, audio, bars=JOURNEY_FUGUE_BARS):
    """The journey's fugue: the shipped voice model writes a whole fugue of about ``bars`` bars, in its key and
    number of voices (at most 4), on the subject of the held-out fugue of 3 or more voices with the shortest
    subject; skipped with a line that says why when it cannot."""
    from bach2.compose.fugue_form import WholeForm, key_text, piece_subject, plan_fugue, write_whole_fugue
    from bach2.compose.harmonize import melody_key
    from bach2.compose.voice_writing import corpus_primer, read_voices
    from bach2.midi_to_time_series import midi_to_time_series
    try:
        _, _, meta = load_voice_checkpoint(SHIPPED_VOICE_MODELS['voices'])
        found = []
        for name in (name for name in meta.get('held_out', []) if '_fugue_' in name):
            piece = midi_to_time_series(corpus_primer(name))
            voices = read_voices(piece)
            if len(voices.names) >= 3:
                subject = piece_subject(voices)
                found.append((len(subject.pitches), name, piece, voices, subject))
        if not found:
            raise CorpusError('no held-out fugue of 3 or more voices in the corpus in voices')
        _, name, piece, voices, subject = min(found, key=lambda item: item[:2])
        key = melody_key(piece)
        plan = plan_fugue(subject, WholeForm(min(len(voices.names), 4), key=f'{key[0]} {key[1]}', bars=bars))
        files, report = write_whole_fugue(None, plan=plan, sampling=Sampling(seed=0),
                                          output=Output(fugues, name=f'shipped_fugue_{name}', audio=audio))
        print(f'  on the subject of {name}, {plan.voices} voices, {key_text(plan.key)}, {report["bars"]} bars: '
              f'entries intact {report["entries_intact"]:.0%}, ends on the tonic: {report["ends_on_tonic"]}')
        for path in files.values():
            print(f'  {path}')
    except (CheckpointError, CorpusError, ValueError) as error:
        print(f'the whole fugue is skipped: {error}')


def fugue_bars(text):
    """``--fugue-bars``: an integer, 8 … :data:`~bach2.compose.fugue_form.MAX_BARS`."""
    from bach2.compose.fugue_form import MAX_BARS
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 8 <= value <= MAX_BARS:
        raise argparse.ArgumentTypeError(f'must be a whole number of bars, 8 … {MAX_BARS}, not {text}')
    return value


def add_journey_command(commands):
    journey = command_parser(commands, 'journey', cmd_journey,
                             'the main job: prepare, the shipped model writes, a small model trains and writes')
    add_out_argument(journey)
    add_data_arguments(journey)
    add_matrix_arguments(journey)
    journey.add_argument('--checkpoints', default='checkpoints', help='default: %(default)s')
    journey.add_argument('--fugues', default='Synthesized_Fugues', help='default: %(default)s')
    journey.add_argument('--epochs', type=positive, default=3, help='default: %(default)s')
    journey.add_argument('--max-batches', type=count, default=150, help='per epoch (default: %(default)s)')
    journey.add_argument('--temperature', type=rate, default=0.7, help='of the samples (default: %(default)s)')
    journey.add_argument('--fugue-bars', type=fugue_bars, default=JOURNEY_FUGUE_BARS,
                         help="about this many bars of the shipped voice model's whole fugue, 8 or more "
                         '(default: %(default)s)')
