"""Print Markdown tables of the measurements in experiments' results.json files (for REPRODUCTION.md).

    python experiments/summarize.py experiments/results/*/results.json
"""
import argparse
import json
import pathlib


def fmt(value, digits=3):
    return '–' if value is None else f'{value:.{digits}f}' if isinstance(value, float) else str(value)


def summarize(path):
    results = json.loads(pathlib.Path(path).read_text())
    lines = [f'### {results["experiment"]} ({results["setting"]})', '',
             f'`{results["command"]}` — {results["machine"]}; {results["seconds"]:.0f} s in all.', '',
             '| run | N × layers | L | train pieces | train steps | data_size ours (journal\'s n − L) | epochs × batches '
             '| train s | final train cost | valid NLL/frame last (best) | baselines unigram / repeat |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, run in results['runs'].items():
        model, data, training = run['model_config'], run['data'], run['training']
        base = run.get('baselines_valid_nll_per_frame')
        lines.append(f'| {name} | {model["n_hidden"]} × {model["n_layers"]} | {model["sequence_length"]} '
                     f'| {data["train_pieces"]} | {data["train_steps"]} | {data["data_size"]} ({data["data_size_journal"]}) '
                     f'| {training["epochs"]} × {training["batches"] // max(training["epochs"], 1)} '
                     f'| {training["seconds"]:.0f} | {fmt(training["train_cost"][-1], 4)} '
                     f'| {fmt(training["final_valid_nll_per_frame"])} ({fmt(training["best_valid_nll_per_frame"])}) '
                     f'| {fmt(base["unigram"]) + " / " + fmt(base["repeat"]) if base else "–"} |')
    lines += ['', '| run | piece | rule | steps | notes | distinct pitches | onsets | longest single-pitch run '
              '| single repeated pitch | near silent |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for name, run in results['runs'].items():
        for piece in run['pieces']:
            lines.append(f'| {name} | {piece["file"]} | {piece["rule"]} | {piece["steps"]} | {piece["notes"]} '
                         f'| {piece["distinct_pitches"]} | {piece["onsets"]} | {piece["longest_single_pitch_run"]} '
                         f'| {"yes" if piece["single_repeated_pitch"] else "no"} | {"yes" if piece["near_silent"] else "no"} |')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('results', nargs='+', help='results.json files of run_experiment.py')
    for path in parser.parse_args().results:
        print(summarize(path))
