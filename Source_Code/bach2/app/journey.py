"""``bach2 journey``, the main job: every stage once on the built-in corpus, small and quick.

Stages 0–2 prepare the corpus (``bach2 prepare``); the shipped voice model continues two fugues it never
trained on (in their voices, reusing their figures) and the shipped pair of LSTM-NADEs writes a fugue
exposition on the subject of a held-out fugue; a small model of the journal (2 × 128 units) trains for a few
epochs (stage 3) and writes two pieces (stage 4); the gallery shows them all (stage 5).
"""
# Imports of heavy modules are inside the functions, for start-up speed (`bach2 --help` loads no PyTensor or JAX).
import numpy as np

from bach2.app.arguments import (add_data_arguments, add_matrix_arguments, add_out_argument, command_parser, count,
                                 positive, rate)
from bach2.app.data_commands import cmd_prepare
from bach2.app.output import refresh_gallery, renderer_or_say_so
from bach2.common import CheckpointError, CorpusError
from bach2.compose.fugue import Form, Subject, compose, prepared_subject
from bach2.compose.generate import GenerateConfig, generate_a_fugue
from bach2.compose.lines import Sampling
from bach2.models.checkpoints import (SHIPPED_MODELS, SHIPPED_VOICE_MODELS, checkpoint_path, load_rnn_checkpoint,
                                      load_samplers, load_voice_checkpoint)
from bach2.models.model_config import ModelConfig
from bach2.render.piece import Output


def cmd_journey(args):
    """The whole journey on the built-in corpus: prepare → two pieces and a fugue exposition of the shipped models
    → train a small model of the journal → its pieces → MIDI, PNG (and WAV) and the gallery."""
    model_config = ModelConfig(n_hidden=128, optimizer='adam', learning_rate=0.002)
    print('stages 0–2: prepare the training data')
    status = cmd_prepare(args, min_steps=model_config.sequence_length + 1)   # pieces that give a window
    from bach2.train import TrainConfig       # PyTensor: seconds to import
    train_config = TrainConfig(data_dir=args.out, out_dir=args.checkpoints, epochs=args.epochs,
                               max_batches=args.max_batches, max_valid_frames=4000)
    journey_after_prepare(model_config, train_config, args.fugues, args.temperature)
    return status


def journey_after_prepare(model_config, train_config, fugues, temperature):
    """The journey on the prepared ``train_config.data_dir``: the shipped models' pieces and exposition, then
    ``model_config`` trained as ``train_config`` says and two of its pieces at ``temperature``; every piece and
    the gallery go to ``fugues``."""
    from bach2.train import train
    data_dir = train_config.data_dir
    audio = 'wav' if renderer_or_say_so() else ''
    print('stage 4 with the voice model shipped with Bach2.0 (trained on the built-in corpus): two fugues it never '
          'trained on, continued')
    shipped_pieces(fugues, audio)
    print('a fugue exposition by the shipped models (bach2 fugue) on the subject of a fugue they never trained on')
    shipped_exposition(data_dir, fugues, audio)
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


def shipped_exposition(data_dir, fugues, audio):
    """The journey's fugue: the shipped pair of models writes an exposition on the subject of the first
    held-out fugue of 3 or 4 voices that ``data_dir`` holds; skipped with a line that says why otherwise."""
    try:
        samplers, geometry = load_samplers(SHIPPED_MODELS)
        _, _, meta = load_rnn_checkpoint(SHIPPED_MODELS['up'])
        name, found = prepared_subject(data_dir, meta.get('held_out', []), geometry.n_pitches)
        line, struck, subject_positions, voices, _ = found
        subject = Subject(np.where(line >= 0, line + geometry.lowest_pitch, -1), struck, subject_positions)
        files, report = compose(samplers, geometry, subject, Form(voices),
                                Sampling(temperature=meta.get('temperature', 1.0)),
                                Output(fugues, name=f'shipped_exposition_{name}', audio=audio))
        print(f'  on the subject of {name}, {voices} voices, {report["key"]}: entries intact '
              f'{report["entries_intact"]:.0%}')
        for path in files.values():
            print(f'  {path}')
    except (CheckpointError, CorpusError, ValueError) as error:
        print(f'the fugue exposition is skipped: {error}')


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
